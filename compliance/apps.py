from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance: screening and risk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import hooks, queues

        hooks.register()
        queues.register()
