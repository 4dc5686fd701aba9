"""The reportable book as plain dataclasses: what the CRS / FATCA builders and the 1099 / 1042-S
extracts read. A selector (or a JSON file) fills them; nothing here touches the ORM."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..exceptions import ReportError


@dataclass(frozen=True)
class PostalAddress:
    country: str
    city: str = ""
    street: str = ""
    post_code: str = ""
    free: str = ""


@dataclass(frozen=True)
class Residence:
    country: str
    tin: str = ""
    no_tin_reason: str = ""  # CRS reason A / B / C
    explanation: str = ""


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    residences: tuple[Residence, ...]
    address: PostalAddress
    birth_date: dt.date | None = None
    birth_city: str = ""
    birth_country: str = ""
    nationalities: tuple[str, ...] = ()
    us_tin: str = ""
    role: str = ""  # CtrlgPersonType CRS801-813 when a controlling person

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class Organisation:
    name: str
    residences: tuple[Residence, ...]
    address: PostalAddress
    crs_classification: str = "active_nfe"  # active_nfe | passive_nfe | financial_institution | investment_entity
    chapter4_status: str = ""
    giin: str = ""
    us_tin: str = ""
    controlling_persons: tuple[Person, ...] = ()
    substantial_us_owners: tuple[Person, ...] = ()


@dataclass(frozen=True)
class Payment:
    type: str  # CRS501 dividends | CRS502 interest | CRS503 gross proceeds | CRS504 other
    amount: Decimal
    currency: str
    withheld: Decimal = Decimal(0)
    withholding_rate: Decimal | None = None
    chapter3_exemption: str = ""


@dataclass(frozen=True)
class Account:
    number: str
    holder: Person | Organisation
    balance: Decimal  # at year end (or at closure), in the account currency
    currency: str
    payments: tuple[Payment, ...] = ()
    closed: bool = False
    dormant: bool = False
    undocumented: bool = False
    us_person: bool = False  # holder documented as a US person (W-9)
    us_form: str = ""  # W9 | W8BEN | W8BENE | ...

    @property
    def holder_name(self) -> str:
        return self.holder.name


@dataclass(frozen=True)
class ReportingFI:
    code: str
    name: str
    country: str
    city: str
    tin: str = ""
    giin: str = ""
    street: str = ""
    post_code: str = ""


# --- JSON book files ---------------------------------------------------------------------------


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, where: str, message: str) -> ReportError:
        return ReportError(f"{self.name}: {where}: {message}", detail={"file": self.name, "where": where})

    def text(self, obj: dict, key: str, where: str, *, required: bool = False) -> str:
        value = obj.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", "must be a string")
        if required and not value.strip():
            raise self.fail(f"{where}.{key}", "is required")
        return value.strip()

    def decimal(self, obj: dict, key: str, where: str) -> Decimal:
        try:
            return Decimal(str(obj[key]))
        except KeyError:
            raise self.fail(f"{where}.{key}", "is required") from None
        except (InvalidOperation, ValueError):
            raise self.fail(f"{where}.{key}", f"{obj[key]!r} is not a number") from None

    def date(self, obj: dict, key: str, where: str) -> dt.date | None:
        value = obj.get(key)
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            raise self.fail(f"{where}.{key}", f"{value!r} is not a date (YYYY-MM-DD)") from None

    def address(self, obj: Any, where: str) -> PostalAddress:
        if not isinstance(obj, dict):
            raise self.fail(where, "address must be an object")
        return PostalAddress(
            country=self.text(obj, "country", where, required=True).upper(),
            city=self.text(obj, "city", where), street=self.text(obj, "street", where),
            post_code=self.text(obj, "post_code", where), free=self.text(obj, "free", where),
        )

    def residences(self, items: Any, where: str) -> tuple[Residence, ...]:
        if not isinstance(items, list):
            raise self.fail(where, "residences must be a list")
        return tuple(
            Residence(country=self.text(r, "country", f"{where}[{i}]", required=True).upper(),
                      tin=self.text(r, "tin", f"{where}[{i}]"),
                      no_tin_reason=self.text(r, "no_tin_reason", f"{where}[{i}]").upper(),
                      explanation=self.text(r, "explanation", f"{where}[{i}]"))
            for i, r in enumerate(items)
        )

    def person(self, obj: dict, where: str) -> Person:
        return Person(
            first_name=self.text(obj, "first_name", where), last_name=self.text(obj, "last_name", where, required=True),
            residences=self.residences(obj.get("residences", []), f"{where}.residences"),
            address=self.address(obj.get("address"), f"{where}.address"),
            birth_date=self.date(obj, "birth_date", where), birth_city=self.text(obj, "birth_city", where),
            birth_country=self.text(obj, "birth_country", where).upper(),
            nationalities=tuple(c.upper() for c in obj.get("nationalities", [])),
            us_tin=self.text(obj, "us_tin", where), role=self.text(obj, "role", where),
        )

    def holder(self, obj: Any, where: str) -> Person | Organisation:
        if not isinstance(obj, dict):
            raise self.fail(where, "holder must be an object")
        kind = obj.get("kind")
        if kind == "individual":
            return self.person(obj, where)
        if kind == "entity":
            return Organisation(
                name=self.text(obj, "name", where, required=True),
                residences=self.residences(obj.get("residences", []), f"{where}.residences"),
                address=self.address(obj.get("address"), f"{where}.address"),
                crs_classification=self.text(obj, "crs_classification", where) or "active_nfe",
                chapter4_status=self.text(obj, "chapter4_status", where), giin=self.text(obj, "giin", where),
                us_tin=self.text(obj, "us_tin", where),
                controlling_persons=tuple(self.person(p, f"{where}.controlling_persons[{i}]")
                                          for i, p in enumerate(obj.get("controlling_persons", []))),
                substantial_us_owners=tuple(self.person(p, f"{where}.substantial_us_owners[{i}]")
                                            for i, p in enumerate(obj.get("substantial_us_owners", []))),
            )
        raise self.fail(f"{where}.kind", "must be 'individual' or 'entity'")

    def account(self, obj: Any, where: str) -> Account:
        if not isinstance(obj, dict):
            raise self.fail(where, "account must be an object")
        payments = []
        for i, p in enumerate(obj.get("payments", [])):
            pw = f"{where}.payments[{i}]"
            payments.append(Payment(
                type=self.text(p, "type", pw, required=True), amount=self.decimal(p, "amount", pw),
                currency=self.text(p, "currency", pw, required=True).upper(),
                withheld=self.decimal(p, "withheld", pw) if "withheld" in p else Decimal(0),
                withholding_rate=self.decimal(p, "withholding_rate", pw) if "withholding_rate" in p else None,
                chapter3_exemption=self.text(p, "chapter3_exemption", pw),
            ))
        return Account(
            number=self.text(obj, "account_number", where, required=True),
            holder=self.holder(obj.get("holder"), f"{where}.holder"),
            balance=self.decimal(obj, "balance", where),
            currency=self.text(obj, "currency", where, required=True).upper(),
            payments=tuple(payments), closed=bool(obj.get("closed", False)), dormant=bool(obj.get("dormant", False)),
            undocumented=bool(obj.get("undocumented", False)), us_person=bool(obj.get("us_person", False)),
            us_form=self.text(obj, "us_form", where),
        )


def load_book(path: Path) -> list[Account]:
    """Read a JSON book file: {"accounts": [...]} (see tests for the shape). A bad file is
    rejected whole, naming the account and field."""
    reader = _Reader(Path(path).name)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{reader.name}: cannot read: {exc}", detail={"file": reader.name}) from exc
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise reader.fail("accounts", "the file must be an object with an 'accounts' list")
    return [reader.account(a, f"accounts[{i}]") for i, a in enumerate(data["accounts"])]


@dataclass
class ExceptionRow:
    """An account that cannot be reported, or a warning about one that was."""

    account_number: str
    holder: str
    code: str
    message: str
    severity: str = "error"  # error: not reported | warning: reported with a caveat

    def as_dict(self) -> dict[str, str]:
        return {"account_number": self.account_number, "holder": self.holder, "code": self.code,
                "message": self.message, "severity": self.severity}


@dataclass
class ReportResult:
    xml: bytes
    reported: list[str] = field(default_factory=list)
    exceptions: list[ExceptionRow] = field(default_factory=list)
    message_ref_id: str = ""

    @property
    def errors(self) -> list[ExceptionRow]:
        return [e for e in self.exceptions if e.severity == "error"]
