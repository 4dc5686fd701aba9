"""python manage.py recon_rules_load [--layout FILE ...] [--custodians FILE]

Layouts, tolerances, SLA rules and the custodian-to-format map from YAML into versioned rows
(idempotent). Without files: the shipped examples; with files: your own layouts or custodian map."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from onboarding.exceptions import MeridianError
from trading.reconciliation.services import rules_load


class Command(BaseCommand):
    help = "Load reconciliation layouts, custodian formats, tolerances and SLA rules (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--layout", action="append", default=[], help="a layout YAML file (repeatable)")
        parser.add_argument("--custodians", default=None, help="a custodian-to-format YAML file")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        layouts = [Path(p) for p in opts["layout"]]
        custodians = Path(opts["custodians"]) if opts["custodians"] else None
        for p in [*layouts, *([custodians] if custodians else [])]:
            if not p.exists():
                raise CommandError(f"{p}: no such file")
        try:
            if layouts or custodians:
                created = rules_load(layout_paths=layouts, custodians_path=custodians)
            else:
                created = rules_load()
        except MeridianError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(json.dumps({"created": created}) if opts["json"] else f"created: {created}")
