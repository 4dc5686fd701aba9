from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance: screening and risk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import desk_panels, hooks, labels, queues, webhook_events

        hooks.register()
        labels.register()
        desk_panels.register()
        queues.register()
        webhook_events.register_events()
        from onboarding.demo import register_demo

        from . import demo

        register_demo(self.label, seed=demo.seed)
