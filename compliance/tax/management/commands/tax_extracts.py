"""CSV extracts of 1099 (W-9 holders) and 1042-S (W-8 holders) data for a year.

    python manage.py tax_extracts --year 2026 --reporting-fi MERCH --out-dir extracts/ [--book book.json]
"""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from ...reporting.extracts import FIELDS_1042S, FIELDS_1099, rows_1042s, rows_1099, to_csv
from ...services import tax_report_record
from ._reporting import add_source_arguments, load_source, write_exceptions


class Command(BaseCommand):
    help = "Write 1099 and 1042-S CSV extracts"

    def add_arguments(self, parser):
        add_source_arguments(parser)
        parser.add_argument("--out-dir", required=True)

    def handle(self, *args, **options):
        inst, _fi, accounts, source_problems = load_source(options)
        year = options["year"]
        out_dir = Path(options["out_dir"])
        out_dir.mkdir(parents=True, exist_ok=True)
        summary = {}
        for kind, (rows, problems), fields in (("1099", rows_1099(accounts, year), FIELDS_1099),
                                               ("1042s", rows_1042s(accounts, year), FIELDS_1042S)):
            content = to_csv(rows, fields)
            path = out_dir / f"{kind}_{year}_{inst.code}.csv"
            path.write_text(content, encoding="utf-8")
            problems = source_problems + problems
            write_exceptions(path.with_suffix(".exceptions.csv"), problems)
            tax_report_record(kind=kind, year=year, institution=inst, receiving_country="US",
                              message_ref_id=f"{kind}-{year}-{inst.code}-{len(content)}-{path.stat().st_mtime_ns}",
                              content=content.encode(), reported=len(rows),
                              exceptions=[p.as_dict() for p in problems], output_name=str(path))
            summary[kind] = {"file": str(path), "rows": len(rows), "exceptions": len(problems)}
        self.stdout.write(json.dumps(summary) if options["json"] else
                          ", ".join(f"{k}: {v['rows']} rows -> {v['file']}" for k, v in summary.items()))
