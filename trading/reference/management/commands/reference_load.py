"""Load the instrument and market master's rule files (markets, settlement cycles, eligibility)."""
import json

from django.core.management.base import BaseCommand, CommandError

from trading.reference.exceptions import ReferenceDataError
from trading.reference.services import reference_load_all


class Command(BaseCommand):
    help = "Load markets.yaml, settlement_cycles.yaml and eligibility.yaml; with --demo also demo instruments"

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="Also create demo issuers, instruments, listings, prices")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            if opts["demo"]:
                from trading.reference.demo import reference_demo

                demo = reference_demo()
                result = {"instruments": len(demo.instruments), "listings": len(demo.listings)}
                result.update(reference_load_all())
            else:
                result = reference_load_all()
        except ReferenceDataError as exc:
            if opts["json"]:
                self.stdout.write(json.dumps({"ok": False, "code": exc.code, "message": exc.message, "detail": exc.detail}))
                raise SystemExit(1) from exc
            raise CommandError(exc.message) from exc
        if opts["json"]:
            self.stdout.write(json.dumps({"ok": True, **result}))
        else:
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in result.items()))
