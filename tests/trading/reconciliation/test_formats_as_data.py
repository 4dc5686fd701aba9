"""Custodian formats and file layouts are data: loaded from YAML by a command (idempotent),
versioned (a change is a new version with who and when, audited), and read by the services
from the database, not from the source tree."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from onboarding.models import AuditEvent
from tests.factories import UserFactory
from trading.reconciliation import selectors, services
from trading.reconciliation.exceptions import UnknownFormat
from trading.reconciliation.models import Break, CustodianFormat, RuleSet

from .factories import BookPositionFactory, IdentifierFactory

pytestmark = pytest.mark.django_db

APPLE = "US0378331005"
# A custodian layout nobody shipped: pipes, price in cents (scale 0.01), no header.
CENTS_LAYOUT = {
    "code": "pipe_cents", "version": 1, "source": "Bank X position file v2, section 4", "effective_from": "2024-01-01",
    "format": "delimited", "delimiter": "|", "header": False, "decimal": ".",
    "record_types": {"P": {"role": "position", "fields": {
        "account": {"column": 0, "required": True}, "isin": {"column": 1}, "quantity": {"column": 2, "required": True},
        "price": {"column": 3, "scale": "0.01"}, "price_currency": {"column": 4}}}},
}


@pytest.fixture
def apple_books(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    IdentifierFactory(kind="isin", value=APPLE, instrument_id=1)
    BookPositionFactory(custodian_code="BANKX", custody_account="ACC1", instrument_id=1, quantity=Decimal(100),
                        price=Decimal("185.64"))


def test_load_is_idempotent_and_audited_without_an_actor():
    RuleSet.objects.all().delete()
    CustodianFormat.objects.all().delete()
    before = set(AuditEvent.objects.values_list("pk", flat=True))
    created = services.rules_load()
    assert created["custodian_format"] == 5 and created["layout"] == 9
    assert services.rules_load() == {"layout": 0, "tolerance": 0, "sla": 0, "custodian_format": 0}
    new = AuditEvent.objects.exclude(pk__in=before)
    assert new.filter(event_type="recon.rules_version_created", actor=None).count() == 11
    assert new.filter(event_type="recon.custodian_format_version_created").count() == 5
    assert sorted(f.format for f in selectors.custodian_formats("GLOBALCUST")) == ["camt053", "semt002"]


def test_a_change_is_a_new_version_with_who_and_when_and_the_old_one_stays():
    ops = UserFactory(role="operations")
    v1 = RuleSet.objects.get(kind="layout", code="euro_semicolon", version=1)
    spec = {**v1.spec, "thousands": ""}
    v2 = services.ruleset_new_version(previous=v1, spec=spec, source=v1.source, effective_from="2025-01-01",
                                      actor=ops, note="bank dropped the thousands separator")
    assert (v2.version, v2.created_by, v2.spec["thousands"], v2.spec["version"]) == (2, ops, "", 2)
    v1.refresh_from_db()
    assert v1.spec["thousands"] == "." and v1.version == 1
    event = AuditEvent.objects.get(event_type="recon.rules_version_created", subject_id=str(v2.pk))
    assert event.actor == ops and event.detail["version"] == 2
    # the same content again makes no third version
    same = services.ruleset_new_version(previous=v2, spec=spec, source=v1.source, effective_from="2025-01-01",
                                        actor=ops)
    assert same.pk == v2.pk and RuleSet.objects.filter(code="euro_semicolon").count() == 2
    # the version in force depends on the statement's date
    assert selectors.layout_version("euro_semicolon", on=dt.date(2024, 6, 30)).version == 1
    assert selectors.layout_version("euro_semicolon", on=dt.date(2025, 6, 30)).version == 2


def test_a_broken_layout_is_refused_and_no_version_is_written():
    from onboarding.exceptions import ValidationFailed

    v1 = RuleSet.objects.get(kind="layout", code="pershing_csv", version=1)
    broken = {**v1.spec, "format": "xml"}
    with pytest.raises(ValidationFailed, match="format must be delimited or fixed"):
        services.ruleset_new_version(previous=v1, spec=broken, source=v1.source, effective_from="2025-01-01",
                                     actor=None)
    assert RuleSet.objects.filter(code="pershing_csv").count() == 1


def test_a_layout_that_lives_only_in_the_database_reads_a_file(apple_books, tmp_path):
    """No YAML file for pipe_cents exists: the service reads the layout from its row. The price
    arrives in cents: 18564 x 0.01 = 185.64, the book price, so the line matches."""
    ops = UserFactory(role="operations")
    services.ruleset_add(kind="layout", code="pipe_cents", spec=CENTS_LAYOUT, source=CENTS_LAYOUT["source"],
                         effective_from="2024-01-01", actor=ops)
    path = tmp_path / "pos.txt"
    path.write_text(f"ACC1|{APPLE}|100|18564|USD\n")
    run = services.reconcile_file(custodian_code="BANKX", path=path, fmt="csv:pipe_cents",
                                  as_of=dt.date(2024, 1, 31), engine="numpy").run
    assert run.status == "completed" and run.stats["breaks"] == 0 and run.stats["clean"] == 1
    # a new version (the bank now sends whole units) is what the next file is read with
    v1 = RuleSet.objects.get(code="pipe_cents")
    spec = json.loads(json.dumps(v1.spec))
    del spec["record_types"]["P"]["fields"]["price"]["scale"]
    services.ruleset_new_version(previous=v1, spec=spec, source="Bank X position file v3", effective_from="2024-02-01",
                                 actor=ops)
    path2 = tmp_path / "pos2.txt"
    path2.write_text(f"ACC1|{APPLE}|100|185.64|USD\n")
    run2 = services.reconcile_file(custodian_code="BANKX", path=path2, fmt="csv:pipe_cents",
                                   as_of=dt.date(2024, 2, 1), engine="numpy").run
    assert run2.stats["breaks"] == 0 and not Break.objects.filter(explained=False, state="open").exists()


def test_an_unloaded_layout_is_an_unknown_format():
    RuleSet.objects.filter(code="pershing_csv").delete()
    with pytest.raises(UnknownFormat, match="csv:pershing_csv"):
        services.check_format("csv:pershing_csv")


def test_several_formats_per_custodian_told_apart_by_file_name():
    ops = UserFactory(role="operations")
    services.custodian_format_set(custodian_code="CITI", fmt="mt535", file_pattern="*.535", actor=ops,
                                  effective_from="2024-01-01")
    services.custodian_format_set(custodian_code="CITI", fmt="mt940", file_pattern="*.sta", actor=ops,
                                  effective_from="2024-01-01")
    services.custodian_format_set(custodian_code="CITI", fmt="csv:pershing_csv", file_pattern="POS*.csv", actor=ops,
                                  effective_from="2024-01-01")
    on = dt.date(2024, 3, 1)
    assert selectors.format_for_file("CITI", "holdings_0301.535", on=on) == "mt535"
    assert selectors.format_for_file("CITI", "cash.STA", on=on) == "mt940"
    assert selectors.format_for_file("CITI", "POS_20240301.csv", on=on) == "csv:pershing_csv"
    assert selectors.format_for_file("CITI", "other.xml", on=on) is None  # the content tells
    # switching one off is a new version; the old version stays
    off = services.custodian_format_set(custodian_code="CITI", fmt="mt940", file_pattern="*.sta", active=False,
                                        actor=ops, effective_from="2024-06-01")
    assert off.version == 2 and CustodianFormat.objects.filter(custodian_code="CITI", format="mt940").count() == 2
    assert selectors.format_for_file("CITI", "cash.sta", on=dt.date(2024, 7, 1)) is None
    assert selectors.format_for_file("CITI", "cash.sta", on=on) == "mt940"
    assert AuditEvent.objects.filter(event_type="recon.custodian_format_version_created", actor=ops).count() == 4


def test_a_format_whose_layout_is_not_loaded_is_refused():
    with pytest.raises(UnknownFormat):
        services.custodian_format_set(custodian_code="CITI", fmt="csv:nowhere", actor=None)
    assert not CustodianFormat.objects.filter(custodian_code="CITI").exists()


def test_the_daily_inbox_takes_each_file_format_from_the_data(settings, tmp_path):
    from trading.reconciliation.tasks import inbox_files

    settings.RECON_INBOX = tmp_path / "inbox"
    day = settings.RECON_INBOX / "2024-01-31" / "GLOBALCUST"
    day.mkdir(parents=True)
    (day / "semt_0131.xml").write_bytes(b"<x/>")
    (day / "camt_0131.xml").write_bytes(b"<x/>")
    found = {p.rsplit("/", 1)[1]: f for _c, p, f in inbox_files(dt.date(2024, 1, 31))}
    assert found == {"semt_0131.xml": "semt002", "camt_0131.xml": "camt053"}


def test_command_loads_your_own_layout_file_once(tmp_path):
    import yaml

    path = tmp_path / "pipe_cents.yaml"
    path.write_text(yaml.safe_dump(CENTS_LAYOUT))
    out = StringIO()
    call_command("recon_rules_load", "--layout", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue())["created"]["layout"] == 1
    out = StringIO()
    call_command("recon_rules_load", "--layout", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue())["created"]["layout"] == 0
    assert RuleSet.objects.get(code="pipe_cents").note == "loaded from pipe_cents.yaml"


def test_admin_save_makes_a_new_version_and_never_edits_in_place(client):
    admin = UserFactory(is_staff=True, is_superuser=True, role="operations")
    client.force_login(admin)
    v1 = RuleSet.objects.get(kind="layout", code="schwab_fixed", version=1)
    spec = {**v1.spec, "encoding": "latin-1"}
    response = client.post(f"/admin/reconciliation/ruleset/{v1.pk}/change/", {
        "source": v1.source, "effective_from": "2025-01-01", "spec": json.dumps(spec), "note": "latin-1 names"})
    assert response.status_code == 302, response.content[:2000]
    v1.refresh_from_db()
    assert v1.spec.get("encoding") == "ascii"
    v2 = RuleSet.objects.get(code="schwab_fixed", version=2)
    assert v2.spec["encoding"] == "latin-1" and v2.created_by == admin and v2.note == "latin-1 names"
    # a layout that does not validate is shown back on the form, nothing written
    response = client.post(f"/admin/reconciliation/ruleset/{v2.pk}/change/", {
        "source": v1.source, "effective_from": "2025-01-01", "spec": json.dumps({**spec, "format": "xml"})})
    assert response.status_code == 200 and b"format must be delimited or fixed" in response.content
    assert RuleSet.objects.filter(code="schwab_fixed").count() == 2
    # custodian formats likewise
    response = client.post("/admin/reconciliation/custodianformat/add/", {
        "custodian_code": "NEWBANK", "format": "mt940", "file_pattern": "*.sta", "active": "on",
        "source": "onboarding call", "effective_from": "2024-01-01", "note": ""})
    assert response.status_code == 302
    row = CustodianFormat.objects.get(custodian_code="NEWBANK")
    assert row.created_by == admin and row.version == 1
