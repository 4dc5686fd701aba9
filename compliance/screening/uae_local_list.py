"""The UAE Local Terrorist List (Cabinet Decision No. 74 of 2020, Art. 4) in its published form.

The Executive Office for Control & Non-Proliferation (EOCN, www.uaeiec.gov.ae) publishes the
list as one Excel workbook ("Local Terrorist List", "Download Excel File"), in the legacy .xls
format, in Arabic. No format specification is published; the structure read here is the one
OpenSanctions' crawler reads from the published workbook (opensanctions/opensanctions,
datasets/ae/local_terrorists/crawler.py and ae_local_terrorists.yml):

- one sheet per part of the list, named in Arabic: الأفراد (individuals), التنظيمات
  (organisations), الكيانات (entities), and the delisted ones رفع الإدراج - أفراد / رفع الإدراج -
  كيانات ("delisting - individuals / entities");
- on each sheet, a title block, then a header row whose first cell is "#", then one row per
  listed subject; cells may be merged (a merged cell's value is its top-left cell's);
- the columns, by their Arabic headers: # (row number), التصنيف (category: شخص إرهابي terrorist
  person, كيان إرهابي / تنظيم إرهابي terrorist entity / organisation), الاسم الكامل (بالحروف
  اللاتينية) (full name in Latin letters), الاسم الكامل (باللغة العربية) or (بالحروف العربية)
  (full name in Arabic), الاسم (name), اسم العائلة (...) (family name), الجنسية (nationality),
  تاريخ الميلاد (date of birth, dd/mm/yyyy or a year), مكان الميلاد (place of birth), النوع /
  رقم الوثيقة / جهة الإصدار / تاريخ الإصدار / تاريخ الانتهاء (identity document: type, number,
  issuer, issue and expiry dates), الشارع / المدينة / الدولة (street, city, country), المقر
  (headquarters), رقم الرخصة / انتهاء الترخيص (licence number / expiry), معلومات أخرى (other
  information), ملاحظات (remarks), قرار الإدراج (the listing decision, "listed by Cabinet Decision
  No. (..) of ....") and, on the delisted sheets, قرار رفع الإدراج (the delisting decision).

The file carries no stable identifier (the "#" column numbers the rows of a sheet), so a record's
reference is a digest of its category, names and date of birth: it stays the same from one
publication to the next while the entry does. Delisted rows are not imported. The .xls workbook
is read with xlrd; a workbook saved as .xlsx is read as well. Records have source "ae_local"; a
malformed workbook raises WatchlistFormatError naming file, sheet and row, and nothing partial is
returned.
"""
from __future__ import annotations

import gettext
import hashlib
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry
from lxml import etree

from compliance.exceptions import WatchlistFormatError

from .countries import to_iso2
from .importers import Identifier, WatchlistRecord, _dedupe, parse_loose_date

SOURCE = "ae_local"

# Arabic header -> field (OpenSanctions' lookup of the published headers).
HEADERS = {
    "#": "index",
    "التصنيف": "category",
    "الاسم الكامل (بالحروف اللاتينية)": "name_latin",
    "الاسم الكامل (باللغة العربية)": "name_arabic",
    "الاسم الكامل (بالحروف العربية)": "name_arabic",
    "الاسم": "name",
    "اسم العائلة (بالحروف اللاتينية)": "family_latin",
    "اسم العائلة (بالحروف العربية)": "family_arabic",
    "الجنسية": "nationality",
    "تاريخ الميلاد": "birth_date",
    "مكان الميلاد": "birth_place",
    "الشارع": "street",
    "المدينة": "city",
    "الدولة": "country",
    "النوع": "document_type",
    "رقم الوثيقة": "document_number",
    "جهة الإصدار": "issuer",
    "تاريخ الإصدار": "document_issued",
    "تاريخ الانتهاء": "document_expiry",
    "معلومات أخرى": "other_information",
    "ملاحظات": "remarks",
    "المقر": "headquarters",
    "انتهاء الترخيص": "licence_expiry",
    "رقم الرخصة": "licence_number",
    "قرار الإدراج": "listing_decision",
    "قرار رفع الإدراج": "delisting_decision",
}
CATEGORIES = {"شخص إرهابي": "person", "كيان إرهابي": "entity", "تنظيم إرهابي": "entity"}
DELISTED_SHEET = "رفع الإدراج"  # "delisting"
PERSON_SHEET = "الأفراد"  # "individuals"
_SPLIT = re.compile(r"\s*(?:/|؛|;|،|,|\s-\s|\sو\s)\s*")
_ARABIC_COUNTRY_EXTRA = {
    "السعودية": "SA", "الإمارات": "AE", "الامارات": "AE", "بريطانيا": "GB", "أمريكا": "US",
    "الكويت": "KW", "قطر": "QA", "البحرين": "BH", "عمان": "OM", "سلطنة عمان": "OM", "اليمن": "YE",
    "سوريا": "SY", "العراق": "IQ", "ليبيا": "LY", "تركيا": "TR", "إيران": "IR", "ايران": "IR",
}


@dataclass
class Sheet:
    name: str
    rows: list[list[str]]  # merged cells resolved to their top-left value


# --- reading the workbook ------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split()) if value is not None else ""


def _read_xls(path: Path) -> list[Sheet]:
    try:
        import xlrd  # the published workbook is legacy .xls (BIFF8); declared in pyproject.toml
    except ImportError as exc:
        raise WatchlistFormatError(file=str(path), line=None, field="file",
                                   problem="reading the published .xls workbook needs the xlrd package") from exc
    try:
        book = xlrd.open_workbook(str(path), formatting_info=True)
    except xlrd.XLRDError as exc:
        raise WatchlistFormatError(file=str(path), line=None, field="file", problem=str(exc)) from exc
    sheets = []
    for sheet in book.sheets():
        merged = {(r, c): (rlo, clo) for (rlo, rhi, clo, chi) in sheet.merged_cells
                  for r in range(rlo, rhi) for c in range(clo, chi)}
        rows = []
        for r in range(sheet.nrows):
            row = []
            for c in range(sheet.ncols):
                cell = sheet.cell(*merged.get((r, c), (r, c)))
                if cell.ctype == xlrd.XL_CELL_DATE:
                    y, m, d, *_ = xlrd.xldate_as_tuple(cell.value, book.datemode)
                    row.append(f"{d:02d}/{m:02d}/{y:04d}")
                else:
                    row.append(_cell_text(cell.value))
            rows.append(row)
        sheets.append(Sheet(name=sheet.name, rows=rows))
    return sheets


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _col_index(ref: str) -> tuple[int, int]:
    match = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    if not match:
        raise ValueError(ref)
    col = 0
    for ch in match.group(1):
        col = col * 26 + ord(ch) - 64
    return int(match.group(2)) - 1, col - 1


def _read_xlsx(path: Path) -> list[Sheet]:
    """An .xlsx workbook (Office Open XML), read with the standard library and lxml."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            shared: list[str] = []
            if "xl/sharedStrings.xml" in names:
                sst = etree.fromstring(z.read("xl/sharedStrings.xml"), parser)
                shared = ["".join(si.itertext()) for si in sst.iterfind("m:si", _NS)]
            book = etree.fromstring(z.read("xl/workbook.xml"), parser)
            rels = etree.fromstring(z.read("xl/_rels/workbook.xml.rels"), parser)
            targets = {r.get("Id"): r.get("Target") for r in rels}
            sheets = []
            for sheet_el in book.iterfind("m:sheets/m:sheet", _NS):
                target = targets[sheet_el.get(_REL)].lstrip("/")
                target = target if target.startswith("xl/") else f"xl/{target}"
                ws = etree.fromstring(z.read(target), parser)
                cells: dict[tuple[int, int], str] = {}
                for c in ws.iterfind("m:sheetData/m:row/m:c", _NS):
                    kind, v = c.get("t"), c.find("m:v", _NS)
                    if kind == "s" and v is not None:
                        value = shared[int(v.text or "0")]
                    elif kind == "inlineStr":
                        value = "".join(c.find("m:is", _NS).itertext()) if c.find("m:is", _NS) is not None else ""
                    else:
                        value = v.text or "" if v is not None else ""
                    cells[_col_index(c.get("r"))] = _cell_text(value)
                for merge in ws.iterfind("m:mergeCells/m:mergeCell", _NS):
                    first, last = (_col_index(x) for x in merge.get("ref").split(":"))
                    for r in range(first[0], last[0] + 1):
                        for col in range(first[1], last[1] + 1):
                            cells[(r, col)] = cells.get(first, "")
                nrows = max((r for r, _ in cells), default=-1) + 1
                ncols = max((col for _, col in cells), default=-1) + 1
                rows = [[cells.get((r, col), "") for col in range(ncols)] for r in range(nrows)]
                sheets.append(Sheet(name=sheet_el.get("name") or "", rows=rows))
    except (zipfile.BadZipFile, KeyError, ValueError, IndexError, etree.XMLSyntaxError) as exc:
        raise WatchlistFormatError(file=str(path), line=None, field="file",
                                   problem=f"not a readable .xlsx workbook ({exc})") from exc
    return sheets


def read_workbook(path: Path) -> list[Sheet]:
    try:
        head = path.read_bytes()[:8]
    except OSError as exc:
        raise WatchlistFormatError(file=str(path), line=None, field="file", problem=str(exc)) from exc
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2 compound file: .xls
        return _read_xls(path)
    if head.startswith(b"PK"):
        return _read_xlsx(path)
    raise WatchlistFormatError(file=str(path), line=1, field="file",
                               problem="not an Excel workbook (.xls or .xlsx): the list is published as Excel")


# --- the list ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _arabic_countries() -> dict[str, str]:
    """Arabic country names -> ISO alpha-2, from pycountry's Arabic translation of ISO 3166-1."""
    out = dict(_ARABIC_COUNTRY_EXTRA)
    try:
        ar = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ar"])
    except OSError:
        return out
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            english = getattr(country, attr, None)
            if english and ar.gettext(english) != english:
                out.setdefault(" ".join(ar.gettext(english).split()), country.alpha_2)
    return out


def _countries(value: str) -> list[str]:
    out = []
    for part in _SPLIT.split(value):
        part = re.sub(r"^(الحالية|السابقة)\s*:\s*", "", part.strip())  # "current: / former:"
        part = re.sub(r"\s*-\s*مسجون$", "", part)  # "- imprisoned"
        code = _arabic_countries().get(part) or to_iso2(part)
        if code:
            out.append(code)
    return out


def _ref(kind: str, names: list[str], dob: str) -> str:
    key = "|".join([kind, *(" ".join(n.split()).casefold() for n in names), dob])
    return "AE-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _header(path: Path, sheet: Sheet, line: int, row: list[str]) -> dict[str, int]:
    cols: dict[str, int] = {}
    for i, text in enumerate(row):
        field = HEADERS.get(" ".join(text.split()))
        if field and field not in cols:
            cols[field] = i
    if not any(f in cols for f in ("name_latin", "name_arabic", "name")):
        raise WatchlistFormatError(file=f"{path} [{sheet.name}]", line=line, field="الاسم الكامل",
                                   problem="no name column in the header row")
    return cols


def parse_ae_local(path: str | Path) -> list[WatchlistRecord]:
    path = Path(path)
    sheets = read_workbook(path)
    records: dict[str, WatchlistRecord] = {}
    headers_seen = 0
    for sheet in sheets:
        delisted_sheet = DELISTED_SHEET in sheet.name
        cols: dict[str, int] | None = None
        for line, row in enumerate(sheet.rows, start=1):
            if not row or not row[0]:
                continue
            if "#" in row[0]:
                cols = _header(path, sheet, line, row)
                headers_seen += 1
                continue
            if cols is None:
                continue  # the title block above the header

            def get(field: str, row: list[str] = row, cols: dict[str, int] = cols) -> str:
                i = cols.get(field)
                value = row[i] if i is not None and i < len(row) else ""
                return "" if value == "-" else value

            where = f"{path} [{sheet.name}]"
            if delisted_sheet or get("delisting_decision"):
                continue
            category = get("category")
            if category:
                if category not in CATEGORIES:
                    raise WatchlistFormatError(file=where, line=line, field="التصنيف",
                                               problem=f"unknown category {category!r}")
                kind = CATEGORIES[category]
            else:
                kind = "person" if sheet.name.strip() == PERSON_SHEET else "entity"
            names = [n for n in (get("name_latin"), get("name_arabic"), get("name")) if n]
            if not names:
                raise WatchlistFormatError(file=where, line=line, field="الاسم الكامل", problem="no name")
            dob = ""
            if get("birth_date"):
                dob = parse_loose_date(get("birth_date")) or ""
                if not dob:
                    raise WatchlistFormatError(file=where, line=line, field="تاريخ الميلاد",
                                               problem=f"unreadable date {get('birth_date')!r}")
            ref = _ref(kind, names, dob)
            record = records.get(ref)
            if record is None:
                record = records[ref] = WatchlistRecord(source=SOURCE, ref=ref, kind=kind, name=names[0],
                                                        topics=["sanction"])
            record.aliases.extend(names[1:])
            if dob:
                record.dobs.append(dob)
            record.countries.extend(_countries(get("nationality")) + _countries(get("country")))
            if get("birth_place"):
                record.places_of_birth.append(get("birth_place"))
            if get("document_number"):
                record.identifiers.append(Identifier(kind=get("document_type") or "document",
                                                     number=get("document_number"),
                                                     country=(_countries(get("issuer")) or [""])[0]))
            if get("licence_number"):
                record.identifiers.append(Identifier(kind="licence", number=get("licence_number")))
            record.programmes.append(get("listing_decision") or "UAE Local Terrorist List")
            notes = " ".join(n for n in (get("other_information"), get("remarks")) if n)
            if notes:
                record.remarks = " ".join(filter(None, [record.remarks, notes]))[:2000]
    if not headers_seen:
        raise WatchlistFormatError(file=str(path), line=None, field="#",
                                   problem="no sheet has a header row starting with '#': not the UAE Local Terrorist List")
    out = []
    for record in records.values():
        record.aliases = [a for a in _dedupe(record.aliases) if a != record.name]
        record.dobs = _dedupe(record.dobs)
        record.countries = _dedupe(record.countries)
        record.places_of_birth = _dedupe(record.places_of_birth)
        record.programmes = _dedupe(record.programmes)
        out.append(record)
    return out
