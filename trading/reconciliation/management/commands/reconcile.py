"""python manage.py reconcile --custodian CODE --file PATH [--format ...] [--as-of YYYY-MM-DD] [--json]"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from trading.reconciliation.exceptions import FileRefused, UnknownFormat
from trading.reconciliation.services import reconcile_file


class Command(BaseCommand):
    help = "Reconcile one custodian file against our books."

    def add_arguments(self, parser):
        parser.add_argument("--custodian", required=True)
        parser.add_argument("--file", required=True)
        parser.add_argument("--format", dest="fmt", help="semt002|camt053|mt535|mt940|mt950|csv:LAYOUT")
        parser.add_argument("--as-of", dest="as_of", type=dt.date.fromisoformat)
        parser.add_argument("--engine", choices=["auto", "sql", "numpy"], default="auto")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        path = Path(opts["file"])
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc="receive", disable=opts["json"],
                   leave=False)

        def stage(name):
            bar.set_description(name)

        try:
            outcome = reconcile_file(custodian_code=opts["custodian"], path=path, fmt=opts["fmt"], as_of=opts["as_of"],
                                     progress=stage, on_bytes=bar.update, engine=opts["engine"])
        except (FileRefused, UnknownFormat) as exc:
            bar.close()
            if opts["json"]:
                self.stdout.write(json.dumps({"ok": False, "code": exc.code, "message": exc.message,
                                              "detail": exc.detail}, default=str))
                raise SystemExit(2)
            raise CommandError(exc.message) from None
        bar.close()
        run = outcome.run
        out = {"ok": True, "duplicate": outcome.duplicate, "run": run.pk if run else None,
               "custodian": opts["custodian"], "as_of": str(run.as_of) if run else None,
               "engine": run.engine if run else None, **(run.stats if run else {})}
        if opts["json"]:
            self.stdout.write(json.dumps(out, default=str))
        else:
            if outcome.duplicate:
                self.stdout.write(f"{path.name} was already received (run {out['run']}); nothing done.")
            else:
                self.stdout.write(f"run {out['run']}: {out.get('positions')} lines, match rate {out.get('match_rate')},"
                                  f" {out.get('breaks')} breaks, {out.get('explained')} explained")
