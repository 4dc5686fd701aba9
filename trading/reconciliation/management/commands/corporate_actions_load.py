"""python manage.py corporate_actions_load FILE.csv

Corporate-action events (announced, confirmed or booked) from a CSV with the header
`isin,effective_date,ratio,status,description,reference` (ratio = new quantity per old: 1.1 for a
bonus issue of 1 new for 10 held, 2 for a 2:1 split). The file is validated whole and refused
naming its line and field; an ISIN not in our instrument master is reported, not invented. An event
already loaded (same ISIN, date and reference) is updated (its status moves on)."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from onboarding.audit import record_event
from trading.reconciliation.models import BookCorporateAction, CorporateActionStatus

HEADER = ["isin", "effective_date", "ratio", "status", "description", "reference"]


def load_events(text: str, *, source: str) -> dict[str, int]:
    from trading.reference.models import Instrument

    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        raise CommandError(f"line 1: header must be {','.join(HEADER)}")
    parsed, errors = [], []
    ids = dict(Instrument.objects.values_list("isin", "pk"))
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(HEADER):
            errors.append(f"line {number}: {len(row)} fields, expected {len(HEADER)}")
            continue
        isin, day, ratio, status, description, reference = (c.strip() for c in row)
        if isin not in ids:
            errors.append(f"line {number}, field isin: {isin!r} is not in the instrument master")
        try:
            day_value = dt.date.fromisoformat(day)
        except ValueError:
            errors.append(f"line {number}, field effective_date: {day!r} is not a date (YYYY-MM-DD)")
            day_value = None
        try:
            ratio_value = Decimal(ratio)
            if ratio_value <= 0:
                raise InvalidOperation
        except InvalidOperation:
            errors.append(f"line {number}, field ratio: {ratio!r} is not a positive number")
            ratio_value = None
        if status not in CorporateActionStatus.values:
            errors.append(f"line {number}, field status: {status!r} is not one of {', '.join(CorporateActionStatus.values)}")
        parsed.append((ids.get(isin), day_value, ratio_value, status, description, reference))
    if errors:
        raise CommandError("nothing loaded:\n" + "\n".join(errors))
    created = updated = 0
    with transaction.atomic():
        for iid, day, ratio, status, description, reference in parsed:
            obj, was_created = BookCorporateAction.objects.update_or_create(
                instrument_id=iid, effective_date=day, reference=reference,
                defaults={"ratio": ratio, "status": status, "description": description, "source": source[:200]})
            record_event(subject=obj, event_type="recon.corporate_action_loaded",
                         detail={"status": status, "ratio": str(ratio), "source": source})
            created += int(was_created)
            updated += int(not was_created)
    return {"created": created, "updated": updated}


class Command(BaseCommand):
    help = "Load corporate-action events (announced/confirmed/booked) from a CSV."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **opts):
        with open(opts["file"], encoding="utf-8-sig") as f:
            result = load_events(f.read(), source=opts["file"])
        self.stdout.write(f"corporate actions: {result['created']} created, {result['updated']} updated")
