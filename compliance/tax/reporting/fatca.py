"""FATCA XML v2.0 (urn:oecd:ties:fatca:v2) for US reportable accounts, built with lxml.

NOT VALIDATED against the IRS schema: FatcaXML_v2.0.xsd and stffatcatypes_v2.0.xsd are not in
../shared/data (only the CRS schema and the FATCA pool-report types it imports are). The
structure follows IRS Publication 5124 (FATCA XML Schema v2.0 User Guide); the tests check the
element order and codes. Before filing, validate with the IRS schema package (ICMM / IDES).

Reportable: a holder documented as a specified US person (FATCA104), or a passive NFFE with
substantial US owners (FATCA102). Without a US TIN the account goes to the exceptions report.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from lxml import etree

from .. import rulefiles
from ..tin import validate_tin
from .book import Account, ExceptionRow, Organisation, Person, PostalAddress, ReportingFI, ReportResult
from .crs import _doc_ref, money

FTC = "urn:oecd:ties:fatca:v2"
SFA = "urn:oecd:ties:stffatcatypes:v2"
NSMAP = {"ftc": FTC, "sfa": SFA}


def _e(parent, ns, tag, text=None, **attrs):
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _address(parent, address: PostalAddress) -> None:
    el = _e(parent, SFA, "Address")
    _e(el, SFA, "CountryCode", address.country)
    if address.city:
        fix = _e(el, SFA, "AddressFix")
        if address.street:
            _e(fix, SFA, "Street", address.street)
        if address.post_code:
            _e(fix, SFA, "PostCode", address.post_code)
        _e(fix, SFA, "City", address.city)
    else:
        _e(el, SFA, "AddressFree", address.free or address.street)


def _us_tin(person: Person | Organisation) -> str:
    if person.us_tin:
        return person.us_tin
    return next((r.tin for r in person.residences if r.country == "US" and r.tin), "")


def is_us_reportable(account: Account) -> str | None:
    holder = account.holder
    if isinstance(holder, Person):
        if account.us_person or any(r.country == "US" for r in holder.residences) or "US" in holder.nationalities:
            return "specified_us_person"
        return None
    if holder.chapter4_status == "passive_nffe" and holder.substantial_us_owners:
        return "passive_nffe_with_us_owners"
    if account.us_person or any(r.country == "US" for r in holder.residences):
        return "specified_us_person"
    return None


def _individual(parent, tag: str, person: Person) -> None:
    el = _e(parent, FTC, tag)
    for country in dict.fromkeys(r.country for r in person.residences):
        _e(el, SFA, "ResCountryCode", country)
    _e(el, SFA, "TIN", _us_tin(person).replace("-", ""), issuedBy="US")
    name = _e(el, SFA, "Name")
    _e(name, SFA, "FirstName", person.first_name or "NFN")
    _e(name, SFA, "LastName", person.last_name)
    _address(el, person.address)
    for nationality in person.nationalities:
        _e(el, SFA, "Nationality", nationality)
    if person.birth_date:
        _e(_e(el, SFA, "BirthInfo"), SFA, "BirthDate", person.birth_date.isoformat())


def build_fatca_message(*, fi: ReportingFI, accounts: list[Account], year: int, message_ref_id: str,
                        timestamp: dt.datetime, test: bool = False) -> ReportResult:
    codes = rulefiles.reporting_codes()["fatca"]
    result = ReportResult(xml=b"", message_ref_id=message_ref_id)
    root = etree.Element(f"{{{FTC}}}FATCA_OECD", nsmap=NSMAP, version="2.0")
    spec = _e(root, FTC, "MessageSpec")
    _e(spec, SFA, "SendingCompanyIN", fi.giin or fi.code)
    _e(spec, SFA, "TransmittingCountry", fi.country)
    _e(spec, SFA, "ReceivingCountry", "US")
    _e(spec, SFA, "MessageType", "FATCA")
    _e(spec, SFA, "MessageRefId", message_ref_id)
    _e(spec, SFA, "ReportingPeriod", dt.date(year, 12, 31).isoformat())
    _e(spec, SFA, "Timestamp", timestamp.strftime("%Y-%m-%dT%H:%M:%S"))
    body = _e(root, FTC, "FATCA")
    rfi = _e(body, FTC, "ReportingFI")
    _e(rfi, SFA, "ResCountryCode", fi.country)
    _e(rfi, SFA, "TIN", fi.giin or fi.tin, issuedBy="US" if fi.giin else fi.country)
    _e(rfi, SFA, "Name", fi.name)
    _address(rfi, PostalAddress(country=fi.country, city=fi.city, street=fi.street, post_code=fi.post_code))
    _e(rfi, FTC, "FilerCategory", codes["filer_category"])
    doc = _e(rfi, FTC, "DocSpec")
    _e(doc, FTC, "DocTypeIndic", "FATCA11" if test else "FATCA1")
    _e(doc, FTC, "DocRefId", _doc_ref(fi.giin or fi.code, message_ref_id, "FI"))
    group = _e(body, FTC, "ReportingGroup")
    for account in sorted(accounts, key=lambda a: a.number):
        kind = is_us_reportable(account)
        if kind is None:
            continue
        holder = account.holder
        people = [holder] if isinstance(holder, Person) else list(holder.substantial_us_owners)
        if kind == "specified_us_person" and isinstance(holder, Organisation):
            people = [holder]
        problems = []
        for p in people:
            tin = _us_tin(p)
            if not tin:
                problems.append(ExceptionRow(account.number, account.holder_name, "us_tin_missing",
                                             f"{p.name}: no US TIN"))
            elif not validate_tin("US", tin, entity=isinstance(p, Organisation)).valid:
                problems.append(ExceptionRow(account.number, account.holder_name, "us_tin_invalid",
                                             f"{p.name}: US TIN {tin!r} is not valid"))
        result.exceptions.extend(problems)
        if problems:
            continue
        report = _e(group, FTC, "AccountReport")
        doc = _e(report, FTC, "DocSpec")
        _e(doc, FTC, "DocTypeIndic", "FATCA11" if test else "FATCA1")
        _e(doc, FTC, "DocRefId", _doc_ref(fi.giin or fi.code, message_ref_id, account.number))
        _e(report, FTC, "AccountNumber", account.number)
        _e(report, FTC, "AccountClosed", "true" if account.closed else "false")
        holder_el = _e(report, FTC, "AccountHolder")
        if isinstance(holder, Person):
            _individual(holder_el, "Individual", holder)
        else:
            org = _e(holder_el, FTC, "Organisation")
            for country in dict.fromkeys(r.country for r in holder.residences):
                _e(org, SFA, "ResCountryCode", country)
            if _us_tin(holder):
                _e(org, SFA, "TIN", _us_tin(holder).replace("-", ""), issuedBy="US")
            _e(org, SFA, "Name", holder.name)
            _address(org, holder.address)
            _e(holder_el, FTC, "AcctHolderType", codes["holder_types"][kind])
            for owner in holder.substantial_us_owners:
                _individual(_e(report, FTC, "SubstantialOwner"), "Individual", owner)
        _e(report, FTC, "AccountBalance", money(max(account.balance, Decimal(0))), currCode=account.currency)
        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for p in account.payments:
            totals[(codes["payment_types"].get(p.type, "FATCA504"), p.currency)] += p.amount
        for (ptype, ccy), amount in sorted(totals.items()):
            pay = _e(report, FTC, "Payment")
            _e(pay, FTC, "Type", ptype)
            _e(pay, FTC, "PaymentAmnt", money(amount), currCode=ccy)
        result.reported.append(account.number)
    result.xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return result
