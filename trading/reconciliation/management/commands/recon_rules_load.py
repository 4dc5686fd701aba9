"""python manage.py recon_rules_load: layouts, tolerances and SLA rules into versioned rows."""
import json

from django.core.management.base import BaseCommand

from trading.reconciliation.services import rules_load


class Command(BaseCommand):
    help = "Load the reconciliation layouts, tolerances and SLA rules (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        created = rules_load()
        self.stdout.write(json.dumps({"created": created}) if opts["json"] else f"created: {created}")
