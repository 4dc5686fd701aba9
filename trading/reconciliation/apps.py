from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "trading.reconciliation"
    label = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        from . import panels, queues, webhook_events

        queues.register()
        panels.register()
        webhook_events.register_events()
        from onboarding.demo import register_demo

        from . import demo

        register_demo(self.label, after_approval=demo.after_approval)
