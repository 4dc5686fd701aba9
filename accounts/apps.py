from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import labels, panels, webhook_events

        labels.register()
        panels.register()
        webhook_events.register_events()
        from onboarding.demo import register_demo

        from . import demo

        register_demo(self.label, after_approval=demo.after_approval)
