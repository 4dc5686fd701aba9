"""The UK Sanctions List (FCDO) importer, on files built from the published format: the XML
element names and the CSV columns described in the FCDO guidance "UK Sanctions List: change to
the list's format" (February 2022) and used by the list published at
https://www.gov.uk/government/publications/the-uk-sanctions-list (no copy is in ../shared)."""
import pytest

from compliance.exceptions import WatchlistFormatError
from compliance.screening.importers import SOURCES, parse_source
from compliance.screening.uk_sanctions_list import parse_uksl

XML = """<?xml version="1.0" encoding="utf-8"?>
<Designations>
  <DateGenerated>28/01/2026</DateGenerated>
  <Designation>
    <LastUpdated>28/01/2026</LastUpdated>
    <DateDesignated>24/02/2022</DateDesignated>
    <UniqueID>RUS0251</UniqueID>
    <OFSIGroupID>14180</OFSIGroupID>
    <UNReferenceNumber />
    <Names>
      <Name><Name1>Ivan</Name1><Name2>Petrovich</Name2><Name6>SIDOROV</Name6><NameType>Primary Name</NameType></Name>
      <Name><Name1>Ivan</Name1><Name6>SIDOROFF</Name6><NameType>Primary Name Variation</NameType></Name>
      <Name><Name6>The Baker</Name6><NameType>Alias</NameType><AliasStrength>Weak</AliasStrength></Name>
    </Names>
    <NonLatinNames><NameNonLatinScript>Иван Петрович СИДОРОВ</NameNonLatinScript><NonLatinScriptType>Cyrillic</NonLatinScriptType><NonLatinScriptLanguage>Russian</NonLatinScriptLanguage></NonLatinNames>
    <RegimeName>The Russia (Sanctions) (EU Exit) Regulations 2019</RegimeName>
    <IndividualEntityShip>Individual</IndividualEntityShip>
    <DesignationSource>UK</DesignationSource>
    <SanctionsImposed>Asset freeze|Travel Ban</SanctionsImposed>
    <OtherInformation>Test record built from the published format</OtherInformation>
    <Addresses><Address><AddressLine1>1 Red Square</AddressLine1><AddressCountry>Russia</AddressCountry></Address></Addresses>
    <IndividualDetails><Individual>
      <DOBs><DOB>01/02/1960</DOB><DOB>dd/mm/1961</DOB></DOBs>
      <Nationalities><Nationality>Russia</Nationality></Nationalities>
      <BirthDetails><Location><TownOfBirth>Moscow</TownOfBirth><CountryOfBirth>Russia</CountryOfBirth></Location></BirthDetails>
    </Individual></IndividualDetails>
  </Designation>
  <Designation>
    <UniqueID>IRN0010</UniqueID>
    <Names><Name><Name6>OCEAN STAR</Name6><NameType>Primary Name</NameType></Name></Names>
    <RegimeName>The Iran (Sanctions) Regulations 2023</RegimeName>
    <IndividualEntityShip>Ship</IndividualEntityShip>
    <ShipDetails><Ship><IMONumbers><IMONumber>9123456</IMONumber></IMONumbers></Ship></ShipDetails>
  </Designation>
</Designations>
"""

HEADER = ("Last Updated,Unique ID,OFSI Group ID,UN Reference Number,Name 6,Name 1,Name 2,Name 3,Name 4,Name 5,"
          "Name type,Alias strength,Title,Name non-latin script,Non-latin script type,Non-latin script language,"
          "Regime Name,Designation Type,Designation source,Sanctions Imposed,Other Information,"
          "UK Statement of Reasons,Address Line 1,Address Line 2,Address Line 3,Address Line 4,Address Line 5,"
          "Address Line 6,Address Postal Code,Address Country,Phone number,Website,Email address,Date Designated,"
          "D.O.B,Nationality(/ies),National Identifier number,National Identifier additional information,"
          "Passport number,Passport additional information,Position,Gender,Town of birth,Country of birth,"
          "Type of entity,Subsidiaries,Parent company,Business registration number (s),IMO number,"
          "Current owner/operator (s),Previous owner/operator (s),Current believed flag of ship,Previous flags,"
          "Type of ship,Tonnage of ship,Length of ship,Year Built,Hull identification number (HIN)")
COLUMNS = HEADER.split(",")


def csv_row(**values):
    return ",".join(f'"{values.get(c, "")}"' for c in COLUMNS)


def csv_file(tmp_path, rows, first="Report Date: 28-Jan-2026"):
    path = tmp_path / "UK_Sanctions_List.csv"
    path.write_text("\n".join([first, HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_uksl_is_an_import_source_beside_ofac_un_eu_and_opensanctions():
    assert {"ofac", "un", "eu", "ftm", "uksl"} <= set(SOURCES)


def test_the_xml_format_gives_one_record_per_designation(tmp_path):
    path = tmp_path / "UK_Sanctions_List.xml"
    path.write_text(XML, encoding="utf-8")
    records = {r.ref: r for r in parse_source("uksl", [path])}
    person, ship = records["RUS0251"], records["IRN0010"]
    assert (person.source, person.kind, person.name) == ("uksl", "person", "Ivan Petrovich SIDOROV")
    assert "Ivan SIDOROFF" in person.aliases and "Иван Петрович СИДОРОВ" in person.aliases
    assert person.weak_aliases == ["The Baker"]
    assert person.dobs == ["1960-02-01", "1961"]
    assert person.countries == ["RU"]
    assert person.programmes == ["The Russia (Sanctions) (EU Exit) Regulations 2019"]
    assert ship.kind == "vessel" and [(i.kind, i.number) for i in ship.identifiers] == [("IMO", "9123456")]


def test_the_csv_format_groups_name_rows_by_unique_id(tmp_path):
    path = csv_file(tmp_path, [
        csv_row(**{"Unique ID": "RUS0251", "Name 6": "SIDOROV", "Name 1": "Ivan", "Name type": "Primary Name",
                   "Regime Name": "Russia", "Designation Type": "Individual", "D.O.B": "01/02/1960",
                   "Nationality(/ies)": "Russia", "Passport number": "7512345"}),
        csv_row(**{"Unique ID": "RUS0251", "Name 6": "SIDOROFF", "Name 1": "Ivan", "Name type": "Alias",
                   "Alias strength": "Good", "Regime Name": "Russia", "Designation Type": "Individual"}),
        csv_row(**{"Unique ID": "RUS1001", "Name 6": "ACME DEFENCE JSC", "Name type": "Primary Name",
                   "Regime Name": "Russia", "Designation Type": "Entity", "Address Country": "Russia"}),
    ])
    records = {r.ref: r for r in parse_uksl(path)}
    assert records["RUS0251"].name == "Ivan SIDOROV" and records["RUS0251"].aliases == ["Ivan SIDOROFF"]
    assert records["RUS0251"].dobs == ["1960-02-01"] and records["RUS0251"].countries == ["RU"]
    assert [(i.kind, i.number) for i in records["RUS0251"].identifiers] == [("Passport", "7512345")]
    assert records["RUS1001"].kind == "entity" and records["RUS1001"].countries == ["RU"]


def test_a_csv_without_the_designation_type_column_is_rejected_naming_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Report Date: 28-Jan-2026\nUnique ID,Name 6,Name type,Regime Name\nX,Y,Primary Name,R\n")
    with pytest.raises(WatchlistFormatError) as exc:
        parse_uksl(path)
    assert exc.value.detail["field"] == "Designation Type" and exc.value.detail["line"] == 2


def test_an_unreadable_date_of_birth_is_rejected_naming_the_line(tmp_path):
    path = csv_file(tmp_path, [csv_row(**{"Unique ID": "A1", "Name 6": "X", "Name type": "Primary Name",
                                          "Designation Type": "Individual", "D.O.B": "31/31/1960"})])
    with pytest.raises(WatchlistFormatError) as exc:
        parse_uksl(path)
    assert exc.value.detail["line"] == 3 and exc.value.detail["field"] == "D.O.B"


def test_an_xml_file_that_is_not_the_uk_list_is_rejected(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text("<CONSOLIDATED_LIST/>")
    with pytest.raises(WatchlistFormatError, match="Designation"):
        parse_uksl(path)


# --- Wired into screening: a GB case screens the UK Sanctions List, not the closed OFSI list ---

OFSI = ("Report Date: 27-Jan-2026\n"
        "Name 6,Name 1,Name 2,Name 3,Name 4,Name 5,Title,DOB,Country,Group Type,Alias Type,Regime,Group ID\n"
        "SIDOROV,Ivan,Petrovich,,,,,01/02/1960,Russia,Individual,Primary Name,Russia,14180\n")


@pytest.mark.django_db
def test_a_gb_case_is_screened_against_the_uk_sanctions_list_not_the_closed_ofsi_list(tmp_path, firm, advisor):
    import datetime as dt

    import time_machine

    from compliance import services
    from compliance.models import ScreeningAlert
    from onboarding import services as onboarding
    from onboarding.audit import events_for
    from tests.factories import PersonFactory

    onboarding.rulepacks_load()
    xml = tmp_path / "UK_Sanctions_List.xml"
    xml.write_text(XML, encoding="utf-8")
    ofsi = tmp_path / "ConList.csv"
    ofsi.write_text(OFSI, encoding="utf-8")
    services.watchlist_import(source="uksl", paths=[xml])
    services.watchlist_import(source="uk", paths=[ofsi])
    party = PersonFactory(firm=firm, given_names="Ivan Petrovich", family_name="Sidorov", nationalities=["RU"])
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)):
        case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")
        services.screen_party(party=party, trigger="test", case=case)
    assert set(ScreeningAlert.objects.filter(party=party).values_list("source", flat=True)) == {"uksl"}
    event = events_for(party).filter(event_type="screening.performed").last()
    assert event.detail["lists"] == ["ofac", "uksl", "un"]
    assert event.detail["missing_lists"] == ["ofac", "un"]  # named by the packs, not imported here
    # Without a case (no jurisdiction to choose lists) every active list is screened: the OFSI
    # entry does match, so the case screening above left it out on purpose.
    services.screen_party(party=party, trigger="test")
    assert set(ScreeningAlert.objects.filter(party=party).values_list("source", flat=True)) == {"uksl", "uk"}


def test_the_xml_reading_agrees_with_the_published_list_as_opensanctions_reads_it(tmp_path):
    # Checked against OpenSanctions' crawler for the UK Sanctions List (opensanctions/opensanctions,
    # datasets/gb/fcdo_sanctions/crawler.py and gb_fcdo_sanctions.yml), which reads the file the
    # FCDO publishes: <Designation> with UniqueID, IndividualEntityShip (Individual | Entity |
    # Ship), Names/Name/Name1..Name6 + NameType ("Primary name", "Primary name variation",
    # "Alias", in that case), NonLatinNames/NameNonLatinScript, Addresses/Address/AddressCountry,
    # IndividualDetails/Individual with DOBs/DOB (formats dd/mm/yyyy, dd/mm/yyyy with "dd" and/or
    # "mm" for an unknown day or month), Nationalities/Nationality and BirthDetails/Location/
    # TownOfBirth + CountryOfBirth, ShipDetails/Ship/IMONumbers/IMONumber, RegimeName,
    # UNReferenceNumber and OtherInformation. The FCDO guidance "UK Sanctions List: change to the
    # list's format" (gov.uk, 17 February 2022) names the three name types and the ship type.
    xml = """<?xml version="1.0" encoding="utf-8"?>
<Designations>
  <Designation>
    <UniqueID>AFG0001</UniqueID><UNReferenceNumber>TAe.003</UNReferenceNumber>
    <RegimeName>The Afghanistan (Sanctions) (EU Exit) Regulations 2020</RegimeName>
    <IndividualEntityShip>Entity</IndividualEntityShip>
    <Names>
      <Name><Name6>HAJI KHAIRULLAH HAJI SATTAR MONEY EXCHANGE</Name6><NameType>Primary name</NameType></Name>
      <Name><Name6>HAJI KHAIRULLAH MONEY EXCHANGE</Name6><NameType>Primary name variation</NameType></Name>
      <Name><Name6>Haji Alim Hawala</Name6><NameType>Alias</NameType></Name>
    </Names>
    <NonLatinNames><NonLatinName><NameNonLatinScript>حاجی خیرالله</NameNonLatinScript></NonLatinName></NonLatinNames>
    <Addresses><Address><AddressLine1>Safi Landmark Hotel</AddressLine1><AddressCountry>Afghanistan</AddressCountry></Address></Addresses>
  </Designation>
  <Designation>
    <UniqueID>AFG0010</UniqueID>
    <IndividualEntityShip>Individual</IndividualEntityShip>
    <Names><Name><Name1>Abdul</Name1><Name2>Ghani</Name2><Name6>BARADAR</Name6><NameType>Primary name</NameType></Name></Names>
    <IndividualDetails><Individual>
      <DOBs><DOB>dd/mm/1968</DOB><DOB>dd/05/1968</DOB></DOBs>
      <Nationalities><Nationality>Afghanistan</Nationality></Nationalities>
      <BirthDetails><Location><TownOfBirth>Weetmak</TownOfBirth><CountryOfBirth>Afghanistan</CountryOfBirth></Location></BirthDetails>
    </Individual></IndividualDetails>
  </Designation>
</Designations>
"""
    path = tmp_path / "UK_Sanctions_List.xml"
    path.write_text(xml, encoding="utf-8")
    records = {r.ref: r for r in parse_uksl(path)}
    exchange, person = records["AFG0001"], records["AFG0010"]
    assert exchange.name == "HAJI KHAIRULLAH HAJI SATTAR MONEY EXCHANGE"  # "Primary name", any case
    assert exchange.aliases == ["HAJI KHAIRULLAH MONEY EXCHANGE", "Haji Alim Hawala", "حاجی خیرالله"]
    assert exchange.countries == ["AF"] and exchange.kind == "entity"
    assert [(i.kind, i.number) for i in exchange.identifiers] == [("UN reference", "TAe.003")]
    assert person.name == "Abdul Ghani BARADAR"
    assert person.dobs == ["1968", "1968-05"]
    assert person.places_of_birth == ["Weetmak, Afghanistan"] and person.countries == ["AF"]
