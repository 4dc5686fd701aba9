"""Parsers for the sanctions and PEP lists we screen against.

Each parser reads whole files and returns plain `WatchlistRecord`s. A file that is not what it
claims to be (bad encoding, missing column, a malformed row) raises `WatchlistFormatError` naming
the file, the line and the field; nothing partial is returned.

Formats (see FACTS.md section 2):
- OFAC SDN legacy CSV set: sdn.csv, alt.csv, add.csv, sdn_comments.csv (no header, `-0-` empty).
- UN Security Council consolidated list XML.
- UK sanctions list CSV (row 1 report date, row 2 header).
- EU consolidated financial sanctions list CSV (one row per sub-record, grouped by Entity_LogicalId).
- OpenSanctions FollowTheMoney JSON lines.
- The UK Sanctions List (`uk_sanctions_list`), the Swiss SECO list (`seco`) and the UAE Local
  Terrorist List (`uae_local_list`) have their own modules.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from compliance.exceptions import WatchlistFormatError

from .countries import to_iso2

SOURCES = ("ofac", "un", "uk", "uksl", "eu", "seco", "ae_local", "ftm")
KINDS = ("person", "entity", "vessel", "aircraft")


@dataclass
class Identifier:
    kind: str
    number: str
    country: str = ""


@dataclass
class WatchlistRecord:
    """One listed person, entity, vessel or aircraft, as the list gives it."""

    source: str
    ref: str
    kind: str
    name: str
    aliases: list[str] = field(default_factory=list)
    weak_aliases: list[str] = field(default_factory=list)
    dobs: list[str] = field(default_factory=list)  # "1960-01-10", "1960-01", "1960", "1960/1962"
    countries: list[str] = field(default_factory=list)  # ISO alpha-2: nationality, citizenship, address
    places_of_birth: list[str] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    programmes: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # "sanction", "role.pep", ...
    remarks: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def content_hash(self) -> str:
        """A stable hash of what screening and review depend on (changes when the entry changes)."""
        payload = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def all_names(self) -> list[str]:
        return [self.name, *self.aliases]


# --------------------------------------------------------------------------------------------
# Helpers


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WatchlistFormatError(file=str(path), line=None, field="file", problem=str(exc)) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise WatchlistFormatError(
            file=str(path), line=line, field="encoding", problem=f"not valid UTF-8 at byte {exc.start}"
        ) from exc


def _csv_rows(path: Path, *, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line number, row) with the line where the row starts."""
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        raise WatchlistFormatError(file=str(path), line=reader.line_num, field="csv", problem=str(exc)) from exc


def _dedupe(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = " ".join((value or "").split())
        if value and value not in seen:
            seen[value] = None
    return list(seen)


_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}


def parse_loose_date(text: str) -> str | None:
    """'10 Jan 1960' -> '1960-01-10'; 'Jan 1960' -> '1960-01'; '1960' -> '1960';
    '1960 to 1962' -> '1960/1962'; '1960-01-10' and '10/01/1960' (day first) understood too."""
    text = " ".join(text.replace(".", " ").split()).strip().upper()
    text = re.sub(r"^(CIRCA|APPROXIMATELY|ABOUT|CA)\s+", "", text)
    if not text:
        return None
    m = re.fullmatch(r"(\d{4})\s*(?:TO|-|–)\s*(\d{4})", text)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        return _ymd(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if m:
        return _ymd(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    m = re.fullmatch(r"(\d{1,2}) ([A-Z]{3})[A-Z]* (\d{4})", text)
    if m and m.group(2) in _MONTHS:
        return _ymd(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)))
    m = re.fullmatch(r"([A-Z]{3})[A-Z]* (\d{4})", text)
    if m and m.group(1) in _MONTHS:
        return f"{m.group(2)}-{_MONTHS[m.group(1)]:02d}"
    m = re.fullmatch(r"(\d{4})", text)
    if m:
        return m.group(1)
    return None


def _ymd(y: int, mo: int, d: int) -> str | None:
    if mo == 0:
        return f"{y:04d}"
    if d == 0:
        return f"{y:04d}-{mo:02d}"
    try:
        return date(y, mo, d).isoformat()
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# OFAC SDN legacy CSV

_EMPTY = "-0-"
_OFAC_KIND = {"individual": "person", "vessel": "vessel", "aircraft": "aircraft", "": "entity"}
_ID_KINDS = (
    "Passport", "National ID No.", "Cedula No.", "NIT #", "Tax ID No.", "RUC #", "D.N.I.",
    "Identification Number", "Registration Number", "Registration ID", "Company Number",
    "Commercial Registry Number", "Vessel Registration Identification", "MMSI", "SWIFT/BIC",
    "C.U.R.P.", "R.F.C.", "Folio Mercantil No.", "Matricula Mercantil No", "Legal Entity Number",
    "Business Registration Number", "Business Number", "Residency Number", "Personal ID Card",
    "Driver's License No.", "SSN", "Citizen's Card Number", "Birth Certificate Number",
    "Public Security and Immigration No.", "Kenyan ID No.", "Trade License No.", "UAE Identification",
    "Aircraft Manufacturer's Serial Number (MSN)", "Aircraft Tail Number", "Unified Social Credit Code (USCC)",
    "Chinese Commercial Code", "V.A.T. Number", "Certificate of Incorporation Number",
)
_ID_RE = re.compile(
    r"^(?:alt\.\s+)?(?P<kind>" + "|".join(re.escape(k) for k in sorted(_ID_KINDS, key=len, reverse=True))
    + r")\s+(?P<number>[^()]+?)\s*(?:\((?P<country>[^)]*)\))?\s*$"
)


def _ofac_value(value: str) -> str:
    value = value.strip()
    return "" if value == _EMPTY else value


def parse_ofac_remarks(remarks: str) -> dict:
    """Pull DOB, POB, nationality/citizenship and identifiers out of OFAC's free-text remarks."""
    out: dict = {"dobs": [], "pobs": [], "countries": [], "identifiers": [], "aliases": []}
    for part in re.split(r";\s+", remarks.strip().rstrip(".")):
        part = part.strip()
        bare = re.sub(r"^alt\.\s+", "", part)
        if bare.startswith("DOB "):
            parsed = parse_loose_date(bare[4:])
            if parsed:
                out["dobs"].append(parsed)
        elif bare.startswith("POB "):
            out["pobs"].append(bare[4:].strip())
            code = to_iso2(bare[4:])
            if code:
                out["countries"].append(code)
        elif bare.startswith(("nationality ", "citizen ")):
            code = to_iso2(bare.split(" ", 1)[1])
            if code:
                out["countries"].append(code)
        elif bare.startswith("a.k.a. "):
            out["aliases"].extend(a.strip(" '\"") for a in bare[7:].split(";"))
        else:
            m = _ID_RE.match(bare)
            if m:
                number = m.group("number").strip().rstrip(".")
                country = to_iso2(m.group("country") or "")
                if number:
                    out["identifiers"].append(Identifier(kind=m.group("kind"), number=number, country=country))
    return out



def _linked_rows(path: Path, width: int, records: dict[str, Any]) -> Iterator[tuple[Path, int, str, list[str]]]:
    """Rows of an OFAC file linked to sdn.csv by ent_num (alt.csv, add.csv, sdn_comments.csv):
    each has `width` fields and names an SDN entry that exists; yields (path, line, ent_num, row)."""
    for line, row in _csv_rows(path):
        if _is_eof_row(row):
            continue
        if len(row) != width:
            raise WatchlistFormatError(file=str(path), line=line, field="row",
                                       problem=f"expected {width} fields, found {len(row)}")
        ent_num = _ofac_int(path, line, "ent_num", row[0])
        if ent_num not in records:
            raise WatchlistFormatError(file=str(path), line=line, field="ent_num", problem=f"no SDN entry {ent_num}")
        yield path, line, ent_num, row

def parse_ofac(paths: Iterable[str | Path]) -> list[WatchlistRecord]:
    """Parse the OFAC legacy CSV set. sdn.csv is required; alt/add/sdn_comments are optional."""
    files = {Path(p).name.lower(): Path(p) for p in paths}
    if "sdn.csv" not in files:
        raise WatchlistFormatError(
            file=", ".join(str(p) for p in files.values()), line=None, field="sdn.csv",
            problem="the OFAC set needs sdn.csv")
    unknown = set(files) - {"sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"}
    if unknown:
        name = sorted(unknown)[0]
        raise WatchlistFormatError(file=str(files[name]), line=None, field="file",
                                   problem="not one of sdn.csv, alt.csv, add.csv, sdn_comments.csv")

    records: dict[str, WatchlistRecord] = {}
    remarks: dict[str, str] = {}
    sdn = files["sdn.csv"]
    for line, row in _csv_rows(sdn):
        if _is_eof_row(row):
            continue
        if len(row) != 12:
            raise WatchlistFormatError(file=str(sdn), line=line, field="row",
                                       problem=f"expected 12 fields, found {len(row)}")
        ent_num = _ofac_int(sdn, line, "ent_num", row[0])
        name = _ofac_value(row[1])
        if not name:
            raise WatchlistFormatError(file=str(sdn), line=line, field="name", problem="empty name")
        sdn_type = _ofac_value(row[2]).lower()
        if sdn_type not in _OFAC_KIND:
            raise WatchlistFormatError(file=str(sdn), line=line, field="type",
                                       problem=f"unknown SDN type {row[2]!r}")
        programmes = [p.strip(" []") for p in re.split(r"\]\s*\[|;", _ofac_value(row[3])) if p.strip(" []")]
        records[ent_num] = WatchlistRecord(
            source="ofac", ref=ent_num, kind=_OFAC_KIND[sdn_type], name=name, programmes=programmes,
            topics=["sanction"])
        remarks[ent_num] = _ofac_value(row[11])
        flag = _ofac_value(row[9])
        if flag and to_iso2(flag):
            records[ent_num].countries.append(to_iso2(flag))

    if "sdn_comments.csv" in files:
        for _path, _line, ent_num, row in _linked_rows(files["sdn_comments.csv"], 2, records):
            remarks[ent_num] += _ofac_value(row[1])

    if "alt.csv" in files:
        for path, line, ent_num, row in _linked_rows(files["alt.csv"], 5, records):
            alt_name = _ofac_value(row[3])
            if not alt_name:
                raise WatchlistFormatError(file=str(path), line=line, field="alt_name", problem="empty alias")
            alt_type = _ofac_value(row[2]).lower()
            if alt_type in ("weak aka", "weak a.k.a."):
                records[ent_num].weak_aliases.append(alt_name)
            else:
                records[ent_num].aliases.append(alt_name)

    if "add.csv" in files:
        for _path, _line, ent_num, row in _linked_rows(files["add.csv"], 6, records):
            code = to_iso2(_ofac_value(row[4]))
            if code:
                records[ent_num].countries.append(code)

    for ent_num, record in records.items():
        text = remarks[ent_num]
        record.remarks = text
        parsed = parse_ofac_remarks(text) if text else None
        if parsed:
            record.dobs = _dedupe(parsed["dobs"])
            record.places_of_birth = _dedupe(parsed["pobs"])
            record.identifiers = parsed["identifiers"]
            record.countries.extend(parsed["countries"])
            record.countries.extend(i.country for i in record.identifiers if i.country)
            record.weak_aliases.extend(a for a in parsed["aliases"] if a)
        record.countries = _dedupe(record.countries)
        record.aliases = _dedupe(record.aliases)
        record.weak_aliases = [a for a in _dedupe(record.weak_aliases) if a not in record.aliases]
    return list(records.values())


def _is_eof_row(row: list[str]) -> bool:
    return not row or (len(row) == 1 and row[0].strip() in ("", "\x1a"))


def _ofac_int(path: Path, line: int, fieldname: str, value: str) -> str:
    value = value.strip()
    if not value.isdigit():
        raise WatchlistFormatError(file=str(path), line=line, field=fieldname,
                                   problem=f"expected a number, found {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# UN consolidated XML


def _text(el: Any, tag: str) -> str:
    child = el.find(tag)
    return " ".join((child.text or "").split()) if child is not None and child.text else ""


def parse_un(path: str | Path) -> list[WatchlistRecord]:
    path = Path(path)
    data = _read_text(path).encode("utf-8")
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True,
                                                             huge_tree=True))
    except etree.XMLSyntaxError as exc:
        raise WatchlistFormatError(file=str(path), line=exc.lineno, field="xml", problem=exc.msg) from exc
    if root.tag != "CONSOLIDATED_LIST":
        raise WatchlistFormatError(file=str(path), line=root.sourceline, field="CONSOLIDATED_LIST",
                                   problem=f"root element is {root.tag!r}")
    out: list[WatchlistRecord] = []
    for el in root.iterfind("INDIVIDUALS/INDIVIDUAL"):
        out.append(_un_record(path, el, "person", "INDIVIDUAL"))
    for el in root.iterfind("ENTITIES/ENTITY"):
        out.append(_un_record(path, el, "entity", "ENTITY"))
    return out


def _un_record(path: Path, el: Any, kind: str, prefix: str) -> WatchlistRecord:
    dataid = _text(el, "DATAID")
    if not dataid:
        raise WatchlistFormatError(file=str(path), line=el.sourceline, field="DATAID", problem="missing")
    parts = [_text(el, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
    name = " ".join(p for p in parts if p)
    if not name:
        raise WatchlistFormatError(file=str(path), line=el.sourceline, field="FIRST_NAME", problem="no name")
    record = WatchlistRecord(source="un", ref=_text(el, "REFERENCE_NUMBER") or dataid, kind=kind, name=name,
                             programmes=_dedupe([_text(el, "UN_LIST_TYPE")]), topics=["sanction"],
                             remarks=_text(el, "COMMENTS1"))
    original = _text(el, "NAME_ORIGINAL_SCRIPT")
    if original:
        record.aliases.append(original)
    for alias in el.iterfind(f"{prefix}_ALIAS"):
        alias_name = _text(alias, "ALIAS_NAME")
        if not alias_name:
            continue
        if _text(alias, "QUALITY").lower() == "low":
            record.weak_aliases.append(alias_name)
        else:
            record.aliases.append(alias_name)
    for value in el.iterfind("NATIONALITY/VALUE"):
        code = to_iso2(value.text or "")
        if code:
            record.countries.append(code)
    for address in el.iterfind(f"{prefix}_ADDRESS"):
        code = to_iso2(_text(address, "COUNTRY"))
        if code:
            record.countries.append(code)
    for dob in el.iterfind("INDIVIDUAL_DATE_OF_BIRTH"):
        if _text(dob, "DATE"):
            parsed = parse_loose_date(_text(dob, "DATE")[:10])
        elif _text(dob, "FROM_YEAR") and _text(dob, "TO_YEAR"):
            parsed = f"{_text(dob, 'FROM_YEAR')}/{_text(dob, 'TO_YEAR')}"
        elif _text(dob, "YEAR"):
            parsed = parse_loose_date(_text(dob, "YEAR"))
        else:
            parsed = None
        if parsed:
            record.dobs.append(parsed)
    for pob in el.iterfind("INDIVIDUAL_PLACE_OF_BIRTH"):
        place = ", ".join(p for p in (_text(pob, "CITY"), _text(pob, "STATE_PROVINCE"), _text(pob, "COUNTRY")) if p)
        if place:
            record.places_of_birth.append(place)
    for doc in el.iterfind("INDIVIDUAL_DOCUMENT"):
        number = _text(doc, "NUMBER")
        if number:
            record.identifiers.append(Identifier(
                kind=_text(doc, "TYPE_OF_DOCUMENT") or "document", number=number,
                country=to_iso2(_text(doc, "ISSUING_COUNTRY") or _text(doc, "COUNTRY_OF_ISSUE"))))
    record.aliases = _dedupe(record.aliases)
    record.weak_aliases = [a for a in _dedupe(record.weak_aliases) if a not in record.aliases]
    record.countries = _dedupe(record.countries)
    record.dobs = _dedupe(record.dobs)
    return record


# --------------------------------------------------------------------------------------------
# UK sanctions list CSV

_UK_KIND = {"individual": "person", "entity": "entity", "ship": "vessel", "vessel": "vessel"}


def parse_uk(path: str | Path) -> list[WatchlistRecord]:
    """UK list: row 1 carries the report date, row 2 the header. One row per name; rows of the
    same designation share the Unique ID (older OFSI files: Group ID)."""
    path = Path(path)
    rows = _csv_rows(path)
    first = next(rows, None)
    header_row = next(rows, None)
    if first is None or header_row is None:
        raise WatchlistFormatError(file=str(path), line=1, field="header", problem="file has fewer than 2 rows")
    line_no, header = header_row
    cols = {h.strip().lower(): i for i, h in enumerate(header)}

    def col(*names: str, required: bool = True) -> int | None:
        for name in names:
            if name.lower() in cols:
                return cols[name.lower()]
        if required:
            raise WatchlistFormatError(file=str(path), line=line_no, field=names[0], problem="missing column")
        return None

    c_id = col("Unique ID", "Group ID")
    c_names = [col(f"Name {i}", required=(i in (1, 6))) for i in range(1, 7)]
    c_type = col("Name Type", "Alias Type")
    c_strength = col("Alias Strength", "Alias Quality", required=False)
    c_regime = col("Regime")
    c_kind = col("Entity Type", "Group Type")
    c_dob = col("DOB", required=False)
    c_nat = col("Nationality", required=False)
    c_passport = col("Passport", "Passport Number", required=False)
    c_natid = col("National ID", "National Identification Number", required=False)
    c_country = col("Country", required=False)

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
            raise WatchlistFormatError(file=str(path), line=line, field=header[c_id], problem="empty")
        # Name 1..5 are given names, Name 6 the family name / entity name.
        parts = [get(i) for i in c_names[:5]] + [get(c_names[5])]
        name = " ".join(p for p in parts if p)
        if not name:
            raise WatchlistFormatError(file=str(path), line=line, field="Name 6", problem="no name")
        kind_text = get(c_kind).lower()
        if kind_text not in _UK_KIND:
            raise WatchlistFormatError(file=str(path), line=line, field=header[c_kind],
                                       problem=f"unknown entity type {get(c_kind)!r}")
        record = records.get(uid)
        name_type = get(c_type).lower()
        if record is None:
            record = records[uid] = WatchlistRecord(source="uk", ref=uid, kind=_UK_KIND[kind_text], name=name,
                                                    topics=["sanction"])
        if name_type.startswith("primary") and record.name != name:
            if record.name and name_type == "primary name":
                record.aliases.append(record.name)
                record.name = name
            else:
                record.aliases.append(name)
        elif not name_type.startswith("primary"):
            if get(c_strength).lower() in ("weak", "low"):
                record.weak_aliases.append(name)
            else:
                record.aliases.append(name)
        if get(c_regime):
            record.programmes.append(get(c_regime))
        if get(c_dob):
            for value in re.split(r"[;|]", get(c_dob)):
                parsed = parse_loose_date(value.replace("dd", "00").replace("mm", "00"))
                if value.strip() and parsed is None:
                    raise WatchlistFormatError(file=str(path), line=line, field=header[c_dob],
                                               problem=f"unreadable date {value!r}")
                if parsed:
                    record.dobs.append(parsed)
        for c in (c_nat, c_country):
            for value in re.split(r"[;|]|\(\d+\)", get(c)):
                code = to_iso2(value)
                if code:
                    record.countries.append(code)
        for c, kind in ((c_passport, "Passport"), (c_natid, "National ID")):
            for value in re.split(r"[;|]", get(c)):
                if value.strip():
                    record.identifiers.append(Identifier(kind=kind, number=value.strip()))
    return [_tidy(r) for r in records.values()]


def _tidy(record: WatchlistRecord) -> WatchlistRecord:
    record.aliases = [a for a in _dedupe(record.aliases) if a != record.name]
    record.weak_aliases = [a for a in _dedupe(record.weak_aliases) if a not in record.aliases and a != record.name]
    record.countries = _dedupe(record.countries)
    record.dobs = _dedupe(record.dobs)
    record.programmes = _dedupe(record.programmes)
    seen = set()
    ids = []
    for ident in record.identifiers:
        key = (ident.kind, ident.number, ident.country)
        if key not in seen:
            seen.add(key)
            ids.append(ident)
    record.identifiers = ids
    return record


# --------------------------------------------------------------------------------------------
# EU consolidated list CSV

_EU_KIND = {"P": "person", "E": "entity", "PERSON": "person", "ENTERPRISE": "entity", "ENTITY": "entity"}


def parse_eu(path: str | Path) -> list[WatchlistRecord]:
    """EU 'csvFullSanctionsList': ';'-separated (',' accepted), one row per sub-record."""
    path = Path(path)
    text = _read_text(path)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    rows = _csv_rows(path, delimiter=delimiter)
    header_row = next(rows, None)
    if header_row is None:
        raise WatchlistFormatError(file=str(path), line=1, field="header", problem="empty file")
    line_no, header = header_row
    cols = {h.strip(): i for i, h in enumerate(header)}
    for required in ("Entity_LogicalId", "NameAlias_WholeName"):
        if required not in cols:
            raise WatchlistFormatError(file=str(path), line=line_no, field=required, problem="missing column")
    kind_col = next((c for c in ("Entity_SubjectType_ClassificationCode", "Entity_SubjectType") if c in cols), None)
    if kind_col is None:
        raise WatchlistFormatError(file=str(path), line=line_no, field="Entity_SubjectType", problem="missing column")

    records: dict[str, WatchlistRecord] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise WatchlistFormatError(file=str(path), line=line, field="row",
                                       problem=f"expected {len(header)} fields, found {len(row)}")

        def get(name: str, row: list[str] = row) -> str:
            i = cols.get(name)
            return row[i].strip() if i is not None else ""

        logical_id = get("Entity_LogicalId")
        if not logical_id:
            raise WatchlistFormatError(file=str(path), line=line, field="Entity_LogicalId", problem="empty")
        record = records.get(logical_id)
        if record is None:
            kind_text = get(kind_col).upper()
            if kind_text not in _EU_KIND:
                raise WatchlistFormatError(file=str(path), line=line, field=kind_col,
                                           problem=f"unknown subject type {get(kind_col)!r}")
            record = records[logical_id] = WatchlistRecord(
                source="eu", ref=get("Entity_EU_ReferenceNumber") or get("Entity_ReferenceNumber") or logical_id,
                kind=_EU_KIND[kind_text], name="", topics=["sanction"])
        whole = get("NameAlias_WholeName")
        if whole:
            if not record.name:
                record.name = whole
            else:
                record.aliases.append(whole)
        programme = get("Entity_Regulation_Programme") or get("Regulation_Programme")
        if programme:
            record.programmes.append(programme)
        birth = get("BirthDate_BirthDate")
        if birth:
            parsed = parse_loose_date(birth)
            if parsed is None:
                raise WatchlistFormatError(file=str(path), line=line, field="BirthDate_BirthDate",
                                           problem=f"unreadable date {birth!r}")
            record.dobs.append(parsed)
        elif get("BirthDate_Year"):
            parsed = parse_loose_date(get("BirthDate_Year"))
            if parsed is None:
                raise WatchlistFormatError(file=str(path), line=line, field="BirthDate_Year",
                                           problem=f"unreadable year {get('BirthDate_Year')!r}")
            record.dobs.append(parsed)
        for c in ("Citizenship_CountryIso2Code", "Address_CountryIso2Code", "BirthDate_CountryIso2Code"):
            code = to_iso2(get(c))
            if code:
                record.countries.append(code)
        number = get("Identification_Number")
        if number:
            record.identifiers.append(Identifier(kind=get("Identification_TypeCode") or "id", number=number,
                                                 country=to_iso2(get("Identification_CountryIso2Code"))))
    for logical_id, record in records.items():
        if not record.name:
            raise WatchlistFormatError(file=str(path), line=None, field="NameAlias_WholeName",
                                       problem=f"entity {logical_id} has no name")
    return [_tidy(r) for r in records.values()]


# --------------------------------------------------------------------------------------------
# OpenSanctions FollowTheMoney JSON lines

_FTM_KIND = {"Person": "person", "Company": "entity", "Organization": "entity", "LegalEntity": "entity",
             "PublicBody": "entity", "Vessel": "vessel", "Airplane": "aircraft"}


def parse_ftm(path: str | Path) -> list[WatchlistRecord]:
    path = Path(path)
    text = _read_text(path)
    out: list[WatchlistRecord] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise WatchlistFormatError(file=str(path), line=line, field="json", problem=exc.msg) from exc
        if not isinstance(obj, dict):
            raise WatchlistFormatError(file=str(path), line=line, field="json", problem="not an object")
        for required in ("id", "schema", "properties"):
            if required not in obj:
                raise WatchlistFormatError(file=str(path), line=line, field=required, problem="missing")
        kind = _FTM_KIND.get(obj["schema"])
        if kind is None or obj.get("target") is False:
            continue  # addresses, sanctions, ownership links: not screenable subjects
        props = obj["properties"]
        if not isinstance(props, dict):
            raise WatchlistFormatError(file=str(path), line=line, field="properties", problem="not an object")
        names = props.get("name") or ([obj["caption"]] if obj.get("caption") else [])
        if not names:
            raise WatchlistFormatError(file=str(path), line=line, field="properties.name", problem="no name")
        dobs = []
        for value in props.get("birthDate", []) + props.get("incorporationDate", []):
            parsed = parse_loose_date(value[:10])
            if parsed is None:
                raise WatchlistFormatError(file=str(path), line=line, field="properties.birthDate",
                                           problem=f"unreadable date {value!r}")
            dobs.append(parsed)
        countries = [to_iso2(c) for key in ("nationality", "citizenship", "country", "jurisdiction")
                     for c in props.get(key, [])]
        identifiers = [Identifier(kind=key, number=v) for key in
                       ("passportNumber", "idNumber", "innCode", "registrationNumber", "imoNumber", "taxNumber",
                        "leiCode", "ogrnCode")
                       for v in props.get(key, [])]
        topics = list(obj.get("topics") or props.get("topics") or [])
        out.append(_tidy(WatchlistRecord(
            source="ftm", ref=str(obj["id"]), kind=kind, name=names[0], aliases=names[1:] + props.get("alias", []),
            weak_aliases=props.get("weakAlias", []), dobs=dobs, countries=[c for c in countries if c],
            identifiers=identifiers, programmes=list(obj.get("datasets") or props.get("program", [])),
            topics=topics, remarks="; ".join(props.get("position", [])))))
    return out


def parse_source(source: str, paths: list[str | Path]) -> list[WatchlistRecord]:
    """Dispatch by source code: ofac takes the whole CSV set, the others one file each."""
    if source == "ofac":
        return parse_ofac(paths)
    if source == "uksl":  # the UK Sanctions List (FCDO), its own module
        from .uk_sanctions_list import parse_uksl

        return parse_uksl(paths[0])
    if source == "seco":  # the Swiss SECO list (SESAM XML)
        from .seco import parse_seco

        return [r for path in paths for r in parse_seco(path)]
    if source == "ae_local":  # the UAE Local Terrorist List (EOCN workbook)
        from .uae_local_list import parse_ae_local

        return [r for path in paths for r in parse_ae_local(path)]
    parser = {"un": parse_un, "uk": parse_uk, "eu": parse_eu, "ftm": parse_ftm}.get(source)
    if parser is None:
        raise WatchlistFormatError(file=", ".join(map(str, paths)), line=None, field="source",
                                   problem=f"unknown source {source!r}")
    out: list[WatchlistRecord] = []
    for path in paths:
        out.extend(parser(path))
    return out
