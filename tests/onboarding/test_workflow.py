"""The onboarding case state machine: each transition, its guard, its audit event, four-eyes,
pinning and the activation gate."""
import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.utils import DatabaseError

from onboarding import requirements as registry
from onboarding import services
from onboarding.audit import events_for
from onboarding.exceptions import (
    FourEyesViolation,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    RelationshipNotActive,
    RequirementsOutstanding,
    ValidationFailed,
)
from onboarding.models import AuditEvent, CaseState, RelationshipState, RulePack
from onboarding.selectors import case_outstanding, cases_for, get_case_for
from tests.factories import EntityFactory, FirmFactory, PersonFactory, UserFactory
from tests.onboarding.helpers import PDF, complete_entity, complete_person

pytestmark = pytest.mark.django_db


def new_person_case(firm, advisor, *, jurisdiction="GB", complete=True):
    person = services.party_create(firm=firm, actor=advisor, kind="person", given_names="Jane", family_name="Doe",
                                   date_of_birth="1980-02-03", residence_country="GB", nationalities=["GB"])
    if complete:
        complete_person(person, actor=advisor)
    return services.case_create(firm=firm, party=person, actor=advisor, jurisdiction=jurisdiction)


def to_review(case, advisor, officer):
    case = services.case_submit(case=case, actor=advisor)
    return services.case_start_review(case=case, actor=officer)


def test_a_complete_case_goes_from_draft_to_approved_with_an_audit_event_per_step(packs, firm, advisor, officer):
    case = new_person_case(firm, advisor)
    assert case.state == CaseState.DRAFT
    case = to_review(case, advisor, officer)
    assert case.state == CaseState.IN_REVIEW
    case = services.case_approve(case=case, actor=officer)
    assert case.state == CaseState.APPROVED
    steps = [(e.event_type, e.from_state, e.to_state) for e in events_for(case)]
    assert steps == [
        ("case.created", "", "draft"),
        ("case.submitted", "draft", "submitted"),
        ("case.review_started", "submitted", "in_review"),
        ("case.approved", "in_review", "approved"),
    ]
    approved = events_for(case).get(event_type="case.approved")
    assert approved.actor == officer and approved.firm == firm
    case.relationship.refresh_from_db()
    assert case.relationship.state == RelationshipState.ACTIVE
    assert case.relationship.next_review_due == services._add_months(dt.date.today(), 36)


def test_approval_is_refused_while_requirements_are_outstanding_and_says_why(packs, firm, advisor, officer):
    case = to_review(new_person_case(firm, advisor, complete=False), advisor, officer)
    with pytest.raises(RequirementsOutstanding) as error:
        services.case_approve(case=case, actor=officer)
    reasons = [item["reason"] for item in error.value.detail]
    assert "client Jane Doe has no residential address" in reasons
    assert "client Jane Doe has no proof of identity" in reasons
    case.refresh_from_db()
    assert case.state == CaseState.IN_REVIEW
    assert not events_for(case).filter(event_type="case.approved").exists()


def test_information_can_be_requested_and_the_case_resubmitted(packs, firm, advisor, officer):
    case = to_review(new_person_case(firm, advisor), advisor, officer)
    with pytest.raises(ValidationFailed, match="reason"):
        services.case_request_information(case=case, actor=officer, reason=" ")
    case = services.case_request_information(case=case, actor=officer, reason="Need a newer utility bill")
    assert case.state == CaseState.INFORMATION_REQUESTED
    assert events_for(case).get(event_type="case.information_requested").reason == "Need a newer utility bill"
    case = services.case_submit(case=case, actor=advisor)
    assert case.state == CaseState.SUBMITTED


def test_rejection_needs_a_reason_and_ends_the_case(packs, firm, advisor, officer):
    case = to_review(new_person_case(firm, advisor), advisor, officer)
    with pytest.raises(ValidationFailed):
        services.case_reject(case=case, actor=officer, reason="")
    case = services.case_reject(case=case, actor=officer, reason="Adverse media")
    assert case.state == CaseState.REJECTED
    with pytest.raises(InvalidTransition, match="cannot approve a case that is rejected"):
        services.case_approve(case=case, actor=officer)


def test_an_advisor_can_withdraw_a_draft_but_not_an_approved_case(packs, firm, advisor, officer):
    case = services.case_withdraw(case=new_person_case(firm, advisor), actor=advisor, reason="client changed mind")
    assert case.state == CaseState.WITHDRAWN
    other = PersonFactory(firm=firm)
    complete_person(other, actor=advisor)
    approved = services.case_approve(
        case=to_review(services.case_create(firm=firm, party=other, actor=advisor), advisor, officer), actor=officer
    )
    with pytest.raises(InvalidTransition):
        services.case_withdraw(case=approved, actor=advisor)


def test_invalid_transitions_are_refused_with_a_stable_code(packs, firm, advisor, officer):
    case = new_person_case(firm, advisor)
    with pytest.raises(InvalidTransition) as error:
        services.case_start_review(case=case, actor=officer)
    assert error.value.code == "invalid_transition"
    with pytest.raises(InvalidTransition):
        services.case_approve(case=case, actor=officer)


def test_only_officers_review_and_approve(packs, firm, advisor, officer):
    case = services.case_submit(case=new_person_case(firm, advisor), actor=advisor)
    with pytest.raises(PermissionDenied):
        services.case_start_review(case=case, actor=advisor)
    case = services.case_start_review(case=case, actor=officer)
    with pytest.raises(PermissionDenied):
        services.case_approve(case=case, actor=advisor)


def test_the_state_field_cannot_be_set_directly(packs, firm, advisor):
    case = new_person_case(firm, advisor)
    with pytest.raises(AttributeError):
        case.state = CaseState.APPROVED


def test_four_eyes_needs_two_different_officers(packs, advisor, officer, second_officer):
    firm = advisor.firm
    trust = services.party_create(firm=firm, actor=advisor, kind="entity", client_type="trust",
                                  legal_name="Lux Family Trust", date_of_incorporation="2010-01-01",
                                  country_of_incorporation="LU")
    complete_entity(trust, actor=advisor, country="LU")
    services.document_add(party=trust, actor=advisor, doc_type="trust_deed", content=PDF)
    trustee = PersonFactory(firm=firm, given_names="Tom", family_name="Trustee")
    complete_person(trustee, actor=advisor)
    services.ownership_link_add(owner=trustee, owned=trust, actor=advisor, percentage=0, role="trustee")
    case = services.case_create(firm=firm, party=trust, actor=advisor, jurisdiction="LU")
    case = to_review(case, advisor, officer)
    assert case.policy["policy"]["approval"]["level"] == "four_eyes"
    case = services.case_approve(case=case, actor=officer)
    assert case.state == CaseState.AWAITING_SECOND_APPROVAL
    with pytest.raises(FourEyesViolation):
        services.case_approve(case=case, actor=officer)
    case = services.case_approve(case=case, actor=second_officer)
    assert case.state == CaseState.APPROVED
    assert (case.first_approver, case.approved_by) == (officer, second_officer)


def test_the_submitter_can_never_approve(packs, firm, advisor, officer):
    case = services.case_submit(case=new_person_case(firm, advisor), actor=officer)
    case = services.case_start_review(case=case, actor=officer)
    with pytest.raises(FourEyesViolation, match="submitted"):
        services.case_approve(case=case, actor=officer)


def test_a_submitted_case_stays_pinned_to_the_pack_versions_it_started_on(packs, firm, advisor, officer):
    case = services.case_submit(case=new_person_case(firm, advisor), actor=advisor)
    assert case.rule_pack_versions == ["GLOBAL@1", "GB@1"]
    gb = RulePack.objects.get(code="GB", version=1)
    content = dict(gb.content)
    content["rules"] = [*content["rules"], {
        "id": "gb.extra-doc", "source": "test change", "effective_from": "2026-01-01",
        "when": {"client_types": ["individual"]},
        "add": {"required_documents": [{"code": "bank_ref", "subject": "client", "accepted": ["bank_statement"],
                                        "label": "bank reference"}]},
    }]
    services.rulepack_new_version(code="GB", content=content, actor=officer, reason="new guidance")
    case.refresh_from_db()
    assert case.rule_pack_versions == ["GLOBAL@1", "GB@1"]
    assert not [i for i in case_outstanding(case) if i.code == "document.bank_ref"]
    newer = new_person_case(firm, advisor)
    newer_items = [i for i in case_outstanding(newer) if i.code == "document.bank_ref"]
    assert newer_items, "a draft case follows the newest version"
    assert services.case_submit(case=newer, actor=advisor).rule_pack_versions == ["GLOBAL@1", "GB@2"]


def test_beneficial_owner_reasons_name_the_owner_the_share_and_the_path(packs, firm, advisor, officer):
    client = services.party_create(firm=firm, actor=advisor, kind="entity", client_type="corporation",
                                   legal_name="Client Co", date_of_incorporation="2001-01-01",
                                   country_of_incorporation="GB")
    holding = EntityFactory(firm=firm, legal_name="Acme Holdings")
    jane = PersonFactory(firm=firm, given_names="Jane", family_name="Doe")
    services.ownership_link_add(owner=holding, owned=client, actor=advisor, percentage=80)
    services.ownership_link_add(owner=jane, owned=holding, actor=advisor, percentage=40)
    case = services.case_create(firm=firm, party=client, actor=advisor)
    reasons = [i.reason for i in case_outstanding(case)]
    assert "beneficial owner Jane Doe (32% through Acme Holdings) has no proof of address" in reasons
    assert any("no identified control person" in r for r in reasons)


def test_a_circular_holding_is_flagged_until_an_officer_acknowledges_it(packs, firm, advisor, officer):
    client = EntityFactory(firm=firm, legal_name="Root Co")
    a = EntityFactory(firm=firm, legal_name="A Ltd")
    b = EntityFactory(firm=firm, legal_name="B Ltd")
    services.ownership_link_add(owner=a, owned=client, actor=advisor, percentage=100)
    services.ownership_link_add(owner=b, owned=a, actor=advisor, percentage=50)
    services.ownership_link_add(owner=a, owned=b, actor=advisor, percentage=50)
    case = services.case_create(firm=firm, party=client, actor=advisor)
    flags = [i for i in case_outstanding(case) if i.code.startswith("ownership.circular")]
    assert len(flags) == 1
    assert "A Ltd -> B Ltd -> A Ltd" in flags[0].reason or "B Ltd -> A Ltd -> B Ltd" in flags[0].reason
    services.case_acknowledge_flag(case=case, actor=officer, code=flags[0].code, note="known cross-holding")
    case.refresh_from_db()
    assert not [i for i in case_outstanding(case) if i.code.startswith("ownership.circular")]


def test_a_registered_provider_blocks_approval(packs, firm, advisor, officer):
    from onboarding.requirements import Outstanding

    registry.register_provider("test-alert", lambda case: [Outstanding("screening.alert", f"case:{case.pk}",
                                                                        "an open screening alert", "screening")])
    try:
        case = to_review(new_person_case(firm, advisor), advisor, officer)
        with pytest.raises(RequirementsOutstanding, match="1 requirement"):
            services.case_approve(case=case, actor=officer)
    finally:
        registry._providers.pop("test-alert")


# --- Tenant scoping ----------------------------------------------------------------------------


def test_a_firm_user_sees_only_their_firms_cases(packs, firm, advisor, officer):
    mine = new_person_case(firm, advisor, complete=False)
    other_firm = FirmFactory()
    other_advisor = UserFactory(firm=other_firm)
    theirs = new_person_case(other_firm, other_advisor, complete=False)
    assert list(cases_for(advisor)) == [mine]
    assert set(cases_for(officer)) == {mine, theirs}
    with pytest.raises(NotFound):
        get_case_for(advisor, theirs.pk)
    with pytest.raises(NotFound):
        services.case_submit(case=theirs, actor=advisor)
    with pytest.raises(NotFound):
        services.party_update(party=theirs.party, actor=advisor, family_name="X")


# --- Activation gating -------------------------------------------------------------------------


def test_the_gate_opens_only_for_an_approved_current_relationship(packs, firm, advisor, officer):
    case = new_person_case(firm, advisor)
    with pytest.raises(RelationshipNotActive, match="pending onboarding"):
        services.assert_relationship_active(party=case.party, firm=firm)
    services.case_approve(case=to_review(case, advisor, officer), actor=officer)
    assert services.assert_relationship_active(party=case.party, firm=firm).state == RelationshipState.ACTIVE
    services.relationship_suspend(relationship=case.relationship, actor=officer, reason="court order")
    with pytest.raises(RelationshipNotActive, match="suspended"):
        services.assert_relationship_active(party=case.party, firm=firm)
    services.relationship_reinstate(relationship=case.relationship, actor=officer, reason="order lifted")
    services.assert_relationship_active(party=case.party, firm=firm)
    with pytest.raises(RelationshipNotActive, match="no relationship"):
        services.assert_relationship_active(party=case.party, firm=FirmFactory())


def test_an_activation_check_from_another_app_closes_the_gate(packs, firm, advisor, officer):
    case = new_person_case(firm, advisor)
    services.case_approve(case=to_review(case, advisor, officer), actor=officer)
    registry.register_activation_check("test-tax", lambda rel: ["the W-8BEN expired on 2026-01-01"])
    try:
        with pytest.raises(RelationshipNotActive, match="W-8BEN expired") as error:
            services.assert_relationship_active(party=case.party, firm=firm)
        assert error.value.detail["reasons"] == ["the W-8BEN expired on 2026-01-01"]
    finally:
        registry._activation_checks.pop("test-tax")


def test_a_periodic_review_runs_through_the_same_workflow(packs, firm, advisor, officer):
    case = new_person_case(firm, advisor)
    services.case_approve(case=to_review(case, advisor, officer), actor=officer)
    review = services.relationship_open_review(relationship=case.relationship, actor=None, reason="review due")
    assert review.kind == "periodic_review" and review.state == CaseState.DRAFT
    assert services.relationship_open_review(relationship=case.relationship, actor=None, reason="again") == review
    review.relationship.refresh_from_db()
    assert review.relationship.state == RelationshipState.UNDER_REVIEW
    services.assert_relationship_active(party=case.party, firm=firm)  # still usable during review
    review = services.case_approve(case=to_review(review, advisor, officer), actor=officer)
    review.relationship.refresh_from_db()
    assert review.relationship.state == RelationshipState.ACTIVE


# --- Audit trail and uploads -------------------------------------------------------------------


def test_the_audit_trail_refuses_updates_and_deletes_in_the_database(packs, firm, advisor):
    new_person_case(firm, advisor, complete=False)
    event = AuditEvent.objects.first()
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="tampered")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(RuntimeError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


def test_uploads_are_typed_by_content_and_capped(packs, firm, advisor):
    party = PersonFactory(firm=firm)
    with pytest.raises(ValidationFailed, match="only PDF, PNG and JPEG"):
        services.document_add(party=party, actor=advisor, doc_type="passport", content=b"MZ\x90\x00 exe",
                              original_name="passport.pdf")
    with pytest.raises(ValidationFailed, match="larger than"):
        services.document_add(party=party, actor=advisor, doc_type="passport", content=PDF + b"0" * (11 * 1024 * 1024))
    document = services.document_add(party=party, actor=advisor, doc_type="passport", content=PDF,
                                     original_name="../../etc/passwd")
    assert "passwd" not in document.file.name and ".." not in document.file.name
    assert document.original_name == "../../etc/passwd"


def test_a_material_change_bumps_the_party_version_and_is_audited(packs, firm, advisor):
    party = PersonFactory(firm=firm)
    services.party_update(party=party, actor=advisor, residence_country="FR")
    party.refresh_from_db()
    assert party.version == 2
    event = events_for(party).get(event_type="party.updated")
    assert event.detail["material"] == ["residence_country"]
    with pytest.raises(ValidationFailed, match="residence_country: 'ZZ'"):
        services.party_update(party=party, actor=advisor, residence_country="ZZ")


def test_ownership_cannot_exceed_one_hundred_percent(packs, firm, advisor):
    company = EntityFactory(firm=firm)
    services.ownership_link_add(owner=PersonFactory(firm=firm), owned=company, actor=advisor, percentage=70)
    with pytest.raises(ValidationFailed, match="more than 100%"):
        services.ownership_link_add(owner=PersonFactory(firm=firm), owned=company, actor=advisor, percentage=40)
    with pytest.raises(ValidationFailed, match="only an entity"):
        services.ownership_link_add(owner=company, owned=PersonFactory(firm=firm), actor=advisor, percentage=10)


def test_the_cached_requirements_follow_every_audited_change(packs, firm, advisor):
    from onboarding.selectors import case_outstanding_cached

    case = new_person_case(firm, advisor, complete=False)
    before = {i.code for i in case_outstanding_cached(case)}
    assert "field.residential_address" in before
    assert {i.code for i in case_outstanding_cached(case)} == before  # served from the cache
    services.party_add_address(party=case.party, actor=advisor, kind="residential", line1="1 High St",
                               city="London", country="GB")
    after = {i.code for i in case_outstanding_cached(case)}
    assert "field.residential_address" not in after
    assert after == {i.code for i in case_outstanding(case)}
