from django.apps import AppConfig


class TaxConfig(AppConfig):
    name = "compliance.tax"
    label = "tax"
    verbose_name = "Tax documentation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import hooks, panels, queues

        hooks.register()
        queues.register()
        panels.register()
