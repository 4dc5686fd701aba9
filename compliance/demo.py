"""Demo data for compliance: the risk model and a platform-wide screening threshold. The real
lists are loaded separately (they take a few seconds):

    python manage.py sanctions_import --source ofac ../shared/data/sanctions/ofac/*.csv
    python manage.py sanctions_import --source un ../shared/data/sanctions/un/consolidated.xml
"""
from __future__ import annotations

from decimal import Decimal

from .models import ScreeningThreshold
from .services import risk_models_load


def seed(context) -> None:
    risk_models_load()
    ScreeningThreshold.objects.get_or_create(
        firm=None, source="", defaults={"threshold": Decimal("0.800"), "high_score": Decimal("0.950"),
                                        "note": "platform default (bench_screening: recall 0.99, FPR 0.75%)"})
