"""Load treaties.yaml, withholding.yaml and form_rules.yaml into TreatyRate, WithholdingRule and
FormRule rows (idempotent). A file with a bad row is rejected whole, naming the file and row.

    python manage.py load_tax_rules [--json]
"""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ...exceptions import TaxRuleFileInvalid
from ...services import tax_rules_load


class Command(BaseCommand):
    help = "Load the tax rule files into the database"

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        try:
            counts = tax_rules_load()
        except TaxRuleFileInvalid as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(counts) if options["json"] else
                          ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
