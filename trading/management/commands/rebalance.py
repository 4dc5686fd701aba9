"""python manage.py rebalance [--model ID | --account ID | --firm ID] [--dry-run] [--json]"""
from __future__ import annotations

import datetime as dt
import json
import uuid

from django.core.management.base import BaseCommand, CommandError

from trading import selectors, services


class Command(BaseCommand):
    help = "Propose trades and FX for the accounts in scope (all active accounts by default)."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--model", type=int)
        scope.add_argument("--account", type=int)
        scope.add_argument("--firm", type=int)
        parser.add_argument("--trade-date", type=dt.date.fromisoformat, default=None)
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--key", default=None, help="Idempotency key of the run")

    def handle(self, *args, **opts):
        where, params = selectors.rebalance_scope(model_id=opts["model"], account_id=opts["account"],
                                                  firm_id=opts["firm"])
        trade_date = opts["trade_date"] or dt.date.today()
        key = opts["key"] or f"cli-{trade_date.isoformat()}-{uuid.uuid4().hex[:12]}"
        try:
            stats = services.rebalance_run(where=where, params=params, trade_date=trade_date, key=key,
                                           dry_run=opts["dry_run"])
        except Exception as exc:  # report, do not dump a traceback at the operator
            raise CommandError(f"rebalance failed: {exc}") from exc
        stats.pop("_result", None)
        stats.pop("_book", None)
        stats["key"] = key
        if opts["json"]:
            self.stdout.write(json.dumps(stats, sort_keys=True))
        else:
            for k in sorted(stats):
                self.stdout.write(f"{k}: {stats[k]}")
