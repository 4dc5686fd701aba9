"""The Swiss sanctions list (SECO) importer, on a file built from the published XML format.

No copy of the list is in ../shared, and SECO publishes no XSD beside it. The elements and
attributes below are those of the published whole list (SESAM "Gesamtliste" XML,
`<swiss-sanctions-list list-type="whole-list">`) as OpenSanctions' crawler reads them
(opensanctions/opensanctions, datasets/ch/seco_sanctions/crawler.py: sanctions-program /
sanctions-set / program-name, place, target with sanctions-set-id and foreign-identifier,
individual / entity / object[@object-type=vessel], identity, name[@name-type, @quality],
name-part[@order, @name-part-type] / value / spelling-variant, day-month-year[@day, @month, @year],
nationality / country[@iso-code], place-of-birth[@place-id], address[@place-id],
identification-document[@document-type] / number / issuer, other-information, justification,
modification[@modification-type, @effective-date] with embedded <added> history). The names and
values are invented; the expected records are read off the file by hand."""
import io

import pytest
from django.core.management import call_command

from compliance.exceptions import WatchlistFormatError
from compliance.screening.importers import SOURCES, parse_source
from compliance.screening.seco import parse_seco

XML = """<?xml version="1.0" encoding="UTF-8"?>
<swiss-sanctions-list list-type="whole-list" date="2026-11-30">
  <sanctions-program ssid="20" version-date="2026-05-21">
    <program-key lang="eng">Belarus</program-key>
    <program-name lang="ger">Verordnung vom 16. März 2022 über Massnahmen gegenüber Belarus</program-name>
    <program-name lang="eng">Ordinance of 16 March 2022 on measures against Belarus (SR 946.231.116.9), annex 5</program-name>
    <sanctions-set ssid="4387" lang="eng">annex 5</sanctions-set>
    <origin>EU</origin>
  </sanctions-program>
  <sanctions-program ssid="900">
    <program-key lang="eng">North Korea</program-key>
    <program-name lang="eng">Ordinance of 18 May 2016 on measures against North Korea (SR 946.231.127.6), annexes 1 and 6</program-name>
    <sanctions-set ssid="34422" lang="eng">annex 1</sanctions-set>
    <origin>UN</origin>
  </sanctions-program>
  <place ssid="700"><location>Minsk</location><country iso-code="BY">Belarus</country></place>
  <target ssid="5142">
    <sanctions-set-id>4387</sanctions-set-id>
    <individual sex="male">
      <identity ssid="5144" main="true">
        <name ssid="26811" name-type="primary-name" quality="good" lang="eng">
          <name-part order="1" name-part-type="family-name"><value>Kovalenka</value><spelling-variant lang="rus" script="LATN">Kovalenko</spelling-variant><spelling-variant lang="rus" script="CYRL">Коваленко</spelling-variant></name-part>
          <name-part order="2" name-part-type="given-name"><value>Dzmitry</value></name-part>
          <name-part order="3" name-part-type="father-name"><value>Aliaksandravich</value></name-part>
          <name-part order="4" name-part-type="title"><value>General</value></name-part>
        </name>
        <name ssid="26812" name-type="alias" quality="low" lang="eng">
          <name-part order="1" name-part-type="whole-name"><value>The Colonel</value></name-part>
        </name>
        <day-month-year ssid="23493" day="23" month="3" year="1970" calendar="Gregorian" quality="good"/>
        <day-month-year ssid="23494" year="1971"/>
        <nationality ssid="1"><country iso-code="BY">Belarus</country></nationality>
        <place-of-birth ssid="2" place-id="700"/>
        <address ssid="29513" place-id="700"><address-details>ul. Starovilenskaya, 4</address-details></address>
        <identification-document ssid="3" document-type="passport"><number>MP1234567</number><issuer code="BY">Belarus</issuer><date-of-issue>1.2.2015</date-of-issue></identification-document>
      </identity>
      <identity ssid="5150" main="false">
        <name ssid="5151" name-type="primary-name" quality="good"><name-part order="1" name-part-type="whole-name"><value>Dmitri Kovalenko</value></name-part></name>
      </identity>
      <justification ssid="29512">Responsible for the repression of civil society.</justification>
    </individual>
    <modification modification-type="amended" enactment-date="2023-02-28" publication-date="2023-03-01" effective-date="2023-03-01">
      <added><identity ssid="9999" main="false"><name name-type="alias"><name-part order="1" name-part-type="whole-name"><value>Historical Copy Only</value></name-part></name></identity></added>
    </modification>
    <modification modification-type="listed" enactment-date="2022-03-16" publication-date="2022-03-16" effective-date="2022-03-16"/>
  </target>
  <target ssid="46130">
    <sanctions-set-id>4387</sanctions-set-id>
    <entity>
      <identity ssid="46131" main="true">
        <name ssid="46132" name-type="primary-name" quality="good" lang="eng"><name-part order="1" name-part-type="whole-name"><value>Belaruskali Trading OAO</value></name-part></name>
        <name ssid="46133" name-type="formerly-known-as" quality="good" lang="eng"><name-part order="1" name-part-type="whole-name"><value>Potash Export House</value></name-part></name>
        <address ssid="46134" place-id="700"/>
      </identity>
      <other-information ssid="46135">Registration number: 100127434</other-information>
    </entity>
    <modification modification-type="listed" enactment-date="2022-06-03" publication-date="2022-06-03" effective-date="2022-06-03"/>
  </target>
  <target ssid="34461">
    <sanctions-set-id>34422</sanctions-set-id>
    <foreign-identifier>KPe.047</foreign-identifier>
    <object object-type="vessel">
      <identity ssid="34462" main="true">
        <name ssid="34463" name-type="primary-name" quality="good"><name-part order="1" name-part-type="whole-name"><value>Hui Chon</value></name-part></name>
        <name ssid="34464" name-type="alias" quality="good"><name-part order="1" name-part-type="whole-name"><value>Hwang Gum San 2</value></name-part></name>
      </identity>
      <other-information ssid="34465">IMO Number: 8405270</other-information>
    </object>
    <modification modification-type="listed" enactment-date="2016-05-18" publication-date="2016-05-18" effective-date="2016-05-18"/>
  </target>
  <target ssid="1900">
    <sanctions-set-id>4387</sanctions-set-id>
    <individual>
      <identity ssid="1901" main="true"><name ssid="1902" name-type="primary-name"><name-part order="1" name-part-type="whole-name"><value>Delisted Person</value></name-part></name></identity>
    </individual>
    <modification modification-type="de-listed" enactment-date="2024-02-29" publication-date="2024-03-01" effective-date="2024-03-01"/>
    <modification modification-type="listed" enactment-date="2022-03-16" publication-date="2022-03-16" effective-date="2022-03-16"/>
  </target>
</swiss-sanctions-list>
"""


def write(tmp_path, text=XML, name="seco.xml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_seco_is_an_import_source():
    assert "seco" in SOURCES


def test_the_whole_list_gives_one_record_per_listed_target(tmp_path):
    records = {r.ref: r for r in parse_source("seco", [write(tmp_path)])}
    assert set(records) == {"5142", "46130", "34461"}  # 1900 is de-listed: its latest modification
    person = records["5142"]
    assert (person.source, person.kind, person.name) == ("seco", "person", "Kovalenka Dzmitry Aliaksandravich")
    # spelling variants of a part give whole-name variants; the non-main identity is an alias;
    # the title is not part of the name; the <added> history is not read.
    assert person.aliases == ["Kovalenko Dzmitry Aliaksandravich", "Коваленко Dzmitry Aliaksandravich",
                              "Dmitri Kovalenko"]
    assert person.weak_aliases == ["The Colonel"]  # quality="low"
    assert person.dobs == ["1970-03-23", "1971"]
    assert person.countries == ["BY"]
    assert person.places_of_birth == ["Minsk, Belarus"]
    assert [(i.kind, i.number, i.country) for i in person.identifiers] == [("passport", "MP1234567", "BY")]
    assert person.programmes == [
        "Ordinance of 16 March 2022 on measures against Belarus (SR 946.231.116.9), annex 5"]
    assert person.remarks == "Responsible for the repression of civil society."

    entity = records["46130"]
    assert (entity.kind, entity.name, entity.aliases) == ("entity", "Belaruskali Trading OAO", ["Potash Export House"])
    assert entity.countries == ["BY"]  # the address's place

    vessel = records["34461"]
    assert (vessel.kind, vessel.name, vessel.aliases) == ("vessel", "Hui Chon", ["Hwang Gum San 2"])
    assert {(i.kind, i.number) for i in vessel.identifiers} == {("UN reference", "KPe.047"), ("IMO", "8405270")}
    assert vessel.programmes == [
        "Ordinance of 18 May 2016 on measures against North Korea (SR 946.231.127.6), annexes 1 and 6"]


def test_a_target_relisted_after_a_delisting_is_imported(tmp_path):
    text = XML.replace(
        '<modification modification-type="de-listed" enactment-date="2024-02-29"',
        '<modification modification-type="listed" enactment-date="2025-01-10" publication-date="2025-01-10" '
        'effective-date="2025-01-10"/>\n    <modification modification-type="de-listed" enactment-date="2024-02-29"')
    assert "1900" in {r.ref for r in parse_seco(write(tmp_path, text))}


@pytest.mark.parametrize(("text", "field"), [
    ("<CONSOLIDATED_LIST/>", "swiss-sanctions-list"),
    (XML.replace('list-type="whole-list"', 'list-type="delta"'), "list-type"),
    (XML.replace("<sanctions-set-id>34422</sanctions-set-id>", "<sanctions-set-id>1</sanctions-set-id>"),
     "sanctions-set-id"),
    (XML.replace('day="23" month="3" year="1970"', 'day="23" month="13" year="1970"'), "day-month-year"),
    (XML.replace('object-type="vessel"', 'object-type="spaceship"'), "object-type"),
    (XML.replace('<target ssid="46130">', '<target ssid="5142">'), "target/@ssid"),
])
def test_a_malformed_file_is_refused_naming_the_field(tmp_path, text, field):
    with pytest.raises(WatchlistFormatError) as exc:
        parse_seco(write(tmp_path, text))
    assert exc.value.detail["field"] == field


def test_a_bad_date_names_its_line(tmp_path):
    text = XML.replace('day="23" month="3" year="1970"', 'day="31" month="2" year="1970"')
    with pytest.raises(WatchlistFormatError) as exc:
        parse_seco(write(tmp_path, text))
    assert exc.value.detail["line"] == XML.splitlines().index(
        next(line for line in XML.splitlines() if 'ssid="23493"' in line)) + 1


@pytest.mark.django_db
def test_the_import_is_all_or_nothing_with_a_diff_against_the_previous_snapshot(tmp_path):
    from compliance import services
    from compliance.models import WatchlistSnapshot

    first = services.watchlist_import(source="seco", paths=[write(tmp_path)])
    assert (first.version, first.entry_count, first.report["added"]) == (1, 3, 3)
    # Next publication: the vessel is delisted, the entity gains an alias, a person is listed.
    second_xml = (XML.replace('<modification modification-type="listed" enactment-date="2016-05-18" '
                              'publication-date="2016-05-18" effective-date="2016-05-18"/>',
                              '<modification modification-type="de-listed" effective-date="2026-12-01"/>'
                              '<modification modification-type="listed" effective-date="2016-05-18"/>')
                  .replace("<value>Potash Export House</value>", "<value>Potash Export House LLC</value>")
                  .replace("<value>Delisted Person</value>", "<value>Newly Listed</value>")
                  .replace('modification-type="de-listed" enactment-date="2024-02-29"',
                           'modification-type="amended" enactment-date="2024-02-29"'))
    out = io.StringIO()
    err = io.StringIO()
    call_command("sanctions_import", "--source", "seco", str(write(tmp_path, second_xml, "seco2.xml")),
                 stdout=out, stderr=err)
    second = WatchlistSnapshot.objects.get(source="seco", is_active=True)
    assert second.version == 2
    assert (second.report["added"], second.report["changed"], second.report["removed"]) == (1, 1, 1)
    assert "added 1, changed 1, removed 1" in out.getvalue()
    assert "seco entries" in err.getvalue()  # the progress bar
    # A broken file creates no snapshot; version 2 stays active.
    with pytest.raises(WatchlistFormatError):
        services.watchlist_import(source="seco", paths=[write(tmp_path, XML.replace("</swiss-sanctions-list>", ""),
                                                              "broken.xml")])
    assert WatchlistSnapshot.objects.get(source="seco", is_active=True).version == 2
    assert WatchlistSnapshot.objects.filter(source="seco").count() == 2


@pytest.mark.django_db
def test_a_ch_case_is_screened_against_the_seco_list(tmp_path, firm, advisor):
    import datetime as dt

    import time_machine

    from compliance import services
    from compliance.models import ScreeningAlert
    from onboarding import services as onboarding
    from onboarding.audit import events_for
    from tests.factories import PersonFactory

    onboarding.rulepacks_load()
    services.watchlist_import(source="seco", paths=[write(tmp_path)])
    party = PersonFactory(firm=firm, given_names="Dzmitry Aliaksandravich", family_name="Kovalenka",
                          date_of_birth=dt.date(1970, 3, 23), nationalities=["BY"], residence_country="CH")
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)):
        case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="CH")
        services.screen_party(party=party, trigger="test", case=case)
    alert = ScreeningAlert.objects.get(party=party)
    assert (alert.source, alert.entry_ref) == ("seco", "5142")
    event = events_for(party).filter(event_type="screening.performed").last()
    assert event.detail["lists"] == ["ofac", "seco", "un"]
    assert event.detail["missing_lists"] == ["ofac", "un"]  # named by the packs, not imported in this test
