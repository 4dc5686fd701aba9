"""The risk model: file validation, the rating engine, rating a case through onboarding (which
brings EDD at high risk), the impact report of a draft model, and periodic review scheduling."""
from __future__ import annotations

import copy
import datetime as dt
import json
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance import services
from compliance.exceptions import RiskModelError
from compliance.models import RiskAssessment, RiskModel
from compliance.risk import MODEL_DIR, RiskFacts, load_model_file, rate, validate_model
from onboarding import services as onboarding
from onboarding.audit import events_for
from onboarding.models import CaseKind, OnboardingCase, Relationship, RelationshipState
from onboarding.selectors import case_outstanding
from tests.factories import EntityFactory, PersonFactory

DEFAULT = MODEL_DIR / "default.yaml"


@pytest.fixture(scope="module")
def model():
    return load_model_file(DEFAULT)


def test_every_rule_in_the_default_model_carries_a_source_and_an_effective_date(model):
    for group in model["groups"].values():
        for factor in group["factors"].values():
            assert factor["source"] and factor["effective_from"]
    for item in model["thresholds"] + model["floors"]:
        assert item["source"] and item["effective_from"]


def test_fatf_black_and_grey_lists_are_in_the_country_factor(model):
    scores = model["groups"]["geography"]["factors"]["country"]["scores"]
    assert {scores[c] for c in ("KP", "IR")} == {100}
    grey = ["AO", "BO", "BA", "BG", "CM", "CI", "CD", "HT", "IQ", "KE", "KW", "LA", "LB", "MC", "NP", "PG", "SS",
            "SY", "VE", "VN", "VG", "YE"]
    assert all(scores[c] == 65 for c in grey)


def test_the_eu_high_risk_third_countries_sit_beside_the_fatf_lists(model):
    # Every country the EU rule pack lists (Delegated Regulation (EU) 2016/1675 Annex) scores at
    # least as high as the FATF grey list in the country factor.
    from onboarding.rules.packs import PACK_DIR, read_pack_file

    pack = read_pack_file(PACK_DIR / "global.yaml").content
    rule = next(r for r in pack["rules"] if r["id"] == "global.eu-high-risk-third-countries")
    scores = model["groups"]["geography"]["factors"]["country"]["scores"]
    assert all(scores.get(c, 0) >= 65 for c in rule["set"]["eu_high_risk_third_countries"])
    assert "2016/1675" in model["groups"]["geography"]["factors"]["country"]["source"]


def test_a_plain_individual_is_low_risk_with_a_five_year_review(model):
    result = rate(model, RiskFacts(client_type="individual", countries=("GB",), source_of_wealth="declared"))
    assert result.level == "low" and result.review_months == 60
    assert result.next_review_due(dt.date(2026, 11, 24)) == dt.date(2031, 11, 24)


def test_a_trust_in_a_grey_list_country_with_layers_and_no_source_of_wealth_is_high(model):
    result = rate(model, RiskFacts(client_type="trust", countries=("VG",), ownership_layers=2,
                                   source_of_wealth="missing"))
    assert result.level == "high" and result.review_months == 12
    assert result.detail["groups"]["geography"]["score"] == "65"


def test_a_pep_is_high_risk_whatever_the_score_and_the_floor_is_explained(model):
    result = rate(model, RiskFacts(client_type="individual", countries=("GB",), is_pep=True,
                                   source_of_wealth="documented"))
    assert result.score < 45
    assert result.level == "high"
    assert result.detail["floors"][0]["factor"] == "pep"


def test_an_iranian_resident_is_high_through_the_black_list_floor(model):
    assert rate(model, RiskFacts(client_type="individual", countries=("IR",), source_of_wealth="documented")
                ).level == "high"


def test_a_model_whose_weights_do_not_sum_to_one_is_rejected(model):
    bad = copy.deepcopy(model)
    bad["groups"]["geography"]["weight"] = 0.5
    with pytest.raises(RiskModelError, match="weights must sum to 1"):
        validate_model(bad)


def test_a_factor_without_a_source_is_rejected_naming_it(model, tmp_path):
    bad = copy.deepcopy(model)
    del bad["groups"]["client"]["factors"]["pep"]["source"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(RiskModelError) as error:
        load_model_file(path)
    assert error.value.detail["field"] == "groups.client.factors.pep.source"


# --- With the database ----------------------------------------------------------------------


@pytest.fixture
def risk_model(db):
    services.risk_models_load()
    return RiskModel.objects.get(code="default", is_active=True)


def test_loading_twice_keeps_one_version_and_a_change_makes_a_new_active_one(risk_model, tmp_path, model):
    assert services.risk_models_load() == [{"code": "default", "version": 1, "created": False}]
    changed = copy.deepcopy(model)
    changed["thresholds"][0]["min_score"] = 50
    (tmp_path / "default.yaml").write_text(yaml.safe_dump(changed), encoding="utf-8")
    assert services.risk_models_load(directory=tmp_path) == [{"code": "default", "version": 2, "created": True}]
    assert RiskModel.objects.get(is_active=True).version == 2


@pytest.mark.django_db
def test_rating_a_pep_case_sets_high_risk_through_onboarding_and_brings_edd(packs, firm, advisor, risk_model):
    party = onboarding.party_create(firm=firm, actor=advisor, kind="person", given_names="Maria", family_name="Lopez",
                                    date_of_birth="1965-04-02", residence_country="GB", nationalities=["GB"],
                                    is_pep=True)
    case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")
    case = onboarding.case_submit(case=case, actor=advisor)
    assessment = services.rate_case(case=case)
    case.refresh_from_db()
    assert assessment.level == "high" and case.risk_level == "high"
    event = events_for(case).get(event_type="case.risk_rated")
    assert event.detail["to"] == "high" and event.detail["assessment"] == assessment.pk
    reasons = " ".join(i.reason for i in case_outstanding(case))
    assert "senior management approval" in reasons and "source of wealth" in reasons


@pytest.mark.django_db
def test_rating_a_relationship_sets_its_level_and_next_review(firm, risk_model):
    party = PersonFactory(firm=firm, nationalities=["GB"], residence_country="GB", source_of_wealth="salary")
    relationship = Relationship.objects.create(firm=firm, party=party)
    assessment = services.rate_relationship(relationship=relationship)
    relationship.refresh_from_db()
    assert relationship.risk_level == assessment.level == "low"
    assert relationship.next_review_due == assessment.next_review_due
    assert events_for(relationship).get(event_type="relationship.risk_rated").detail["to"] == "low"


@pytest.mark.django_db
def test_risk_impact_reports_upgrades_and_downgrades_and_writes_nothing(firm, risk_model, model, tmp_path):
    gb = PersonFactory(firm=firm, nationalities=["GB"], residence_country="GB", source_of_wealth="salary")
    ae = EntityFactory(firm=firm, country_of_incorporation="AE", client_type="trust")
    Relationship.objects.create(firm=firm, party=gb, risk_level="low")
    Relationship.objects.create(firm=firm, party=ae, risk_level="high")
    draft = copy.deepcopy(model)
    draft["groups"]["geography"]["factors"]["country"]["scores"]["GB"] = 100  # a drastic draft
    draft["thresholds"] = [dict(t, min_score=80 if t["level"] == "high" else t["min_score"])
                           for t in draft["thresholds"]]
    path = tmp_path / "draft.yaml"
    path.write_text(yaml.safe_dump(draft), encoding="utf-8")
    out = StringIO()
    call_command("risk_impact", "--model", str(path), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["relationships"] == 2
    assert report["upgrades"] == 1 and report["downgrades"] == 1
    assert {(m["from"], m["to"]) for m in report["moves"]} == {("low", "high"), ("high", "medium")}
    assert not RiskAssessment.objects.exists()
    assert set(Relationship.objects.values_list("risk_level", flat=True)) == {"low", "high"}


def test_risk_impact_refuses_an_invalid_draft(tmp_path, db):
    path = tmp_path / "draft.yaml"
    path.write_text("code: x\n", encoding="utf-8")
    with pytest.raises(CommandError, match="name: missing"):
        call_command("risk_impact", "--model", str(path), stdout=StringIO())


# --- Periodic review ------------------------------------------------------------------------


def active(firm, party, due):
    relationship = Relationship.objects.create(firm=firm, party=party, next_review_due=due)
    Relationship.objects.filter(pk=relationship.pk).update(state=RelationshipState.ACTIVE)
    return relationship


@pytest.mark.django_db
def test_due_reviews_open_a_case_once_and_overdue_ones_are_flagged_once(firm):
    today = dt.date(2026, 11, 24)
    due_soon = active(firm, PersonFactory(firm=firm), today + dt.timedelta(days=10))
    overdue = active(firm, PersonFactory(firm=firm), today - dt.timedelta(days=5))
    later = active(firm, PersonFactory(firm=firm), today + dt.timedelta(days=200))
    first = services.open_due_reviews(today=today)
    second = services.open_due_reviews(today=today)
    assert first == {"opened": 2, "overdue_flagged": 1}
    assert second == {"opened": 0, "overdue_flagged": 0}
    reviews = OnboardingCase.objects.filter(kind=CaseKind.PERIODIC_REVIEW)
    assert sorted(reviews.values_list("relationship_id", flat=True)) == sorted([due_soon.pk, overdue.pk])
    assert not reviews.filter(relationship=later).exists()
    flag = events_for(overdue).get(event_type="relationship.review_overdue")
    assert flag.detail["days_overdue"] == 5


@pytest.mark.django_db
def test_submission_screens_and_rates_the_case_through_the_hooks(packs, firm, advisor, risk_model,
                                                                 django_capture_on_commit_callbacks):
    party = onboarding.party_create(firm=firm, actor=advisor, kind="person", given_names="Ali", family_name="Rezaei",
                                    date_of_birth="1975-01-01", residence_country="IR", nationalities=["IR"])
    case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.case_submit(case=case, actor=advisor)
    case.refresh_from_db()
    assert case.risk_level == "high"
    assert events_for(party).filter(event_type="screening.performed").exists()


# --- Ratings only the model gives -------------------------------------------------------------


@pytest.mark.django_db
def test_a_client_not_yet_rated_is_unrated_not_medium(firm):
    party = PersonFactory(firm=firm)
    relationship = Relationship.objects.create(firm=firm, party=party)
    assert relationship.risk_level == "unrated" and relationship.get_risk_level_display() == "Not yet rated"


@pytest.mark.django_db
def test_the_submit_reply_says_unrated_until_the_model_rates(packs, firm, advisor, risk_model,
                                                             django_capture_on_commit_callbacks):
    # The API's reply to submit is the case as it stands when the reply is written; the rating
    # runs afterwards (a task after commit). Until then the case is unrated, never "medium".
    from tests.api.conftest import token_client

    api = token_client(advisor)
    party = PersonFactory(firm=firm, nationalities=["GB"], residence_country="GB", source_of_wealth="salary")
    case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        reply = api.post(f"/api/v1/cases/{case.pk}/submit/")
    assert reply.status_code == 200, reply.content
    assert reply.json()["risk_level"] == "unrated"
    assert api.get(f"/api/v1/cases/{case.pk}/").json()["risk_level"] == "unrated"
    assert hooks, "the rating is queued after commit"
    for hook in hooks:
        hook()
    assert api.get(f"/api/v1/cases/{case.pk}/").json()["risk_level"] == "low"  # GB, salaried: the model's low


@pytest.mark.django_db
def test_the_portal_shows_a_submitted_case_as_not_yet_rated_before_the_rating(packs, firm, advisor, client,
                                                                              django_capture_on_commit_callbacks):
    from django.urls import reverse

    party = PersonFactory(firm=firm, nationalities=["GB"], residence_country="GB")
    case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")
    client.force_login(advisor)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("portal:wizard_step", args=[case.pk, "review"]), follow=True)
    html = response.content.decode()
    assert "Case submitted to compliance." in html
    assert "risk not yet rated" in html and "risk medium" not in html


def _medium(obj):
    type(obj).objects.filter(pk=obj.pk).update(risk_level="medium")  # as rows made before 0011 hold it


def _run_unrated_migration():
    from django.apps import apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    migration = MigrationLoader(connection).get_migration("compliance", "0005_unrated_where_never_rated")
    migration.operations[0].code(apps, None)


@pytest.mark.django_db
def test_the_migration_makes_never_rated_medium_rows_unrated_and_leaves_ratings_alone(firm, advisor, officer,
                                                                                       risk_model):
    # Never rated: a case and a relationship holding the old default. Rated: a relationship the
    # model rated medium (an assessment), and a case whose rating an audit event records.
    never_case = onboarding.case_create(firm=firm, party=PersonFactory(firm=firm), actor=advisor, jurisdiction="GB")
    never_relationship = never_case.relationship
    rated_relationship = Relationship.objects.create(firm=firm, party=PersonFactory(firm=firm))
    RiskAssessment.objects.create(party=rated_relationship.party, relationship=rated_relationship, model=risk_model,
                                  score=40, level="medium", next_review_due=dt.date(2029, 1, 1))
    audited_case = onboarding.case_create(firm=firm, party=PersonFactory(firm=firm), actor=advisor, jurisdiction="GB")
    onboarding.case_set_risk(case=audited_case, risk_level="medium", actor=officer, reason="officer's rating")
    high = Relationship.objects.create(firm=firm, party=PersonFactory(firm=firm), risk_level="high")
    for obj in (never_case, never_relationship, rated_relationship, audited_case):
        _medium(obj)

    _run_unrated_migration()

    levels = {name: type(obj).objects.get(pk=obj.pk).risk_level for name, obj in {
        "never_case": never_case, "never_relationship": never_relationship,
        "rated_relationship": rated_relationship, "audited_case": audited_case, "high": high}.items()}
    assert levels == {"never_case": "unrated", "never_relationship": "unrated", "rated_relationship": "medium",
                      "audited_case": "medium", "high": "high"}
    event = events_for(never_case).get(event_type="case.risk_unrated")
    assert event.detail == {"from": "medium", "to": "unrated"} and event.actor is None
    assert events_for(never_relationship).filter(event_type="relationship.risk_unrated").count() == 1
    assert not events_for(rated_relationship).filter(event_type="relationship.risk_unrated").exists()
    _run_unrated_migration()  # running again changes nothing more
    assert events_for(never_case).filter(event_type="case.risk_unrated").count() == 1


@pytest.mark.django_db
def test_risk_impact_of_the_published_model_moves_nobody(firm, risk_model, tmp_path):
    # Two relationships rated by the published model and one not rated yet: rating the book
    # with the same model again moves no one, and the unrated one is a first rating.
    gb = PersonFactory(firm=firm, nationalities=["GB"], residence_country="GB", source_of_wealth="salary")
    ae = EntityFactory(firm=firm, country_of_incorporation="AE", client_type="trust")
    fresh = PersonFactory(firm=firm, nationalities=["FR"], residence_country="FR")
    for party in (gb, ae):
        services.rate_relationship(relationship=Relationship.objects.create(firm=firm, party=party))
    Relationship.objects.create(firm=firm, party=fresh)
    out = StringIO()
    call_command("risk_impact", "--model", str(DEFAULT), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["moves"] == [] and report["upgrades"] == report["downgrades"] == 0
    assert report["first_ratings"] == 1 and report["unchanged"] == 2


@pytest.mark.django_db
def test_a_confirmed_sanctions_match_rerates_through_the_model_and_shortens_the_review(firm, risk_model, officer):
    from decimal import Decimal

    from compliance.models import ScreeningAlert

    party = PersonFactory(firm=firm, nationalities=["GB"], residence_country="GB", source_of_wealth="salary")
    relationship = Relationship.objects.create(firm=firm, party=party)
    Relationship.objects.filter(pk=relationship.pk).update(state=RelationshipState.ACTIVE)
    services.rate_relationship(relationship=relationship)
    relationship.refresh_from_db()
    assert relationship.risk_level == "low"
    before = relationship.next_review_due
    alert = ScreeningAlert.objects.create(firm=firm, party=party, source="ofac", entry_ref="1", entry_hash="h",
                                          entry_name="Listed", party_version=party.version, score=Decimal("0.97"))
    services.alert_confirm(alert=alert, actor=officer, note="same passport number")
    relationship.refresh_from_db()
    latest = RiskAssessment.objects.filter(relationship=relationship).order_by("-pk").first()
    # The model's own factor and floor did it: sanctions scores 100 and floors the level at high,
    # whose review comes after 12 months, not 60.
    assert latest.factors["groups"]["client"]["factors"]["sanctions"] == "100"
    assert {"factor": "sanctions", "level": "high"}.items() <= latest.factors["floors"][0].items()
    assert relationship.risk_level == "high" and latest.level == "high"
    assert relationship.next_review_due < before
    assert relationship.next_review_due <= dt.date.today() + dt.timedelta(days=366)
