"""Run the daily tax form expiry sweep now (the Celery task `tax.expiry_sweep` does the same).

    python manage.py tax_expiry_sweep [--today YYYY-MM-DD] [--json]
"""
from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from ...services import tax_forms_expiry_sweep


class Command(BaseCommand):
    help = "Expire tax forms past validity and flag those expiring within 90 days"

    def add_arguments(self, parser):
        parser.add_argument("--today")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        try:
            today = dt.date.fromisoformat(options["today"]) if options["today"] else None
        except ValueError as exc:
            raise CommandError(f"--today: {exc}") from exc
        result = tax_forms_expiry_sweep(today=today)
        summary = {k: len(v) for k, v in result.items()}
        self.stdout.write(json.dumps(summary) if options["json"] else
                          f"expired {summary['expired']}, expiring soon {summary['expiring']}, "
                          f"on default withholding {summary['default_withholding_parties']}")
