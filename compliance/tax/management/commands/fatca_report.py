"""FATCA XML v2.0 report of US reportable accounts (NOT schema-validated: the IRS FATCA XSD is
not available here; see compliance/tax/reporting/fatca.py).

    python manage.py fatca_report --year 2026 --reporting-fi MERCH --out fatca.xml [--book book.json]
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone

from ...reporting.fatca import build_fatca_message
from ...services import tax_report_record
from ._reporting import add_source_arguments, load_source, write_exceptions


class Command(BaseCommand):
    help = "Produce a FATCA XML v2.0 report and an exceptions report"

    def add_arguments(self, parser):
        add_source_arguments(parser)
        parser.add_argument("--out", required=True)
        parser.add_argument("--test-data", action="store_true")

    def handle(self, *args, **options):
        inst, fi, accounts, source_problems = load_source(options)
        message_ref_id = f"{fi.giin or fi.code}-{options['year']}-{uuid.uuid4().hex[:12].upper()}"
        result = build_fatca_message(fi=fi, accounts=accounts, year=options["year"], message_ref_id=message_ref_id,
                                     timestamp=timezone.now(), test=options["test_data"])
        result.exceptions[:0] = source_problems
        out = Path(options["out"])
        out.write_bytes(result.xml)
        exceptions_path = out.with_suffix(".exceptions.csv")
        write_exceptions(exceptions_path, result.exceptions)
        tax_report_record(kind="fatca", year=options["year"], institution=inst, receiving_country="US",
                          message_ref_id=message_ref_id, content=result.xml, reported=len(result.reported),
                          exceptions=[e.as_dict() for e in result.exceptions], output_name=str(out))
        summary = {"out": str(out), "exceptions_file": str(exceptions_path), "reported": len(result.reported),
                   "not_reported": len({e.account_number for e in result.errors}), "validated": False,
                   "note": "FATCA XML v2.0 structure per IRS Pub. 5124; IRS XSD not available to validate"}
        self.stdout.write(json.dumps(summary) if options["json"] else
                          f"FATCA: {summary['reported']} reported, {summary['not_reported']} not reported; wrote {out}")
