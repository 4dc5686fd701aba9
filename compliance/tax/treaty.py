"""Treaty table look-ups: plain Python over the rows from treaties.yaml (or the TreatyRate
rows, passed in as dicts)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from . import rulefiles


@dataclass(frozen=True)
class TreatyCheck:
    valid: bool
    rate: Decimal | None
    message: str
    row: dict[str, Any] | None = None


def treaty_row(country: str, income_type: str, on: dt.date, rows: list[dict[str, Any]] | None = None
               ) -> dict[str, Any] | None:
    """The row in force on `on` for (country, income type): the latest effective_from <= on."""
    rows = rows if rows is not None else rulefiles.treaties()["rows"]
    best = None
    for row in rows:
        if row["country"] != country.upper() or row["income_type"] != income_type:
            continue
        if row["effective_from"] > on or (row.get("effective_to") and row["effective_to"] < on):
            continue
        if best is None or row["effective_from"] > best["effective_from"]:
            best = row
    return best


def _norm_article(article: str) -> str:
    return "".join(str(article or "").upper().replace("ARTICLE", "").split())


def check_treaty_claim(claim: dict[str, Any], *, residence_country: str, on: dt.date,
                       rows: list[dict[str, Any]] | None = None) -> TreatyCheck:
    """A claim {country, article, rate, income_type} is valid when the claimant resides in the
    treaty country and country, article and rate match the row in force."""
    country = str(claim.get("country", "")).upper()
    income_type = claim.get("income_type", "")
    if not country or not income_type:
        return TreatyCheck(False, None, "a treaty claim needs a country and an income type")
    if country != (residence_country or "").upper():
        return TreatyCheck(False, None, f"treaty country {country} is not the country of residence {residence_country}")
    row = treaty_row(country, income_type, on, rows)
    if row is None:
        return TreatyCheck(False, None, f"no US treaty rate for {country} {income_type} in force on {on}")
    try:
        rate = Decimal(str(claim.get("rate")))
    except (InvalidOperation, ValueError):
        return TreatyCheck(False, None, f"treaty rate {claim.get('rate')!r} is not a number", row)
    if rate != row["rate"]:
        return TreatyCheck(False, None, f"claimed rate {rate}% differs from the treaty rate {row['rate']}%", row)
    if claim.get("article") and _norm_article(claim["article"]) != _norm_article(row["article"]):
        return TreatyCheck(False, None, f"article {claim['article']} does not match article {row['article']}", row)
    return TreatyCheck(True, row["rate"], f"{country} treaty article {row['article']}: {row['rate']}%", row)
