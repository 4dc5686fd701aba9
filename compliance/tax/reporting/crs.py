"""CRS XML v2.0 (urn:oecd:ties:crs:v2) from plain dataclasses, built with lxml.

Which accounts are reportable to the receiving jurisdiction, and why an account cannot be
reported, follow the OECD CRS (Sections I, VIII) and the CRS XML Schema User Guide v3.0:
- an individual holder resident in the receiving jurisdiction;
- an entity holder resident there (CRS102, or CRS103 for a passive NFE that is itself
  reportable), or a passive NFE with controlling persons resident there (CRS101);
- every reportable person needs a TIN issued by the receiving jurisdiction, or a CRS reason
  (A/B/C) for not having one; without either the account goes to the exceptions report;
- negative balances are reported as zero; amounts carry two decimals and their currency.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from lxml import etree

from onboarding.money import is_currency

from ..tin import validate_missing_tin, validate_tin
from .book import Account, ExceptionRow, Organisation, Person, PostalAddress, ReportingFI, ReportResult

CRS = "urn:oecd:ties:crs:v2"
CFC = "urn:oecd:ties:commontypesfatcacrs:v2"
STF = "urn:oecd:ties:crsstf:v5"
ISO = "urn:oecd:ties:isocrstypes:v1"
FTC = "urn:oecd:ties:fatca:v1"
NSMAP = {"crs": CRS, "cfc": CFC, "stf": STF, "iso": ISO, "ftc": FTC}
PAYMENT_TYPES = ("CRS501", "CRS502", "CRS503", "CRS504")
CP_TYPES = {f"CRS8{n:02d}" for n in range(1, 14)}
TWO = Decimal("0.01")


def _e(parent, ns: str, tag: str, text: str | None = None, **attrs) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def money(amount: Decimal) -> str:
    return str(amount.quantize(TWO, rounding=ROUND_HALF_UP))


def _doc_spec(parent, ns: str, doc_ref_id: str, *, test: bool) -> None:
    spec = _e(parent, ns, "DocSpec")
    _e(spec, STF, "DocTypeIndic", "OECD11" if test else "OECD1")
    _e(spec, STF, "DocRefId", doc_ref_id)


def _address(parent, ns: str, address: PostalAddress) -> None:
    el = _e(parent, ns, "Address")
    _e(el, CFC, "CountryCode", address.country)
    if address.city:
        fix = _e(el, CFC, "AddressFix")
        if address.street:
            _e(fix, CFC, "Street", address.street[:200])
        if address.post_code:
            _e(fix, CFC, "PostCode", address.post_code[:200])
        _e(fix, CFC, "City", address.city[:200])
        if address.free:
            _e(el, CFC, "AddressFree", address.free[:4000])
    else:
        _e(el, CFC, "AddressFree", (address.free or address.street)[:4000])


def _person(parent, tag: str, person: Person) -> etree._Element:
    el = _e(parent, CRS, tag)
    for country in dict.fromkeys(r.country for r in person.residences):
        _e(el, CRS, "ResCountryCode", country)
    for r in person.residences:
        if r.tin:
            _e(el, CRS, "TIN", r.tin, issuedBy=r.country)
    name = _e(el, CRS, "Name")
    _e(name, CRS, "FirstName", person.first_name or "NFN")  # "no first name", CRS User Guide
    _e(name, CRS, "LastName", person.last_name)
    _address(el, CRS, person.address)
    for nationality in person.nationalities:
        _e(el, CRS, "Nationality", nationality)
    if person.birth_date or person.birth_city or person.birth_country:
        birth = _e(el, CRS, "BirthInfo")
        if person.birth_date:
            _e(birth, CRS, "BirthDate", person.birth_date.isoformat())
        if person.birth_city:
            _e(birth, CRS, "City", person.birth_city)
        if person.birth_country:
            _e(_e(birth, CRS, "CountryInfo"), CRS, "CountryCode", person.birth_country)
    return el


def _organisation(parent, ns: str, tag: str, org: Organisation | ReportingFI, residences, ins) -> etree._Element:
    el = _e(parent, ns, tag)
    for country in residences:
        _e(el, CRS, "ResCountryCode", country)
    for value, issued_by, in_type in ins:
        _e(el, CRS, "IN", value, issuedBy=issued_by, INType=in_type)
    _e(el, CRS, "Name", org.name[:200])
    return el


def _check_person(person: Person, receiving: str, account: Account, label: str) -> list[ExceptionRow]:
    """Why a reportable person cannot be reported (errors) or what is doubtful (warnings)."""
    problems: list[ExceptionRow] = []

    def add(code: str, message: str, severity: str = "error") -> None:
        problems.append(ExceptionRow(account.number, account.holder_name, code, f"{label}: {message}", severity))

    if not person.last_name:
        add("name_missing", "no last name")
    if not (person.address.city or person.address.free or person.address.street):
        add("address_missing", "no address")
    for r in person.residences:
        if r.country != receiving:
            continue
        if r.tin:
            check = validate_tin(r.country, r.tin)
            if not check.valid:
                add("tin_invalid", f"TIN {r.tin!r} for {r.country} is not valid ({check.message})")
        elif r.no_tin_reason:
            reason = validate_missing_tin(r.country, r.no_tin_reason, r.explanation)
            if not reason.valid:
                add("tin_reason_invalid", reason.message)
        else:
            add("tin_missing", f"no TIN for {r.country} and no reason (A, B or C) for its absence")
    if person.birth_date is None:
        add("birth_date_missing", "no date of birth (reported without BirthInfo)", "warning")
    return problems


def reportable_people(account: Account, receiving: str) -> tuple[str | None, list[Person]]:
    """(AcctHolderType or 'individual' or None, controlling persons to report)."""
    holder = account.holder
    if isinstance(holder, Person):
        return ("individual" if any(r.country == receiving for r in holder.residences) else None), []
    if holder.crs_classification == "financial_institution":
        return None, []
    resident = any(r.country == receiving for r in holder.residences)
    if holder.crs_classification in ("passive_nfe", "investment_entity_non_participating"):
        cps = [p for p in holder.controlling_persons if any(r.country == receiving for r in p.residences)]
        if resident:
            return "CRS103", list(holder.controlling_persons)
        if cps:
            return "CRS101", list(holder.controlling_persons)
        return None, []
    return ("CRS102" if resident else None), []


def _doc_ref(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16].upper()
    return f"{prefix}-{digest}"


def build_crs_message(
    *,
    fi: ReportingFI,
    accounts: list[Account],
    year: int,
    receiving_country: str,
    message_ref_id: str,
    timestamp: dt.datetime,
    test: bool = False,
) -> ReportResult:
    """The CRS message for `receiving_country`, and the accounts that could not be reported."""
    receiving = receiving_country.upper()
    result = ReportResult(xml=b"", message_ref_id=message_ref_id)
    root = etree.Element(f"{{{CRS}}}CRS_OECD", nsmap=NSMAP, version="2.0")
    spec = _e(root, CRS, "MessageSpec")
    _e(spec, CRS, "SendingCompanyIN", fi.giin or fi.tin or fi.code)
    _e(spec, CRS, "TransmittingCountry", fi.country)
    _e(spec, CRS, "ReceivingCountry", receiving)
    _e(spec, CRS, "MessageType", "CRS")
    _e(spec, CRS, "MessageRefId", message_ref_id)
    _e(spec, CRS, "MessageTypeIndic", "CRS701")
    _e(spec, CRS, "ReportingPeriod", dt.date(year, 12, 31).isoformat())
    _e(spec, CRS, "Timestamp", timestamp.strftime("%Y-%m-%dT%H:%M:%S"))
    body = _e(root, CRS, "CrsBody")
    ins = [(fi.tin, fi.country, "TIN")] if fi.tin else []
    if fi.giin:
        ins.append((fi.giin, None, "GIIN"))
    rfi = _organisation(body, CRS, "ReportingFI", fi, [fi.country], ins)
    _address(rfi, CRS, PostalAddress(country=fi.country, city=fi.city, street=fi.street, post_code=fi.post_code))
    _doc_spec(rfi, CRS, _doc_ref(f"{fi.country}{year}{fi.code}", message_ref_id, "FI"), test=test)
    group = _e(body, CRS, "ReportingGroup")

    for account in sorted(accounts, key=lambda a: a.number):
        holder_type, cps = reportable_people(account, receiving)
        if holder_type is None:
            continue  # not reportable to this jurisdiction
        problems: list[ExceptionRow] = []
        if not is_currency(account.currency):
            problems.append(ExceptionRow(account.number, account.holder_name, "currency_invalid",
                                         f"account currency {account.currency!r} is not an ISO 4217 code"))
        if isinstance(account.holder, Person):
            problems += _check_person(account.holder, receiving, account, "account holder")
        else:
            org = account.holder
            if holder_type in ("CRS102", "CRS103"):
                for r in org.residences:
                    if r.country == receiving and not r.tin and not validate_missing_tin(
                            r.country, r.no_tin_reason, r.explanation).valid:
                        problems.append(ExceptionRow(account.number, org.name, "tin_missing",
                                                     f"entity has no TIN for {receiving} and no valid reason"))
            if holder_type in ("CRS101", "CRS103") and not cps:
                problems.append(ExceptionRow(account.number, org.name, "controlling_persons_missing",
                                             "passive NFE without controlling persons"))
            for person in cps:
                if person.role and person.role not in CP_TYPES:
                    problems.append(ExceptionRow(account.number, org.name, "cp_type_invalid",
                                                 f"controlling person {person.name}: type {person.role!r} not CRS801-813"))
                problems += _check_person(person, receiving, account, f"controlling person {person.name}")
        for p in account.payments:
            if p.type not in PAYMENT_TYPES:
                problems.append(ExceptionRow(account.number, account.holder_name, "payment_type_invalid",
                                             f"payment type {p.type!r} is not CRS501-504"))
            if not is_currency(p.currency):
                problems.append(ExceptionRow(account.number, account.holder_name, "currency_invalid",
                                             f"payment currency {p.currency!r} is not an ISO 4217 code"))
        balance = account.balance
        if balance < 0:
            problems.append(ExceptionRow(account.number, account.holder_name, "negative_balance",
                                         f"balance {balance} reported as zero", "warning"))
            balance = Decimal(0)
        result.exceptions.extend(problems)
        if any(p.severity == "error" for p in problems):
            continue

        report = _e(group, CRS, "AccountReport")
        _doc_spec(report, CRS, _doc_ref(f"{fi.country}{year}{fi.code}", message_ref_id, account.number), test=test)
        _e(report, CRS, "AccountNumber", account.number, AcctNumberType="OECD605",
           UndocumentedAccount="true" if account.undocumented else None,
           ClosedAccount="true" if account.closed else None,
           DormantAccount="true" if account.dormant else None)
        holder_el = _e(report, CRS, "AccountHolder")
        if isinstance(account.holder, Person):
            _person(holder_el, "Individual", account.holder)
        else:
            org = account.holder
            org_ins = [(r.tin, r.country, "TIN") for r in org.residences if r.tin]
            org_el = _organisation(holder_el, CRS, "Organisation", org, list(dict.fromkeys(r.country for r in org.residences)), org_ins)
            _address(org_el, CRS, org.address)
            _e(holder_el, CRS, "AcctHolderType", holder_type)
            for person in cps:
                cp = _e(report, CRS, "ControllingPerson")
                _person(cp, "Individual", person)
                if person.role:
                    _e(cp, CRS, "CtrlgPersonType", person.role)
        _e(report, CRS, "AccountBalance", money(balance), currCode=account.currency)
        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for p in account.payments:
            totals[(p.type, p.currency)] += p.amount
        for (ptype, ccy), amount in sorted(totals.items()):
            pay = _e(report, CRS, "Payment")
            _e(pay, CRS, "Type", ptype)
            _e(pay, CRS, "PaymentAmnt", money(amount), currCode=ccy)
        result.reported.append(account.number)

    result.xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return result


# --- Schema validation -------------------------------------------------------------------------

SCHEMA_FILES = {
    ISO: "isocrstypes_v1.1.xsd",
    STF: "oecdcrstypes_v5.0.xsd",
    CFC: "CommonTypesFatcaCrs_v2.0.xsd",
    FTC: "FatcaTypes_v1.2.xsd",
}


@lru_cache(maxsize=4)
def crs_schema(xsd_dir: str):
    """The official schema, loaded from local files only (its imports point at URLs: they are
    mapped to the files beside it and nothing is fetched)."""
    import xmlschema

    directory = Path(xsd_dir)
    locations = [(ns, str(directory / name)) for ns, name in SCHEMA_FILES.items()]
    return xmlschema.XMLSchema(str(directory / "CrsXML_v2.0.xsd"), locations=locations, allow="local")


def validation_errors(xml: bytes, xsd_dir: Path) -> list[str]:
    schema = crs_schema(str(xsd_dir))
    return [f"{e.path}: {e.reason}" for e in schema.iter_errors(xml.decode("utf-8"))]
