"""Watchlist parsers: the real OFAC and UN files, small UK/EU/FTM samples built here, and
bad files that must be rejected whole, naming file, line and field."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from compliance.exceptions import WatchlistFormatError
from compliance.screening.importers import (
    parse_eu,
    parse_ftm,
    parse_loose_date,
    parse_ofac,
    parse_ofac_remarks,
    parse_uk,
    parse_un,
)
from tests.compliance.conftest import ALT, SDN, write_ofac


def ofac_paths(shared_data):
    folder = shared_data / "sanctions" / "ofac"
    return sorted(folder.glob("*.csv"))


def test_the_real_ofac_set_parses_into_persons_entities_vessels_and_aircraft(shared_data):
    records = parse_ofac(ofac_paths(shared_data))
    kinds = Counter(r.kind for r in records)
    assert len(records) == 8976
    assert kinds == {"person": 4620, "entity": 3673, "vessel": 406, "aircraft": 277}
    bin_ladin = next(r for r in records if r.ref == "6365")
    assert bin_ladin.name == "BIN LADIN, Usama bin Muhammad bin Awad"
    assert "BIN LADEN, Osama" in bin_ladin.aliases
    assert bin_ladin.dobs == ["1957-07-30", "1958"]
    assert bin_ladin.places_of_birth == ["Jeddah, Saudi Arabia", "Yemen"]
    assert set(bin_ladin.countries) >= {"SA", "YE"}
    assert bin_ladin.programmes == ["SDGT"]


def test_ofac_remarks_give_ids_with_their_issuing_country(shared_data):
    records = {r.ref: r for r in parse_ofac(ofac_paths(shared_data))}
    nasser = records["6330"]
    assert [(i.kind, i.number, i.country) for i in nasser.identifiers] == [
        ("Cedula No.", "3710619", "CO"), ("Passport", "H130865", "CO")]
    assert nasser.dobs == ["1940-11-01", "1940-10-01"]
    # Most listed people carry a date of birth, most entries a country.
    assert sum(1 for r in records.values() if r.kind == "person" and r.dobs) > 4000
    assert sum(1 for r in records.values() if r.countries) > 8000


def test_ofac_overflow_remarks_in_sdn_comments_are_joined(shared_data):
    records = {r.ref: r for r in parse_ofac(ofac_paths(shared_data))}
    assert "Linked To: LAZARUS GROUP" in records["28264"].remarks


def test_remarks_parser_reads_nationality_citizen_and_alt_dob():
    parsed = parse_ofac_remarks("DOB circa 1960; alt. DOB Nov 1973; citizen Mexico; nationality Korea, North; "
                                "alt. Passport A123456 (Iran); National ID No. 123-45 (Iraq).")
    assert parsed["dobs"] == ["1960", "1973-11"]
    assert parsed["countries"] == ["MX", "KP"]
    assert [(i.kind, i.number, i.country) for i in parsed["identifiers"]] == [
        ("Passport", "A123456", "IR"), ("National ID No.", "123-45", "IQ")]


@pytest.mark.parametrize("text, expected", [
    ("10 Jan 1960", "1960-01-10"), ("Jan 1960", "1960-01"), ("1960", "1960"), ("1960 to 1962", "1960/1962"),
    ("circa 1958", "1958"), ("1978-04-28", "1978-04-28"), ("00/05/1970", "1970-05"), ("31 Feb 1970", None),
    ("unknown", None),
])
def test_loose_dates(text, expected):
    assert parse_loose_date(text) == expected


def test_the_real_un_list_parses_with_original_script_dob_and_documents(shared_data):
    records = parse_un(shared_data / "sanctions" / "un" / "consolidated.xml")
    assert Counter(r.kind for r in records) == {"person": 730, "entity": 273}
    assert len({r.ref for r in records}) == len(records)
    saddam = next(r for r in records if r.ref == "IQi.001")
    assert saddam.name == "SADDAM HUSSEIN AL-TIKRITI"
    assert "صدام حسين التكريتي" in saddam.aliases
    assert saddam.weak_aliases == ["Abu Ali"]
    assert saddam.dobs == ["1937-04-28"]
    assert saddam.countries == ["IQ"]
    with_passport = [r for r in records if any(i.kind == "Passport" for i in r.identifiers)]
    assert any(i.number == "OB 0243318" and i.country == "CD" for r in with_passport for i in r.identifiers)


def test_an_ofac_row_with_a_missing_field_is_rejected_naming_file_line_and_field(tmp_path):
    bad = SDN.splitlines()
    bad[2] = bad[2].rsplit(",", 1)[0]  # drop the remarks column of the third row
    paths = write_ofac(tmp_path, sdn="\n".join(bad) + "\n")
    with pytest.raises(WatchlistFormatError) as error:
        parse_ofac(paths)
    assert error.value.file.endswith("sdn.csv")
    assert error.value.line == 3
    assert error.value.field == "row"
    assert "sdn.csv, line 3" in error.value.message


def test_an_alias_for_an_unknown_entry_is_rejected(tmp_path):
    paths = write_ofac(tmp_path, alt=ALT + '77777,1,"aka","NOBODY",-0- \n')
    with pytest.raises(WatchlistFormatError) as error:
        parse_ofac(paths)
    assert (error.value.line, error.value.field) == (4, "ent_num")
    assert error.value.file.endswith("alt.csv")


def test_a_file_that_is_not_utf8_is_rejected_with_its_line(tmp_path):
    paths = write_ofac(tmp_path)
    sdn = tmp_path / "sdn.csv"
    sdn.write_bytes(sdn.read_bytes().replace(b"AEROCARIBBEAN", b"AERO\xe9CARIBBEAN"))
    with pytest.raises(WatchlistFormatError) as error:
        parse_ofac(paths)
    assert (error.value.line, error.value.field) == (1, "encoding")


def test_a_non_numeric_entity_number_is_rejected(tmp_path):
    paths = write_ofac(tmp_path, sdn=SDN.replace("6330,", "63x0,"))
    with pytest.raises(WatchlistFormatError) as error:
        parse_ofac(paths)
    assert (error.value.line, error.value.field) == (3, "ent_num")


def test_broken_un_xml_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "consolidated.xml"
    path.write_text("<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n<INDIVIDUAL><DATAID>1</DATAID>\n</INDIVIDUALS>\n",
                    encoding="utf-8")
    with pytest.raises(WatchlistFormatError) as error:
        parse_un(path)
    assert error.value.field == "xml" and error.value.line >= 3


def test_a_un_individual_without_a_name_is_rejected(tmp_path):
    path = tmp_path / "consolidated.xml"
    path.write_text("<CONSOLIDATED_LIST><INDIVIDUALS>\n<INDIVIDUAL>\n<DATAID>7</DATAID>\n"
                    "</INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>", encoding="utf-8")
    with pytest.raises(WatchlistFormatError) as error:
        parse_un(path)
    assert (error.value.line, error.value.field) == (2, "FIRST_NAME")


UK_HEADER = ("Name 6,Name 1,Name 2,Name 3,Name 4,Name 5,Name Type,Alias Strength,Title,DOB,Nationality,"
             "Passport,National ID,Regime,Entity Type,Country,Unique ID")


def uk_file(tmp_path, rows: list[str]):
    path = tmp_path / "UK_Sanctions_List.csv"
    path.write_text("Report Date: 27-Feb-2026\n" + UK_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_uk_list_groups_names_by_unique_id_and_keeps_weak_aliases(tmp_path):
    path = uk_file(tmp_path, [
        "PETROV,Ivan,Sergeyevich,,,,Primary Name,,Mr,12/03/1971,Russia,4005504207,,Russia,Individual,Russia,RUS0001",
        "PETROFF,Ivan,,,,,Alias,Strong,,,,,,Russia,Individual,,RUS0001",
        "VANYA,,,,,,Alias,Weak,,,,,,Russia,Individual,,RUS0001",
        "GOLDEN STAR TRADING LLC,,,,,,Primary Name,,,,,,,Iran,Entity,United Arab Emirates,IRN0002",
    ])
    records = {r.ref: r for r in parse_uk(path)}
    petrov = records["RUS0001"]
    assert petrov.kind == "person"
    assert petrov.name == "Ivan Sergeyevich PETROV"
    assert petrov.aliases == ["Ivan PETROFF"]
    assert petrov.weak_aliases == ["VANYA"]
    assert petrov.dobs == ["1971-03-12"]
    assert petrov.countries == ["RU"]
    assert petrov.identifiers[0].number == "4005504207"
    assert records["IRN0002"].kind == "entity" and records["IRN0002"].countries == ["AE"]


def test_uk_list_missing_a_column_is_rejected_naming_the_column(tmp_path):
    path = tmp_path / "uk.csv"
    path.write_text("Report Date: 27-Feb-2026\nName 6,Name 1,Unique ID\nX,Y,1\n", encoding="utf-8")
    with pytest.raises(WatchlistFormatError) as error:
        parse_uk(path)
    assert (error.value.line, error.value.field) == (2, "Name Type")


def test_uk_list_with_an_unreadable_dob_is_rejected_naming_the_line(tmp_path):
    path = uk_file(tmp_path, [
        "PETROV,Ivan,,,,,Primary Name,,,12/03/1971,Russia,,,Russia,Individual,,RUS0001",
        "SIDOROV,Pyotr,,,,,Primary Name,,,sometime,Russia,,,Russia,Individual,,RUS0002",
    ])
    with pytest.raises(WatchlistFormatError) as error:
        parse_uk(path)
    assert (error.value.line, error.value.field) == (4, "DOB")


EU_HEADER = ("fileGenerationDate;Entity_LogicalId;Entity_EU_ReferenceNumber;Entity_SubjectType_ClassificationCode;"
             "Entity_Regulation_Programme;NameAlias_WholeName;NameAlias_FirstName;NameAlias_LastName;"
             "BirthDate_BirthDate;BirthDate_Year;Citizenship_CountryIso2Code;Identification_Number;"
             "Identification_TypeCode;Identification_CountryIso2Code;Address_CountryIso2Code")


def test_eu_list_rows_are_grouped_by_logical_id(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("\n".join([
        EU_HEADER,
        "27/02/2026;13;EU.27.28;P;RUS;Ivan Sergeyevich PETROV;Ivan;PETROV;1971-03-12;;RU;;;;",
        "27/02/2026;13;EU.27.28;P;RUS;Иван Сергеевич Петров;;;;;;4005504207;passport;RU;",
        "27/02/2026;14;EU.30.11;E;IRN;Golden Star Trading LLC;;;;;;;;;AE",
    ]) + "\n", encoding="utf-8")
    records = {r.ref: r for r in parse_eu(path)}
    petrov = records["EU.27.28"]
    assert petrov.kind == "person" and petrov.name == "Ivan Sergeyevich PETROV"
    assert petrov.aliases == ["Иван Сергеевич Петров"]
    assert petrov.dobs == ["1971-03-12"] and petrov.countries == ["RU"]
    assert petrov.identifiers[0].number == "4005504207"
    assert records["EU.30.11"].kind == "entity"


def test_eu_list_with_an_unknown_subject_type_is_rejected(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text(EU_HEADER + "\n27/02/2026;13;EU.1;X;RUS;Someone;;;;;;;;;\n", encoding="utf-8")
    with pytest.raises(WatchlistFormatError) as error:
        parse_eu(path)
    assert (error.value.line, error.value.field) == (2, "Entity_SubjectType_ClassificationCode")


def ftm_line(**obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def test_ftm_json_lines_give_peps_with_topics_and_skip_non_subjects(tmp_path):
    path = tmp_path / "peps.json"
    path.write_text("\n".join([
        ftm_line(id="Q123", schema="Person", target=True, datasets=["everypolitician"], topics=["role.pep"],
                 properties={"name": ["Maria Fernanda Lopez"], "alias": ["María F. López"],
                             "birthDate": ["1965-04-02"], "nationality": ["mx"], "position": ["Senator"]}),
        ftm_line(id="addr-1", schema="Address", properties={"full": ["1 Main St"]}),
        ftm_line(id="NK-1", schema="Company", target=True, datasets=["us_ofac_sdn"],
                 properties={"name": ["Golden Star Trading LLC"], "topics": ["sanction"],
                             "registrationNumber": ["1234567"], "jurisdiction": ["ae"]}),
    ]) + "\n", encoding="utf-8")
    records = {r.ref: r for r in parse_ftm(path)}
    assert set(records) == {"Q123", "NK-1"}
    pep = records["Q123"]
    assert pep.kind == "person" and pep.topics == ["role.pep"]
    assert pep.dobs == ["1965-04-02"] and pep.countries == ["MX"] and pep.aliases == ["María F. López"]
    assert records["NK-1"].identifiers[0].number == "1234567"


def test_ftm_bad_json_line_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "peps.json"
    path.write_text(ftm_line(id="1", schema="Person", properties={"name": ["A B"]}) + "\n{not json\n",
                    encoding="utf-8")
    with pytest.raises(WatchlistFormatError) as error:
        parse_ftm(path)
    assert (error.value.line, error.value.field) == (2, "json")
