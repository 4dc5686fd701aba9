from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import queues, security  # noqa: F401 - security connects the sign-in failure receiver

        queues.register()
        from .labels import register_onboarding_states

        register_onboarding_states()
        from .webhook_events import register_onboarding_events

        register_onboarding_events()
