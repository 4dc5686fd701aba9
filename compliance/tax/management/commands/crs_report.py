"""CRS XML v2.0 report for one reporting FI, year and receiving jurisdiction.

    python manage.py crs_report --year 2026 --reporting-fi MERCH --receiving GB --out crs.xml [--book book.json]

Writes FILE.xml (validated against the official schema in ../shared/data/crs-xsd before it is
written) and FILE.exceptions.csv listing every account that could not be reported (and warnings).
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...reporting.crs import build_crs_message, validation_errors
from ...services import tax_report_record
from ._reporting import add_source_arguments, load_source, write_exceptions


class Command(BaseCommand):
    help = "Produce a CRS XML v2.0 report and an exceptions report"

    def add_arguments(self, parser):
        add_source_arguments(parser)
        parser.add_argument("--receiving", required=True, help="ISO country receiving the report")
        parser.add_argument("--out", required=True)
        parser.add_argument("--test-data", action="store_true", help="mark documents as test data (OECD11)")
        parser.add_argument("--xsd-dir", default=str(Path(settings.SHARED_DIR) / "data" / "crs-xsd"))
        parser.add_argument("--no-validate", action="store_true")

    def handle(self, *args, **options):
        inst, fi, accounts, source_problems = load_source(options)
        receiving = options["receiving"].upper()
        if receiving == "US":
            raise CommandError("the US takes no part in CRS: use fatca_report")
        message_ref_id = f"{fi.country}{options['year']}{fi.code}-{receiving}-{uuid.uuid4().hex[:12].upper()}"
        result = build_crs_message(fi=fi, accounts=accounts, year=options["year"], receiving_country=receiving,
                                   message_ref_id=message_ref_id, timestamp=timezone.now(),
                                   test=options["test_data"])
        result.exceptions[:0] = source_problems
        if not options["no_validate"]:
            xsd_dir = Path(options["xsd_dir"])
            if not (xsd_dir / "CrsXML_v2.0.xsd").exists():
                raise CommandError(f"CRS schema not found in {xsd_dir} (use --xsd-dir or --no-validate)")
            errors = validation_errors(result.xml, xsd_dir)
            if errors:
                raise CommandError("the report does not validate: " + "; ".join(errors[:5]))
        out = Path(options["out"])
        out.write_bytes(result.xml)
        exceptions_path = out.with_suffix(".exceptions.csv")
        write_exceptions(exceptions_path, result.exceptions)
        tax_report_record(kind="crs", year=options["year"], institution=inst, receiving_country=receiving,
                          message_ref_id=message_ref_id, content=result.xml, reported=len(result.reported),
                          exceptions=[e.as_dict() for e in result.exceptions], output_name=str(out))
        summary = {"out": str(out), "exceptions_file": str(exceptions_path), "message_ref_id": message_ref_id,
                   "accounts_in_book": len(accounts), "reported": len(result.reported),
                   "not_reported": len({e.account_number for e in result.errors}),
                   "warnings": len(result.exceptions) - len(result.errors), "validated": not options["no_validate"]}
        self.stdout.write(json.dumps(summary) if options["json"] else
                          f"CRS {receiving}: {summary['reported']} reported, {summary['not_reported']} not reported "
                          f"(see {exceptions_path}); wrote {out}")
