"""factory_boy factories for tax tests (onboarding has none on main yet)."""
from __future__ import annotations

import factory

from onboarding.models import Address, Firm, OnboardingCase, OwnershipLink, Party, Relationship, TaxResidence


class FirmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Firm

    name = factory.Sequence(lambda n: f"Firm {n}")
    kind = "ria"
    home_jurisdiction = "US"


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    firm = factory.SubFactory(FirmFactory)
    kind = "person"
    client_type = "individual"
    given_names = "Oliver"
    family_name = factory.Sequence(lambda n: f"Twist{n}")
    residence_country = "GB"
    nationalities = ["GB"]
    place_of_birth_country = "GB"
    phone = "+44 20 7946 0000"


class EntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    firm = factory.SubFactory(FirmFactory)
    kind = "entity"
    client_type = "corporation"
    legal_name = factory.Sequence(lambda n: f"Thames Holdings {n} Ltd")
    country_of_incorporation = "GB"


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
