"""python manage.py custodian_statements --as-of DATE --custodian CODE --format FORMAT
    [--inject fee:25] [--inject price:ISIN:1.05] ... [--basis SETT|TRAD] [--account NUMBER]
    [--page-size N] [--output DIR] [--json]

Writes the statements the custodian would send for our custody accounts on DATE, from what
settled in the ledger (see trading.reconciliation.simulator). FORMAT is semt002, camt053, mt535,
mt940, mt950 or csv:<layout>. Named differences: fee, price, quantity, fx, missing (see
`simulator.inject`). Without --output the single file goes to stdout; with it every file is
written into DIR and its path printed (or, with --json, one JSON object with the files and the
injected differences)."""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trading.reconciliation import simulator


def _custodian(code: str):
    from django.db.models import Q

    from accounts.models import Custodian

    found = Custodian.objects.filter(Q(code=code) | Q(bic=code)).first()
    if found is None:
        raise CommandError(f"no custodian with code or BIC {code!r}")
    return found


class Command(BaseCommand):
    help = "Write a custodian's statements for a date from what settled (semt002, camt053, mt535, mt940, csv:LAYOUT)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", type=dt.date.fromisoformat, required=True)
        parser.add_argument("--custodian", required=True, help="custodian code (or BIC)")
        parser.add_argument("--format", dest="fmt", required=True)
        parser.add_argument("--inject", action="append", default=[],
                            help="fee[:AMOUNT[:CCY]] | price[:ISIN[:FACTOR]] | quantity[:ISIN[:DELTA]] | "
                                 "fx[:CCY[:FACTOR]] | missing[:ISIN|CCY] | bonus:ISIN:RATIO | "
                                 "settled:REFERENCE:AMOUNT; repeatable")
        parser.add_argument("--basis", default="SETT", choices=["SETT", "TRAD"])
        parser.add_argument("--account", default="", help="only this custody account")
        parser.add_argument("--page-size", dest="page_size", type=int, default=0)
        parser.add_argument("--output", default="", help="directory to write the files into")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        custodian = _custodian(opts["custodian"])
        try:
            snap = simulator.collect(custodian, opts["as_of"], basis=opts["basis"])
            if opts["account"]:
                snap.positions = [p for p in snap.positions if p.account == opts["account"]]
                snap.cash = [c for c in snap.cash if opts["account"] in (c.account, c.cash_account)]
            simulator.inject(snap, opts["inject"])
            files = simulator.statement_files(snap, opts["fmt"], page_size=opts["page_size"])
        except simulator.SimulatorError as exc:
            raise CommandError(exc.message) from None
        if not opts["output"]:
            if len(files) != 1:
                raise CommandError(f"{len(files)} files to write; give --output DIR")
            sys.stdout.buffer.write(files[0][1])
            sys.stdout.flush()
            return
        out = Path(opts["output"])
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in files:
            path = out / name
            path.write_bytes(data)
            written.append(str(path))
        if opts["json"]:
            self.stdout.write(json.dumps({"files": written, "injected": snap.injected}))
        else:
            for path in written:
                self.stdout.write(path)
