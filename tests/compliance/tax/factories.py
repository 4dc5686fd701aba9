"""factory_boy factories for tax tests, built on the shared ones in tests/factories.py."""
from __future__ import annotations

import factory

from onboarding.models import Address, OnboardingCase, OwnershipLink, Relationship, TaxResidence
from tests import factories as shared

FirmFactory = shared.FirmFactory


class PersonFactory(shared.PersonFactory):
    """A Briton with a UK phone and place of birth (no US indicia)."""

    given_names = "Oliver"
    family_name = factory.Sequence(lambda n: f"Twist{n}")
    place_of_birth_country = "GB"
    phone = "+44 20 7946 0000"


class EntityFactory(shared.EntityFactory):
    legal_name = factory.Sequence(lambda n: f"Thames Holdings {n} Ltd")


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    party = factory.SubFactory(PersonFactory)
    kind = "residential"
    line1 = "10 Downing Street"
    city = "London"
    postal_code = "SW1A 2AA"
    country = "GB"


class TaxResidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxResidence

    party = factory.SubFactory(PersonFactory)
    country = "GB"
    tin = "1955839661"


class OwnershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OwnershipLink

    firm = factory.SelfAttribute("owned.firm")
    owner = factory.SubFactory(PersonFactory)
    owned = factory.SubFactory(EntityFactory)
    percentage = 50
    role = "shareholder"


class RelationshipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Relationship

    firm = factory.SelfAttribute("party.firm")
    party = factory.SubFactory(PersonFactory)


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OnboardingCase

    party = factory.SubFactory(PersonFactory)
    firm = factory.SelfAttribute("party.firm")
    relationship = factory.SubFactory(RelationshipFactory, party=factory.SelfAttribute("..party"))
    jurisdiction = "US"
