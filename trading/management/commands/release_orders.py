"""python manage.py release_orders [--now ISO] [--market MIC] [--account ID] [--run ID] [--firm ID] [--json]"""
from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from onboarding.exceptions import MeridianError
from onboarding.models import Firm
from trading import services


def _instant(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    if timezone.is_naive(moment):
        raise ValueError("give a time zone, e.g. 2026-11-24T01:00:00+00:00")
    return moment


class Command(BaseCommand):
    help = "Release approved orders whose market is open now, in blocks per broker, listing and side."

    def add_arguments(self, parser):
        parser.add_argument("--now", type=_instant, default=None, help="The wave's instant (default: now)")
        parser.add_argument("--market", default=None, help="Only this MIC")
        parser.add_argument("--account", type=int, default=None)
        parser.add_argument("--run", type=int, default=None)
        parser.add_argument("--firm", type=int, default=None)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        firm = Firm.objects.filter(pk=opts["firm"]).first() if opts["firm"] else None
        if opts["firm"] and firm is None:
            raise CommandError(f"no firm {opts['firm']}")
        try:
            report = services.orders_release(now=opts["now"], firm=firm, market=opts["market"],
                                             account_id=opts["account"], run_id=opts["run"])
        except MeridianError as exc:
            raise CommandError(f"release refused, nothing released: {exc.message}") from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_dict(), default=str, sort_keys=True))
            return
        self.stdout.write(f"{report.released} order(s) released in {len(report.blocks)} block(s) at {report.now.isoformat()}")
        for block in report.blocks:
            self.stdout.write(f"  {block.reference}: {block.side} {block.quantity} {block.listing.ticker} "
                              f"via {block.broker.code}")
        for skipped in report.skipped_markets:
            self.stdout.write(f"  skipped {skipped['market']} ({skipped['orders']} order(s)): {skipped['reason']}")
        for held in report.held:
            self.stdout.write(f"  held {held['reference']}: {held['reason']}")
