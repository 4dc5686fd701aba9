"""Builders that take a party through the data a rule pack asks for."""
from __future__ import annotations

from onboarding import services
from onboarding.models import Party
from onboarding.samples import pdf_bytes

PDF = pdf_bytes("test document")
REGISTRATION_NUMBERS = {"GB": "01234567", "LU": "B123456", "KY": "CR-123456", "VG": "1234567", "US": "12-3456789",
                        "IE": "123456", "DE": "HRB12345", "SG": "00192200M", "HK": "1234567"}


def complete_person(party: Party, *, actor=None, country: str = "GB", tin: str | None = None) -> Party:
    services.party_add_address(party=party, actor=actor, kind="residential", line1="1 High Street", city="London",
                               country=country)
    services.party_add_identifier(party=party, actor=actor, kind="passport", country=country, value="123456789")
    if tin:
        services.party_add_identifier(party=party, actor=actor, kind="tax_id", country=country, value=tin)
        services.party_set_tax_residence(party=party, actor=actor, country=country, tin=tin)
    else:
        services.party_set_tax_residence(party=party, actor=actor, country=country, no_tin_reason="A")
    services.document_add(party=party, actor=actor, doc_type="passport", content=PDF, original_name="pp.pdf")
    services.document_add(party=party, actor=actor, doc_type="utility_bill", content=PDF, original_name="bill.pdf")
    return party


def complete_entity(party: Party, *, actor=None, country: str = "GB") -> Party:
    services.party_add_address(party=party, actor=actor, kind="registered", line1="2 King Street", city="London",
                               country=country)
    services.party_add_identifier(party=party, actor=actor, kind="registration", country=country, value=REGISTRATION_NUMBERS.get(country, "REG12345"))
    services.party_set_tax_residence(party=party, actor=actor, country=country, no_tin_reason="A")
    services.document_add(party=party, actor=actor, doc_type="certificate_of_incorporation", content=PDF)
    services.document_add(party=party, actor=actor, doc_type="register_of_members", content=PDF)
    return party
