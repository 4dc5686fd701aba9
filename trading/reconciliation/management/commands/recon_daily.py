"""python manage.py recon_daily --as-of YYYY-MM-DD: the daily run over every custodian's inbox."""
from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand

from trading.reconciliation.models import DailyRun
from trading.reconciliation.tasks import daily_run


class Command(BaseCommand):
    help = "Reconcile every custodian's files for a date (Celery chord) and render the report."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", type=dt.date.fromisoformat, default=dt.date.today())
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        result = daily_run.delay(opts["as_of"].isoformat())
        run_id = result.get() if result.ready() else result.id
        run = DailyRun.objects.filter(pk=run_id).first() if isinstance(run_id, int) else None
        out = {"daily_run": run_id, "status": run.status if run else "queued", "stats": run.stats if run else {}}
        self.stdout.write(json.dumps(out, default=str) if opts["json"] else str(out))
