from django.apps import AppConfig


class TaxConfig(AppConfig):
    name = "compliance.tax"
    label = "tax"
    verbose_name = "Tax documentation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import desk_panels, hooks, labels, panels, queues

        hooks.register()
        labels.register()
        desk_panels.register()
        queues.register()
        panels.register()
        from onboarding.demo import register_demo

        from . import demo

        register_demo(self.label, seed=demo.seed)
