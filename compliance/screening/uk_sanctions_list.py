"""The UK Sanctions List (FCDO) in its published formats: XML and CSV.

Since 28 January 2026 the UK Sanctions List is the single source of UK designations (the OFSI
Consolidated List, read by `importers.parse_uk`, closed that day). The FCDO publishes the list at
https://www.gov.uk/government/publications/the-uk-sanctions-list as UK_Sanctions_List.xml,
.csv, .ods and .html; the structure is described in the FCDO guidance "UK Sanctions List: change to
the list's format" (February 2022) and is the one this module reads:

XML: one <Designation> per designated person, entity or ship, with <UniqueID> (e.g. RUS0001),
<OFSIGroupID>, <UNReferenceNumber>, <RegimeName>, <IndividualEntityShip> (Individual | Entity |
Ship), <DateDesignated> and <LastUpdated> (dd/mm/yyyy), <Names>/<Name> each with <Name1>..<Name6>
(Name 6 is the family or entity name) and <NameType> (Primary Name | Primary Name Variation |
Alias) and <AliasStrength>, <NonLatinNames>/<NameNonLatinScript>, <Addresses>/<Address>/
<AddressCountry>, <IndividualDetails>/<Individual> with <DOBs>/<DOB>, <Nationalities>/<Nationality>,
<BirthDetails>/<Location>/<CountryOfBirth>, and <ShipDetails>/<Ship>/<IMONumbers>/<IMONumber>.

CSV: row 1 "Report Date: ...", row 2 the header, then one row per name of a designation (rows of
one designation share the Unique ID): "Unique ID", "OFSI Group ID", "UN Reference Number",
"Name 6", "Name 1".."Name 5", "Name type", "Alias strength", "Regime Name", "Designation Type",
"Date Designated", "D.O.B", "Nationality(/ies)", "Passport number", "National Identifier number",
"Address Country", "Country of birth", "IMO number" (others are read but not needed).

Parsers return plain WatchlistRecords with source "uksl"; a malformed file raises
WatchlistFormatError naming file, line and field, and nothing partial is returned.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lxml import etree

from compliance.exceptions import WatchlistFormatError

from .countries import to_iso2
from .importers import Identifier, WatchlistRecord, _csv_rows, _dedupe, _read_text, parse_loose_date

SOURCE = "uksl"
KINDS = {"individual": "person", "entity": "entity", "ship": "vessel"}
PRIMARY = {"primary name"}
_SPLIT = re.compile(r"[|;]")


def _date(path: Path, line: int | None, field: str, value: str) -> str | None:
    """dd/mm/yyyy, with dd or mm given as "00" or "dd"/"mm" when unknown, or a bare year."""
    value = (value or "").strip()
    if not value:
        return None
    match = re.fullmatch(r"(\d{2}|dd)/(\d{2}|mm)/(\d{4})", value, re.IGNORECASE)
    if match:
        d, m, y = match.groups()
        d = "00" if not d.isdigit() else d
        m = "00" if not m.isdigit() else m
        if m == "00":
            return y
        if d == "00":
            return f"{y}-{m}"
        parsed = parse_loose_date(f"{y}-{m}-{d}")
        if parsed:
            return parsed
    elif re.fullmatch(r"\d{4}", value):
        return value
    raise WatchlistFormatError(file=str(path), line=line, field=field, problem=f"unreadable date {value!r}")


def _add_name(record: WatchlistRecord, name: str, name_type: str, strength: str) -> None:
    name_type = name_type.strip().lower()
    if name_type in PRIMARY:
        if record.name and record.name != name:
            record.aliases.append(record.name)
        record.name = name
    elif strength.strip().lower() in ("weak", "low"):
        record.weak_aliases.append(name)
    else:
        record.aliases.append(name)


def _finish(record: WatchlistRecord) -> WatchlistRecord:
    if not record.name and record.aliases:
        record.name = record.aliases.pop(0)
    record.aliases = [a for a in _dedupe(record.aliases) if a != record.name]
    record.weak_aliases = [a for a in _dedupe(record.weak_aliases) if a != record.name and a not in record.aliases]
    record.countries = _dedupe(record.countries)
    record.dobs = _dedupe(record.dobs)
    record.programmes = _dedupe(record.programmes)
    record.places_of_birth = _dedupe(record.places_of_birth)
    unique: dict[tuple[str, str, str], Identifier] = {}
    for ident in record.identifiers:
        unique.setdefault((ident.kind, ident.number, ident.country), ident)
    record.identifiers = list(unique.values())
    return record


# --- XML ---------------------------------------------------------------------------------------


def _t(el: Any, path: str) -> str:
    found = el.find(path)
    return (found.text or "").strip() if found is not None and found.text else ""


def parse_uksl_xml(path: str | Path) -> list[WatchlistRecord]:
    path = Path(path)
    text = _read_text(path)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise WatchlistFormatError(file=str(path), line=exc.lineno, field="xml", problem=str(exc)) from exc
    designations = list(root.iter("Designation"))
    if not designations:
        raise WatchlistFormatError(file=str(path), line=root.sourceline, field="Designation",
                                   problem="no <Designation> elements: not a UK Sanctions List XML file")
    records: dict[str, WatchlistRecord] = {}
    for el in designations:
        line = el.sourceline
        uid = _t(el, "UniqueID")
        if not uid:
            raise WatchlistFormatError(file=str(path), line=line, field="UniqueID", problem="missing")
        if uid in records:
            raise WatchlistFormatError(file=str(path), line=line, field="UniqueID", problem=f"{uid} appears twice")
        kind_text = _t(el, "IndividualEntityShip").lower()
        if kind_text not in KINDS:
            raise WatchlistFormatError(file=str(path), line=line, field="IndividualEntityShip",
                                       problem=f"unknown designation type {_t(el, 'IndividualEntityShip')!r}")
        record = WatchlistRecord(source=SOURCE, ref=uid, kind=KINDS[kind_text], name="", topics=["sanction"])
        for name_el in el.iterfind("./Names/Name"):
            parts = [_t(name_el, f"Name{i}") for i in range(1, 7)]
            name = " ".join(p for p in parts if p)
            if name:
                _add_name(record, name, _t(name_el, "NameType"), _t(name_el, "AliasStrength"))
        for non_latin in el.iterfind(".//NameNonLatinScript"):
            if non_latin.text and non_latin.text.strip():
                record.aliases.append(non_latin.text.strip())
        if not record.name and not record.aliases:
            raise WatchlistFormatError(file=str(path), line=line, field="Names", problem=f"{uid} has no name")
        if _t(el, "RegimeName"):
            record.programmes.append(_t(el, "RegimeName"))
        if _t(el, "UNReferenceNumber"):
            record.identifiers.append(Identifier(kind="UN reference", number=_t(el, "UNReferenceNumber")))
        for country in el.iterfind("./Addresses/Address/AddressCountry"):
            code = to_iso2(country.text or "")
            if code:
                record.countries.append(code)
        for individual in el.iterfind("./IndividualDetails/Individual"):
            for dob in individual.iterfind("./DOBs/DOB"):
                parsed = _date(path, dob.sourceline, "DOB", dob.text or "")
                if parsed:
                    record.dobs.append(parsed)
            for nat in individual.iterfind("./Nationalities/Nationality"):
                code = to_iso2(nat.text or "")
                if code:
                    record.countries.append(code)
            for birth in individual.iterfind("./BirthDetails/Location"):
                place = ", ".join(p for p in (_t(birth, "TownOfBirth"), _t(birth, "CountryOfBirth")) if p)
                if place:
                    record.places_of_birth.append(place)
            for tag, kind in (("PassportNumber", "Passport"), ("NationalIdentifierNumber", "National ID")):
                for number in individual.iter(tag):
                    if number.text and number.text.strip():
                        record.identifiers.append(Identifier(kind=kind, number=number.text.strip()))
        for imo in el.iterfind("./ShipDetails/Ship/IMONumbers/IMONumber"):
            if imo.text and imo.text.strip():
                record.identifiers.append(Identifier(kind="IMO", number=imo.text.strip()))
        record.remarks = _t(el, "OtherInformation")[:2000]
        records[uid] = _finish(record)
    return list(records.values())


# --- CSV ---------------------------------------------------------------------------------------


def parse_uksl_csv(path: str | Path) -> list[WatchlistRecord]:
    path = Path(path)
    rows = _csv_rows(path)
    first = next(rows, None)
    header_row = next(rows, None)
    if first is None or header_row is None:
        raise WatchlistFormatError(file=str(path), line=1, field="header", problem="file has fewer than 2 rows")
    if not first[1] or not first[1][0].strip().lower().startswith("report date"):
        raise WatchlistFormatError(file=str(path), line=1, field="Report Date",
                                   problem="row 1 must carry the report date ('Report Date: ...')")
    line_no, header = header_row
    cols = {h.strip().lower(): i for i, h in enumerate(header)}

    def col(name: str, required: bool = True) -> int | None:
        if name.lower() in cols:
            return cols[name.lower()]
        if required:
            raise WatchlistFormatError(file=str(path), line=line_no, field=name, problem="missing column")
        return None

    c_id, c_type, c_kind, c_regime = col("Unique ID"), col("Name type"), col("Designation Type"), col("Regime Name")
    c_names = [col(f"Name {i}", required=(i == 6)) for i in range(1, 7)]
    c_strength = col("Alias strength", False)
    c_dob, c_nat = col("D.O.B", False), col("Nationality(/ies)", False)
    c_addr_country, c_birth_country = col("Address Country", False), col("Country of birth", False)
    c_passport, c_natid, c_imo = col("Passport number", False), col("National Identifier number", False), col("IMO number", False)
    c_non_latin = col("Name non-latin script", False)
    c_un_ref = col("UN Reference Number", False)

    records: dict[str, WatchlistRecord] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise WatchlistFormatError(file=str(path), line=line, field="row",
                                       problem=f"expected {len(header)} fields, found {len(row)}")

        def get(i: int | None, row: list[str] = row) -> str:
            return row[i].strip() if i is not None else ""

        uid = get(c_id)
        if not uid:
            raise WatchlistFormatError(file=str(path), line=line, field="Unique ID", problem="empty")
        kind_text = get(c_kind).lower()
        if kind_text not in KINDS:
            raise WatchlistFormatError(file=str(path), line=line, field="Designation Type",
                                       problem=f"unknown designation type {get(c_kind)!r}")
        record = records.get(uid)
        if record is None:
            record = records[uid] = WatchlistRecord(source=SOURCE, ref=uid, kind=KINDS[kind_text], name="",
                                                    topics=["sanction"])
        name = " ".join(p for p in (get(i) for i in c_names) if p)
        if not name:
            raise WatchlistFormatError(file=str(path), line=line, field="Name 6", problem="no name")
        _add_name(record, name, get(c_type), get(c_strength))
        if get(c_non_latin):
            record.aliases.append(get(c_non_latin))
        if get(c_regime):
            record.programmes.append(get(c_regime))
        for value in _SPLIT.split(get(c_dob)):
            parsed = _date(path, line, "D.O.B", value)
            if parsed:
                record.dobs.append(parsed)
        for c in (c_nat, c_addr_country):
            for value in _SPLIT.split(get(c)):
                code = to_iso2(value)
                if code:
                    record.countries.append(code)
        if get(c_birth_country):
            record.places_of_birth.append(get(c_birth_country))
        for c, kind in ((c_un_ref, "UN reference"), (c_passport, "Passport"), (c_natid, "National ID"),
                        (c_imo, "IMO")):
            for value in _SPLIT.split(get(c)):
                if value.strip():
                    record.identifiers.append(Identifier(kind=kind, number=value.strip()))
    return [_finish(r) for r in records.values()]


def parse_uksl(path: str | Path) -> list[WatchlistRecord]:
    """The UK Sanctions List in either published format, chosen by the file's content."""
    path = Path(path)
    head = _read_text(path).lstrip()[:200]
    if head.startswith("<"):
        return parse_uksl_xml(path)
    return parse_uksl_csv(path)
