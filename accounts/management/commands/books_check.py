"""Check derived books against the ledger (lots vs positions, Position and CashBalance tables).
Prints JSON with --json; exits 1 when anything disagrees."""
import json

from django.core.management.base import BaseCommand

from accounts.selectors import books_discrepancies


class Command(BaseCommand):
    help = "Check tax lots and the derived position and cash tables against the ledger"

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, action="append", help="Limit to these account ids")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        problems = books_discrepancies(account_ids=opts.get("account"))
        if opts["json"]:
            self.stdout.write(json.dumps({"ok": not problems, "discrepancies": problems}))
        else:
            for p in problems:
                self.stdout.write(str(p))
            self.stdout.write(f"{len(problems)} discrepancies")
        if problems:
            raise SystemExit(1)
