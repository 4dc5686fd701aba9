"""Shared option handling for the tax report commands."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import CommandError

from onboarding import csvsafe

from ...exceptions import ReportError
from ...reporting.book import ExceptionRow, load_book
from ...reporting.source import (
    book_from_figures,
    fi_from_institution,
    figures_from_accounts_app,
    institution,
    load_figures,
)


def add_source_arguments(parser) -> None:
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--reporting-fi", required=True, help="ReportingInstitution code or id")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--book", help="JSON book file: holders, balances and payments (see tests/compliance/tax/data)")
    source.add_argument("--figures", help="JSON balances/payments per account and party id; holders read from parties")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def load_source(options):
    """(institution, its ReportingFI, the book, exceptions found while reading the ledger)."""
    if not 2014 <= options["year"] <= dt.date.today().year:
        raise CommandError(f"--year {options['year']} is out of range")
    problems: list[ExceptionRow] = []
    try:
        inst = institution(options["reporting_fi"])
        if options.get("book"):
            accounts = load_book(Path(options["book"]))
        elif options.get("figures"):
            accounts = book_from_figures(load_figures(Path(options["figures"])))
        else:
            figures, problems = figures_from_accounts_app(year=options["year"], institution=inst)
            accounts = book_from_figures(figures)
    except ReportError as exc:
        raise CommandError(exc.message) from exc
    return inst, fi_from_institution(inst), accounts, problems


def write_exceptions(path: Path, rows: list[ExceptionRow]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csvsafe.DictWriter(fh, fieldnames=["account_number", "holder", "severity", "code", "message"],
                                lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_dict())
