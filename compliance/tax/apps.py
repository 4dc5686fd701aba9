from django.apps import AppConfig


class TaxConfig(AppConfig):
    name = "compliance.tax"
    label = "tax"
    default_auto_field = "django.db.models.BigAutoField"
