"""python manage.py rebalance [--firm ID] [--model ID] [--account ID ...] [--sleeve ID] [--dry-run] [--json]"""
from __future__ import annotations

import datetime as dt
import json
import uuid

from django.core.management.base import BaseCommand, CommandError

from trading import services
from trading.rebalancing.scope import RebalanceScope


class Command(BaseCommand):
    help = "Propose trades and FX for the accounts in scope (all active accounts by default)."

    def add_arguments(self, parser):
        parser.add_argument("--firm", type=int, help="Only this firm's accounts")
        parser.add_argument("--model", type=int, help="Only accounts subscribed to this model (or following its code)")
        parser.add_argument("--account", type=int, action="append", help="Only this account (repeatable)")
        parser.add_argument("--sleeve", type=int, help="Only the account holding this sleeve")
        parser.add_argument("--trade-date", type=dt.date.fromisoformat, default=None)
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--key", default=None, help="Idempotency key of the run")

    def handle(self, *args, **opts):
        trade_date = opts["trade_date"] or dt.date.today()
        scope = RebalanceScope(trade_date=trade_date, firm=opts["firm"], model=opts["model"],
                               accounts=tuple(opts["account"]) if opts["account"] else None, sleeve=opts["sleeve"])
        key = opts["key"] or f"cli-{trade_date.isoformat()}-{uuid.uuid4().hex[:12]}"
        try:
            result = services.rebalance_run(scope=scope, key=key, dry_run=opts["dry_run"])
        except Exception as exc:  # report, do not dump a traceback at the operator
            raise CommandError(f"rebalance failed: {exc}") from exc
        stats = {**result.as_dict(), "key": key, "scope": scope.as_json()}
        if opts["json"]:
            self.stdout.write(json.dumps(stats, sort_keys=True))
        else:
            for k in sorted(stats):
                self.stdout.write(f"{k}: {stats[k]}")
