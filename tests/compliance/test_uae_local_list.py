"""The UAE Local Terrorist List importer, on workbooks built from the published form.

No copy of the list is in ../shared and the EOCN publishes no format specification. The
workbook's form is the one OpenSanctions' crawler reads from the list the EOCN publishes
(opensanctions/opensanctions, datasets/ae/local_terrorists/crawler.py and
ae_local_terrorists.yml): a legacy Excel (.xls) workbook, one sheet per part named in Arabic
(الأفراد individuals, التنظيمات organisations, رفع الإدراج - أفراد delisted individuals, ...), a
title block, a header row whose first cell is "#", Arabic column headers (the lookup there),
merged cells, categories شخص إرهابي / كيان إرهابي / تنظيم إرهابي and dates dd/mm/yyyy. The
subjects are invented; the expected records are read off the rows by hand.

`tests/compliance/data/ae_local_terrorist_list.xls` is these SHEETS written by
`tests/compliance/data/make_ae_local_list.py` (xlwt); the .xlsx copy is written here with the
standard library."""
import datetime as dt
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from compliance.exceptions import WatchlistFormatError
from compliance.screening.importers import SOURCES, parse_source
from compliance.screening.uae_local_list import parse_ae_local

try:
    import xlrd  # noqa: F401

    HAVE_XLRD = True
except ImportError:
    HAVE_XLRD = False

XLS = Path(__file__).parent / "data" / "ae_local_terrorist_list.xls"

HEADER_PERSONS = ["#", "التصنيف", "الاسم الكامل (بالحروف اللاتينية)", "الاسم الكامل (باللغة العربية)", "الجنسية",
                  "تاريخ الميلاد", "مكان الميلاد", "النوع", "رقم الوثيقة", "جهة الإصدار", "معلومات أخرى", "قرار الإدراج"]
HEADER_ENTITIES = ["#", "التصنيف", "الاسم الكامل (بالحروف اللاتينية)", "الاسم الكامل (بالحروف العربية)", "المقر",
                   "الدولة", "قرار الإدراج"]
HEADER_DELISTED = ["#", "التصنيف", "الاسم الكامل (بالحروف اللاتينية)", "الاسم الكامل (باللغة العربية)", "الجنسية",
                   "تاريخ الميلاد", "قرار الإدراج", "قرار رفع الإدراج"]
LISTED_2014 = "مدرج بموجب قرار مجلس الوزراء رقم (41) لسنة 2014"  # listed by Cabinet Decision No. (41) of 2014
LISTED_2021 = "مدرج بموجب قرار مجلس الوزراء رقم (83) لسنة 2021"

# (sheet name, rows, merged ranges (first row, last row, first col, last col), inclusive, 0-based)
SHEETS = [
    ("الأفراد", [
        ["قائمة الإرهاب المحلية - الأفراد", "", "", "", "", "", "", "", "", "", "", ""],
        ["", "", "", "", "", "", "", "", "", "", "", ""],
        HEADER_PERSONS,
        # one person over two rows (two passports): the name cells are merged down
        ["1", "شخص إرهابي", "Salem Ahmed Al-Qamari", "سالم أحمد القمري", "اليمن", "14/07/1978", "عدن",
         "جواز سفر", "04512345", "اليمن", "-", LISTED_2014],
        ["", "", "", "", "", "", "", "جواز سفر", "07788990", "اليمن", "", ""],
        ["2", "شخص إرهابي", "Khaled Mansour Fathi", "خالد منصور فتحي", "مصر", "1975", "-", "-", "-", "-",
         "مسجون", LISTED_2021],
        ["3", "شخص إرهابي", "", "يوسف عبدالله الحربي", "السعودية / الكويت", dt.date(1982, 3, 5), "", "", "", "",
         "", LISTED_2021],
    ], [(3, 4, 0, 0), (3, 4, 1, 1), (3, 4, 2, 2), (3, 4, 3, 3), (3, 4, 4, 4), (3, 4, 5, 5), (3, 4, 6, 6),
        (3, 4, 10, 10), (3, 4, 11, 11), (0, 0, 0, 11)]),
    ("التنظيمات", [
        ["قائمة الإرهاب المحلية - التنظيمات", "", "", "", "", "", ""],
        HEADER_ENTITIES,
        ["1", "تنظيم إرهابي", "Al-Nour Relief Foundation", "مؤسسة النور للإغاثة", "صنعاء", "اليمن", LISTED_2014],
        ["2", "كيان إرهابي", "Crescent Trading LLC", "شركة الهلال للتجارة", "-", "تركيا", LISTED_2021],
    ], [(0, 0, 0, 6)]),
    ("رفع الإدراج - أفراد", [
        ["رفع الإدراج - أفراد", "", "", "", "", "", "", ""],
        HEADER_DELISTED,
        ["1", "شخص إرهابي", "Omar Delisted Example", "عمر مثال", "قطر", "01/01/1960", LISTED_2014,
         "رفع الإدراج بموجب قرار مجلس الوزراء رقم (12) لسنة 2019"],
    ], [(0, 0, 0, 7)]),
]


def _ref(col: int, row: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def write_xlsx(path: Path, sheets=SHEETS) -> Path:
    """A minimal Office Open XML workbook: inline strings and merged ranges."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'))
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>' + "".join(
            f'<sheet name="{escape(name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
            for i, (name, _, _) in enumerate(sheets)) + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels", (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' + "".join(
                f'<Relationship Id="rId{i + 1}" Type="{rel}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                for i in range(len(sheets))) + "</Relationships>"))
        for i, (_, rows, merges) in enumerate(sheets):
            body = []
            for r, row in enumerate(rows):
                cells = []
                for c, value in enumerate(row):
                    if isinstance(value, dt.date):
                        value = value.strftime("%d/%m/%Y")
                    if value != "":
                        cells.append(f'<c r="{_ref(c, r)}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
                body.append(f'<row r="{r + 1}">{"".join(cells)}</row>')
            merged = "".join(f'<mergeCell ref="{_ref(c1, r1)}:{_ref(c2, r2)}"/>' for r1, r2, c1, c2 in merges)
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml",
                       f'<worksheet xmlns="{main}"><sheetData>{"".join(body)}</sheetData>'
                       f'<mergeCells count="{len(merges)}">{merged}</mergeCells></worksheet>')
    return path


def check_records(records):
    by_name = {r.name: r for r in records}
    assert set(by_name) == {"Salem Ahmed Al-Qamari", "Khaled Mansour Fathi", "يوسف عبدالله الحربي",
                            "Al-Nour Relief Foundation", "Crescent Trading LLC"}  # the delisted row is left out
    salem = by_name["Salem Ahmed Al-Qamari"]
    assert (salem.source, salem.kind, salem.aliases) == ("ae_local", "person", ["سالم أحمد القمري"])
    assert salem.dobs == ["1978-07-14"] and salem.countries == ["YE"] and salem.places_of_birth == ["عدن"]
    # the two rows of the merged cells are one subject with both passports
    assert [(i.kind, i.number, i.country) for i in salem.identifiers] == [
        ("جواز سفر", "04512345", "YE"), ("جواز سفر", "07788990", "YE")]
    assert salem.programmes == [LISTED_2014]
    khaled = by_name["Khaled Mansour Fathi"]
    assert khaled.dobs == ["1975"] and khaled.countries == ["EG"] and khaled.identifiers == []
    assert khaled.remarks == "مسجون"
    yousef = by_name["يوسف عبدالله الحربي"]
    assert yousef.dobs == ["1982-03-05"] and yousef.countries == ["SA", "KW"]
    foundation = by_name["Al-Nour Relief Foundation"]
    assert (foundation.kind, foundation.aliases, foundation.countries) == ("entity", ["مؤسسة النور للإغاثة"], ["YE"])
    assert by_name["Crescent Trading LLC"].countries == ["TR"]
    assert len({r.ref for r in records}) == 5 and all(r.ref.startswith("AE-") for r in records)


def test_ae_local_is_an_import_source():
    assert "ae_local" in SOURCES


def test_the_published_xls_workbook_is_read():
    pytest.importorskip("xlrd", reason="the .xls reader (xlrd) is declared in pyproject.toml")
    check_records(parse_source("ae_local", [XLS]))


def test_the_same_workbook_saved_as_xlsx_gives_the_same_records(tmp_path):
    records = parse_ae_local(write_xlsx(tmp_path / "list.xlsx"))
    check_records(records)
    if HAVE_XLRD:
        assert {r.ref: r.content_hash() for r in records} == {
            r.ref: r.content_hash() for r in parse_ae_local(XLS)}


def test_the_reference_is_stable_when_rows_move(tmp_path):
    first = {r.name: r.ref for r in parse_ae_local(write_xlsx(tmp_path / "a.xlsx"))}
    name, rows, merges = SHEETS[1]
    moved = [SHEETS[0], (name, [rows[0], rows[1], rows[3], rows[2]], merges), SHEETS[2]]
    assert {r.name: r.ref for r in parse_ae_local(write_xlsx(tmp_path / "b.xlsx", moved))} == first


@pytest.mark.parametrize(("change", "field"), [
    (lambda rows: rows[3].__setitem__(1, "شخص"), "التصنيف"),
    (lambda rows: rows[5].__setitem__(5, "31/31/1975"), "تاريخ الميلاد"),
    (lambda rows: [rows[5].__setitem__(c, "") for c in (2, 3)], "الاسم الكامل"),
])
def test_a_bad_row_is_refused_naming_sheet_row_and_column(tmp_path, change, field):
    name, rows, merges = SHEETS[0]
    rows = [list(r) for r in rows]
    change(rows)
    with pytest.raises(WatchlistFormatError) as exc:
        parse_ae_local(write_xlsx(tmp_path / "bad.xlsx", [(name, rows, merges), *SHEETS[1:]]))
    assert exc.value.detail["field"] == field and "الأفراد" in exc.value.detail["file"]


def test_a_file_that_is_not_the_list_is_refused(tmp_path):
    csv = tmp_path / "list.csv"
    csv.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(WatchlistFormatError, match="Excel"):
        parse_ae_local(csv)
    other = write_xlsx(tmp_path / "other.xlsx", [("Sheet1", [["Name", "Country"], ["X", "Y"]], [])])
    with pytest.raises(WatchlistFormatError, match="header row"):
        parse_ae_local(other)


@pytest.mark.django_db
def test_the_import_is_all_or_nothing_with_a_diff(tmp_path):
    from compliance import services
    from compliance.models import WatchlistSnapshot

    first = services.watchlist_import(source="ae_local", paths=[write_xlsx(tmp_path / "v1.xlsx")])
    assert (first.version, first.entry_count) == (1, 5)
    name, rows, merges = SHEETS[1]
    rows = [list(r) for r in rows]
    rows[3][4] = "إسطنبول"  # Crescent Trading's headquarters now given: not a screened field, no change
    rows[3][5] = "تركيا / قبرص"  # ... and a second country: changed
    second = services.watchlist_import(source="ae_local", paths=[
        write_xlsx(tmp_path / "v2.xlsx", [SHEETS[0], (name, rows[:4], merges)])])
    assert (second.report["added"], second.report["changed"], second.report["removed"]) == (0, 1, 0)
    with pytest.raises(WatchlistFormatError):
        bad = tmp_path / "v3.xlsx"
        bad.write_bytes(b"PK\x03\x04 broken")
        services.watchlist_import(source="ae_local", paths=[bad])
    assert WatchlistSnapshot.objects.get(source="ae_local", is_active=True).version == 2


@pytest.mark.django_db
def test_an_ae_case_is_screened_against_the_local_terrorist_list(tmp_path, firm, advisor):
    import time_machine

    from compliance import services
    from compliance.models import ScreeningAlert
    from onboarding import services as onboarding
    from onboarding.audit import events_for
    from tests.factories import PersonFactory

    onboarding.rulepacks_load()
    services.watchlist_import(source="ae_local", paths=[write_xlsx(tmp_path / "list.xlsx")])
    party = PersonFactory(firm=firm, given_names="Salem Ahmed", family_name="Al-Qamari",
                          date_of_birth=dt.date(1978, 7, 14), nationalities=["YE"], residence_country="AE")
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)):
        case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="AE")
        services.screen_party(party=party, trigger="test", case=case)
    alert = ScreeningAlert.objects.get(party=party)
    assert alert.source == "ae_local" and alert.entry_name == "Salem Ahmed Al-Qamari"
    event = events_for(party).filter(event_type="screening.performed").last()
    assert event.detail["lists"] == ["ae_local", "ofac", "un"]
