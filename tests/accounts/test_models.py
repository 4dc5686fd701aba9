"""Model portfolios: versioned deliveries from CSV, subscriptions with overrides, gating."""
import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts import services
from accounts.exceptions import ModelFileError
from accounts.models import ModelOverride, ModelPortfolio, ModelSubscription, ModelTarget
from onboarding.audit import events_for
from onboarding.exceptions import RelationshipNotActive
from onboarding.models import Relationship

pytestmark = pytest.mark.django_db
HEADER = "model_code,model_name,provider,base_currency,effective_from,line_type,identifier,weight\n"


def delivery(tmp_path, body, name="delivery.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


GOOD = (
    "CORE-USD,Core USD,Acme AM,USD,2026-12-01,instrument,US0378331005,0.40\n"
    "CORE-USD,Core USD,Acme AM,USD,2026-12-01,instrument,US78462F1030,0.55\n"
    "CORE-USD,Core USD,Acme AM,USD,2026-12-01,cash,USD,0.05\n"
    "EU-EQ,Europe equity,Acme AM,EUR,2026-12-01,instrument,DE0007164600,0.60\n"
    "EU-EQ,Europe equity,Acme AM,EUR,2026-12-01,instrument,CH0038863350,0.40\n"
    "BALANCED,Balanced UMA,Acme AM,USD,2026-12-01,sleeve,CORE-USD,0.7\n"
    "BALANCED,Balanced UMA,Acme AM,USD,2026-12-01,sleeve,EU-EQ,0.3\n"
)


def test_a_delivery_file_loads_models_with_their_targets(ref, tmp_path):
    report = services.model_delivery_load(path=str(delivery(tmp_path, GOOD)))
    assert {r["code"]: r["version"] for r in report} == {"CORE-USD": 1, "EU-EQ": 1, "BALANCED": 1}
    core = ModelPortfolio.objects.get(code="CORE-USD")
    assert sorted((t.instrument.isin if t.instrument else t.cash_currency, t.weight) for t in core.targets.all()) == [
        ("US0378331005", Decimal("0.40")), ("US78462F1030", Decimal("0.55")), ("USD", Decimal("0.05"))]
    balanced = ModelPortfolio.objects.get(code="BALANCED")
    assert {t.sleeve_model.code for t in balanced.targets.all()} == {"CORE-USD", "EU-EQ"}
    assert events_for(core).filter(event_type="model.published").exists()


def test_reloading_an_unchanged_delivery_keeps_the_version_and_a_change_makes_a_new_one(ref, tmp_path):
    services.model_delivery_load(path=str(delivery(tmp_path, GOOD)))
    again = services.model_delivery_load(path=str(delivery(tmp_path, GOOD)))
    assert all(not r["created"] for r in again)
    changed = GOOD.replace("US0378331005,0.40", "US0378331005,0.35").replace("cash,USD,0.05", "cash,USD,0.10")
    report = {r["code"]: r for r in services.model_delivery_load(path=str(delivery(tmp_path, changed)))}
    assert report["CORE-USD"]["version"] == 2 and report["CORE-USD"]["created"]
    assert ModelPortfolio.objects.get(code="CORE-USD", version=1).status == "retired"
    assert ModelTarget.objects.filter(model__code="CORE-USD", model__version=1, weight=Decimal("0.40")).exists()


@pytest.mark.parametrize("bad_line, field, fragment", [
    ("CORE-USD,Core USD,Acme AM,USD,2026-12-01,instrument,US0378331006,0.40", "identifier", "not a valid ISIN"),
    ("CORE-USD,Core USD,Acme AM,USD,2026-12-01,instrument,US0000000002,0.40", "identifier", "not in the instrument master"),
    ("CORE-USD,Core USD,Acme AM,USD,2026-12-01,instrument,US0378331005,forty", "weight", "not a number"),
    ("CORE-USD,Core USD,Acme AM,USD,2026-13-01,instrument,US0378331005,0.40", "effective_from", "not a date"),
    ("CORE-USD,Core USD,Acme AM,USD,2026-12-01,future,US0378331005,0.40", "line_type", "not instrument"),
    ("CORE-USD,Core USD,Other AM,USD,2026-12-01,instrument,US0378331005,0.40", "provider", "differs from line 2"),
])
def test_a_bad_row_is_named_and_nothing_is_loaded(ref, tmp_path, bad_line, field, fragment):
    lines = GOOD.splitlines()
    lines[1] = bad_line  # file line 3
    path = delivery(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ModelFileError) as err:
        services.model_delivery_load(path=str(path))
    assert err.value.detail == {"file": "delivery.csv", "line": 3, "field": field}  # the name, never a server path
    assert fragment in err.value.message and "delivery.csv:3" in err.value.message
    assert not ModelPortfolio.objects.exists()


def test_weights_that_do_not_sum_to_one_name_the_model_and_load_nothing(ref, tmp_path):
    path = delivery(tmp_path, GOOD.replace("DE0007164600,0.60", "DE0007164600,0.65"))
    with pytest.raises(ModelFileError) as err:
        services.model_delivery_load(path=str(path))
    assert "EU-EQ" in err.value.message and err.value.detail["line"] == 5
    assert not ModelPortfolio.objects.exists()


def test_the_management_command_reports_a_bad_file_as_json(ref, tmp_path):
    path = delivery(tmp_path, GOOD.replace("cash,USD,0.05", "cash,QQQ,0.05"))
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("models_load", str(path), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["ok"] is False and result["detail"]["line"] == 4 and result["detail"]["field"] == "identifier"
    out = StringIO()
    call_command("models_load", str(delivery(tmp_path, GOOD)), "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"] is True


def test_the_database_refuses_a_target_line_with_both_an_instrument_and_cash(ref, tmp_path):
    services.model_delivery_load(path=str(delivery(tmp_path, GOOD)))
    model = ModelPortfolio.objects.get(code="CORE-USD")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelTarget.objects.create(model=model, instrument=ref.instruments["SAP"], cash_currency="EUR", weight=Decimal("0.1"))


def test_subscribing_records_what_the_account_may_not_hold_without_restricting_it(booked, ref, tmp_path):
    account, _ = booked
    services.model_delivery_load(path=str(delivery(tmp_path, GOOD)))
    eu = ModelPortfolio.objects.get(code="EU-EQ")
    core = ModelPortfolio.objects.get(code="CORE-USD")
    first = services.model_subscribe(account=account, model=eu, start_date=dt.date(2026, 12, 1))
    assert not first.overrides.exists()
    # a retail account booked in the UK may not hold SPY (no PRIIPs KID)
    account.investor_type = "retail"
    account.booking_jurisdiction = "GB"
    account.save(update_fields=["investor_type", "booking_jurisdiction"])
    second = services.model_subscribe(account=account, model=core, start_date=dt.date(2026, 12, 2))
    assert ModelSubscription.objects.get(pk=first.pk).status == "ended"
    # ineligibility is not the client's restriction: no override; the rebalancer applies it
    assert not second.overrides.exists()
    event = events_for(account).filter(event_type="account.subscribed").order_by("id").last()
    (line,) = event.detail["ineligible"]
    assert line["isin"] == "US78462F1030" and "PRIIPs" in line["reason"]


def test_overrides_substitute_and_cash_target(booked, ref, tmp_path):
    account, _ = booked
    services.model_delivery_load(path=str(delivery(tmp_path, GOOD)))
    sub = services.model_subscribe(account=account, model=ModelPortfolio.objects.get(code="CORE-USD"),
                                   start_date=dt.date(2026, 12, 1))
    services.model_override_add(subscription=sub, kind="substitute", instrument=ref.instruments["SPY"],
                                substitute=ref.instruments["CSPX"], reason="UCITS wrapper")
    services.model_override_add(subscription=sub, kind="cash_target", currency="GBP", weight=Decimal("0.02"))
    assert ModelOverride.objects.filter(subscription=sub).count() == 2
    from onboarding.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed):
        services.model_override_add(subscription=sub, kind="cash_target", instrument=ref.instruments["SPY"],
                                    currency="GBP", weight=Decimal("0.02"))


def test_subscribing_is_gated_by_the_relationship(booked, ref, tmp_path):
    account, _ = booked
    services.model_delivery_load(path=str(delivery(tmp_path, GOOD)))
    Relationship.objects.filter(party=account.owner).update(state="closed")
    with pytest.raises(RelationshipNotActive):
        services.model_subscribe(account=account, model=ModelPortfolio.objects.get(code="EU-EQ"),
                                 start_date=dt.date(2026, 12, 1))
    assert not ModelSubscription.objects.exists()


def test_a_substitute_the_account_may_not_hold_is_refused(firm, custodians, ref, tmp_path):
    from accounts.exceptions import IneligibleInstrument
    from tests.accounts.conftest import make_account
    from tests.factories import PersonFactory, tax_documented

    american = PersonFactory(firm=firm, nationalities=["US"], residence_country="US")
    Relationship.objects.create(firm=firm, party=american, state="active")
    tax_documented(american)
    account, _ = make_account(firm, american, custodians, number="US-1", booking_jurisdiction="US",
                              booking_centre="onshore")
    assert account.is_us_person
    services.model_delivery_load(path=str(delivery(tmp_path, GOOD)))
    sub = services.model_subscribe(account=account, model=ModelPortfolio.objects.get(code="CORE-USD"),
                                   start_date=dt.date(2026, 12, 1))
    with pytest.raises(IneligibleInstrument) as err:
        services.model_override_add(subscription=sub, kind="substitute", instrument=ref.instruments["SPY"],
                                    substitute=ref.instruments["CSPX"], reason="UCITS wrapper")
    assert err.value.detail["rules"] == ["us_mutual_fund_no_us_persons_offshore"]
    assert not ModelOverride.objects.filter(subscription=sub).exists()
