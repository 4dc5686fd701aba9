"""factory_boy factories shared by every app's tests."""
from __future__ import annotations

import datetime as dt

import factory

from onboarding.models import Firm, Party, Role, User


class FirmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Firm

    name = factory.Sequence(lambda n: f"Firm {n}")
    kind = "ria"
    home_jurisdiction = "GB"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    firm = factory.SubFactory(FirmFactory)
    role = Role.ADVISOR
    password = factory.PostGenerationMethodCall("set_password", "pw")


class OfficerFactory(UserFactory):
    firm = None
    role = Role.COMPLIANCE_OFFICER
    is_staff = True


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    firm = factory.SubFactory(FirmFactory)
    kind = "person"
    client_type = "individual"
    given_names = factory.Sequence(lambda n: f"Given{n}")
    family_name = "Doe"
    date_of_birth = dt.date(1970, 1, 1)
    residence_country = "GB"
    nationalities = ["GB"]


class EntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    firm = factory.SubFactory(FirmFactory)
    kind = "entity"
    client_type = "corporation"
    legal_name = factory.Sequence(lambda n: f"Entity {n} Ltd")
    date_of_incorporation = dt.date(2005, 5, 5)
    country_of_incorporation = "GB"


# Published example TINs that pass python-stdnum's check digits (its own documentation's examples).
EXAMPLE_TINS = {"GB": "1955839661", "CH": "756.9217.0769.85", "DE": "36574261809", "FR": "3023217600053",
                "US": "536-90-4399", "JP": "5-8356-7825-6246", "HK": "AB123456(3)"}
EXAMPLE_ENTITY_TINS = {"CH": "CHE-100.155.212", "DE": "DE136695976"}


def tax_documented(party, *, signed_on: dt.date | None = None, country: str | None = None) -> list:
    """Give `party` the current, valid tax forms the real activation check asks for: each form
    the rules require is prepared from the party's data, completed as the client would (address,
    TIN, certification) and signed, then validated by compliance.tax. Returns the forms."""
    from compliance.tax import selectors, services
    from onboarding.models import Relationship

    relationship = Relationship.objects.filter(party=party).first()
    booking_centre = selectors.booking_centre_for(relationship) if relationship else party.firm.home_jurisdiction
    signed_on = signed_on or dt.date.today() - dt.timedelta(days=30)
    forms = []
    for req, _why, _latest in selectors.missing_forms(party, booking_centre=booking_centre, case=None):
        subject = type(party).objects.get(pk=int(req.subject_ref.split(":", 1)[1]))
        related = type(party).objects.get(pk=int(req.for_ref.split(":", 1)[1])) if req.for_ref else None
        form = services.tax_form_prepare(party=subject, form_type=req.form, related_party=related)
        home = country or subject.residence_country or subject.country_of_incorporation or "GB"
        changes = _completed_by_client(req.form, subject, home)
        form = services.tax_form_record_signed(form=form, signed_on=signed_on, changes=changes)
        assert form.status == "valid", (req.form, form.status_reason)
        forms.append(form)
    return forms


def _completed_by_client(form_type: str, party, country: str) -> dict:
    """What a client adds to a prepared form before signing: an address in the country of
    residence, the TIN of that country, the certification, and (entities) their statuses."""
    address = {"line1": "1 High Street", "city": "Capital", "postal_code": "1000", "country": country}
    tin = (EXAMPLE_ENTITY_TINS.get(country) if party.kind == "entity" else None) or EXAMPLE_TINS.get(country, "")
    residences = [{"country": country, "tin": tin}] if tin else [{"country": country, "no_tin_reason": "A"}]
    changes: dict = {"certified": True, "signer_name": party.display_name if party.kind == "person" else "A Director"}
    if form_type in ("W8BEN", "W8BENE", "W8IMY", "W8ECI"):
        changes.update(permanent_address=address, foreign_tin=tin)
    if form_type == "W8BENE":
        changes.update(country_of_incorporation=country, chapter3_status="corporation", chapter4_status="active_nffe")
    if form_type == "W9":
        changes.update(address=address, tin=EXAMPLE_TINS["US"])
    if form_type in ("CRS_IND", "CRS_CP"):
        changes.update(residence_address=address, tax_residences=residences)
    if form_type == "CRS_ENT":
        changes.update(address=address, tax_residences=residences, crs_classification="active_nfe")
    return changes
