"""Benchmark the tax engines on a synthetic book; prints one JSON object.

    python manage.py tax_benchmark [--accounts 20000] [--xsd-dir DIR]

Measures: form determination per party, W-8 validation per form, withholding decisions, and
building plus schema-validating a CRS message. No database writes.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from onboarding.machine import machine

from ...determination import PartyFacts, PersonRef, determine_forms
from ...indicia import PartyContext
from ...reporting.book import Account, Organisation, Payment, Person, PostalAddress, ReportingFI, Residence
from ...reporting.crs import build_crs_message, validation_errors
from ...validation import validate_form
from ...withholding import PayeeStatus, withholding_rate

COUNTRIES = ["GB", "DE", "FR", "SG", "HK", "CH", "KY", "IN", "CN", "CA"]
TINS = {"GB": "1955839661", "DE": "36574261809", "FR": "3023217600053", "IN": "ACUPA7085R", "CA": "046454286",
        "SG": "S1234567D", "HK": "A123456(7)", "CN": "11010519491231002X", "CH": "7569217076985"}


def _book(n: int) -> list[Account]:
    accounts = []
    for i in range(n):
        cc = COUNTRIES[i % len(COUNTRIES)]
        res = (Residence(cc, TINS.get(cc, ""), "" if cc in TINS else "A"),)
        addr = PostalAddress(country=cc, city="City", street=f"{i} Street")
        pays = (Payment("CRS501", Decimal("123.45"), "USD"), Payment("CRS502", Decimal("10.01"), "USD"))
        if i % 4 == 3:
            cp = Person("Ann", f"Lee{i}", res, addr, birth_date=dt.date(1970, 1, 1), role="CRS801")
            holder = Organisation(f"Holding {i} Ltd", (Residence("KY", "", "A"),),
                                  PostalAddress(country="KY", city="George Town"), "passive_nfe",
                                  controlling_persons=(cp,))
        else:
            holder = Person("Given", f"Family{i}", res, addr, birth_date=dt.date(1980, 1, 1))
        accounts.append(Account(f"ACC{i:08d}", holder, Decimal("1000.00") + i, "USD", pays))
    return accounts


class Command(BaseCommand):
    help = "Benchmark the tax engines and the CRS builder"

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=20000)
        parser.add_argument("--xsd-dir", default=str(Path(settings.SHARED_DIR) / "data" / "crs-xsd"))

    def handle(self, *args, **options):
        n = options["accounts"]
        result: dict = {"accounts": n}

        facts = [PartyFacts(ref=f"party:{i}", name=f"P{i}", kind="entity" if i % 4 == 3 else "individual",
                            client_type="trust" if i % 4 == 3 else "individual", us_person=i % 10 == 0,
                            booking_centre="CH", booking_centre_crs=True, passive_nfe=i % 4 == 3,
                            controlling_persons=(PersonRef(f"party:c{i}", "CP", "settlor"),)) for i in range(n)]
        t = time.perf_counter()
        forms = sum(len(determine_forms(f)) for f in facts)
        result["determination_s"] = round(time.perf_counter() - t, 3)
        result["forms_required"] = forms

        ctx = PartyContext(ref="party:1", kind="individual", name="X", residence_country="GB", address_countries=("GB",))
        data = {"name": "X", "citizenship": "GB", "date_of_birth": "1980-01-01", "foreign_tin": "1955839661",
                "permanent_address": {"line1": "1 High St", "city": "London", "country": "GB"},
                "treaty_claim": {"country": "GB", "article": "10(2)(b)", "rate": "15", "income_type": "dividends"},
                "signer_name": "X", "certified": True}
        m = min(n, 5000)
        t = time.perf_counter()
        ok = sum(validate_form("W8BEN", data, signed_on=dt.date(2026, 1, 5), party=ctx, today=dt.date(2026, 6, 1)).ok
                 for _ in range(m))
        elapsed = time.perf_counter() - t
        result["w8ben_validations"] = m
        result["w8ben_validation_us_each"] = round(elapsed / m * 1e6, 1)
        result["w8ben_valid"] = ok

        statuses = [PayeeStatus(us_person=i % 10 == 0, documented=i % 7 != 0, certified_tin=i % 3 == 0,
                                treaty_country="GB", treaty_income_types=("dividends",)) for i in range(n)]
        t = time.perf_counter()
        total = sum(withholding_rate(s, income_type="dividends", on=dt.date(2026, 6, 1)).rate for s in statuses)
        result["withholding_s"] = round(time.perf_counter() - t, 3)
        result["withholding_mean_rate"] = str((total / n).quantize(Decimal("0.01")))

        book = _book(n)
        fi = ReportingFI("BENCH", "Bench FI", "CH", "Zurich", tin="CHE-116.281.710")
        t = time.perf_counter()
        report = build_crs_message(fi=fi, accounts=book, year=2026, receiving_country="GB",
                                   message_ref_id="CH2026BENCH-GB-1", timestamp=dt.datetime(2027, 1, 1))
        result["crs_build_s"] = round(time.perf_counter() - t, 3)
        result["crs_reported"] = len(report.reported)
        result["crs_exceptions"] = len(report.errors)
        result["crs_xml_bytes"] = len(report.xml)
        xsd = Path(options["xsd_dir"])
        if (xsd / "CrsXML_v2.0.xsd").exists():
            t = time.perf_counter()
            errors = validation_errors(report.xml, xsd)
            result["crs_validate_s"] = round(time.perf_counter() - t, 3)
            result["crs_schema_errors"] = len(errors)
        result.update(machine())  # load average beside the figures
        self.stdout.write(json.dumps(result))
