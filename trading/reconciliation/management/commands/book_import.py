"""python manage.py book_import FILE --as-of YYYY-MM-DD [--json]

Our books (opening positions with lots and cost, opening cash, pending trades) from the CSV
template documented in `trading/reconciliation/book_import.py`, posted through the ledger.
Validated whole: a bad file is refused with every problem's line and field, nothing written.
The same file again does nothing."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from onboarding.exceptions import MeridianError
from trading.reconciliation.book_import import book_import


class Command(BaseCommand):
    help = "Import our books (positions, cash, pending trades per custody account) as of a date."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--as-of", dest="as_of", type=dt.date.fromisoformat, required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        bar = tqdm(total=0, unit="account", desc="post", disable=opts["json"], leave=False)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            outcome = book_import(data=path.read_bytes(), name=path.name, as_of=opts["as_of"], progress=progress)
        except MeridianError as exc:
            bar.close()
            if opts["json"]:
                self.stdout.write(json.dumps({"ok": False, "code": exc.code, "message": exc.message,
                                              "detail": exc.detail}, default=str))
                raise SystemExit(2) from None
            raise CommandError(exc.message) from None
        bar.close()
        out = {"ok": True, "duplicate": outcome.duplicate, "import": outcome.book_import.pk,
               "sha256": outcome.book_import.sha256, "as_of": str(outcome.book_import.as_of), **outcome.counts}
        if opts["json"]:
            self.stdout.write(json.dumps(out))
        elif outcome.duplicate:
            self.stdout.write(f"{path.name} was already imported (import {out['import']}); nothing done.")
        else:
            self.stdout.write(f"import {out['import']}: {out['custody_accounts']} custody accounts, {out['positions']}"
                              f" positions in {out['lots']} lots, {out['cash']} cash balances, {out['pending']} "
                              "pending trades")
