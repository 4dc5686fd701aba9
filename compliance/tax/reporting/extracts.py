"""CSV extracts of 1099 (US persons with a W-9) and 1042-S (foreign persons with a W-8) data,
from the same book dataclasses. One row per account, form and income type."""
from __future__ import annotations

import io
from collections import defaultdict
from decimal import Decimal

from onboarding import csvsafe

from .. import rulefiles
from .book import Account, ExceptionRow, Organisation, Person
from .crs import money
from .fatca import _us_tin, is_us_reportable

FIELDS_1099 = ["tax_year", "form", "box", "box_label", "account_number", "recipient_name", "recipient_tin",
               "recipient_address", "amount", "currency", "federal_tax_withheld", "withholding_box"]
FIELDS_1042S = ["tax_year", "account_number", "recipient_name", "recipient_country", "recipient_foreign_tin",
                "recipient_us_tin", "recipient_form", "income_code", "income_label", "gross_income", "currency",
                "withholding_rate", "tax_withheld", "chapter3_exemption_code"]


def _address_line(holder: Person | Organisation) -> str:
    a = holder.address
    return ", ".join(x for x in (a.street, a.city, a.post_code, a.country) if x) or a.free


def rows_1099(accounts: list[Account], year: int) -> tuple[list[dict[str, str]], list[ExceptionRow]]:
    codes = rulefiles.reporting_codes()["form_1099"]
    rows, problems = [], []
    for account in sorted(accounts, key=lambda a: a.number):
        if not (account.us_form == "W9" or (not account.us_form and is_us_reportable(account) == "specified_us_person")):
            continue
        tin = _us_tin(account.holder)
        if not tin:
            problems.append(ExceptionRow(account.number, account.holder_name, "us_tin_missing",
                                         "W-9 holder without a TIN: 1099 cannot be filed (backup withholding applies)"))
        totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for p in account.payments:
            totals[(p.type, p.currency)][0] += p.amount
            totals[(p.type, p.currency)][1] += p.withheld
        for (ptype, ccy), (amount, withheld) in sorted(totals.items()):
            box = codes["by_payment_type"].get(ptype)
            if box is None:
                problems.append(ExceptionRow(account.number, account.holder_name, "payment_type_unknown",
                                             f"no 1099 box for payment type {ptype}"))
                continue
            if ccy != "USD":
                problems.append(ExceptionRow(account.number, account.holder_name, "needs_usd",
                                             f"{box['form']} amounts must be in USD; {ccy} {money(amount)} needs conversion",
                                             "warning"))
            rows.append({
                "tax_year": str(year), "form": box["form"], "box": box["box"], "box_label": box["label"],
                "account_number": account.number, "recipient_name": account.holder_name, "recipient_tin": tin,
                "recipient_address": _address_line(account.holder), "amount": money(amount), "currency": ccy,
                "federal_tax_withheld": money(withheld), "withholding_box": codes["withholding_box"][box["form"]],
            })
    return rows, problems


def rows_1042s(accounts: list[Account], year: int) -> tuple[list[dict[str, str]], list[ExceptionRow]]:
    codes = rulefiles.reporting_codes()["form_1042s"]
    rows, problems = [], []
    for account in sorted(accounts, key=lambda a: a.number):
        if account.us_person or account.us_form == "W9":
            continue
        holder = account.holder
        residence = holder.residences[0] if holder.residences else None
        totals: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for p in account.payments:
            if p.type in codes["not_reportable"]:
                continue
            rate = "" if p.withholding_rate is None else str(p.withholding_rate)
            totals[(p.type, p.currency, rate)][0] += p.amount
            totals[(p.type, p.currency, rate)][1] += p.withheld
        for (ptype, ccy, rate), (amount, withheld) in sorted(totals.items()):
            income = codes["income_codes"].get(ptype)
            if income is None:
                problems.append(ExceptionRow(account.number, account.holder_name, "payment_type_unknown",
                                             f"no 1042-S income code for payment type {ptype}"))
                continue
            if rate == "":
                problems.append(ExceptionRow(account.number, account.holder_name, "rate_missing",
                                             f"{ptype} payment without a withholding rate", "warning"))
            exemption = codes["chapter3_exemption_codes"]["none"]
            if rate and Decimal(rate) < Decimal(30):
                exemption = codes["chapter3_exemption_codes"]["treaty"]
            rows.append({
                "tax_year": str(year), "account_number": account.number, "recipient_name": account.holder_name,
                "recipient_country": residence.country if residence else "",
                "recipient_foreign_tin": residence.tin if residence else "",
                "recipient_us_tin": _us_tin(holder), "recipient_form": account.us_form or "undocumented",
                "income_code": income["code"], "income_label": income["label"], "gross_income": money(amount),
                "currency": ccy, "withholding_rate": rate, "tax_withheld": money(withheld),
                "chapter3_exemption_code": exemption,
            })
    return rows, problems


def to_csv(rows: list[dict[str, str]], fields: list[str]) -> str:
    out = io.StringIO()
    writer = csvsafe.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
