"""The shape of a tax form's `data`, one serializer per form type (issue 18: "tax-form `data` has one typed schema
per form type").

These check the shape only: known fields, their types, dates and country codes. A field of the wrong type or
one the form does not have is refused with 400 naming its path (`data.permanent_address.country`). Whether the
form is complete and right (required fields, TINs, the treaty claim, statuses allowed on the form, US indicia)
is decided by the validator (`compliance.tax.validation.validate_form`) when the form is captured: an
incomplete form is stored `invalid` with its `validation_errors`, so the fields it needs are documented below
("needed for a valid form") rather than required by the schema.
"""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .forms_catalogue import FORM_TYPES
from .validation import REQUIRED

COUNTRY = {"min_length": 2, "max_length": 2, "help_text": "ISO 3166-1 alpha-2"}


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare (a typo is named, never silently dropped)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["not a field of this form"] for name in unknown})
        return super().to_internal_value(data)


class AddressData(StrictSerializer):
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100)
    region = serializers.CharField(max_length=10, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(**COUNTRY)


class TaxResidenceData(StrictSerializer):
    country = serializers.CharField(**COUNTRY)
    tin = serializers.CharField(max_length=64, required=False, allow_blank=True)
    no_tin_reason = serializers.ChoiceField(choices=["", "A", "B", "C"], required=False,
                                            help_text="CRS reason when there is no TIN (A, B or C)")
    explanation = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                        help_text="why no TIN can be obtained (reason B)")


class TreatyClaimData(StrictSerializer):
    country = serializers.CharField(**COUNTRY)
    article = serializers.CharField(max_length=40, required=False, allow_blank=True)
    rate = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True,
                                    help_text="the treaty rate claimed, percent")
    income_type = serializers.CharField(max_length=40, help_text="e.g. dividends, interest, royalties")
    conditions = serializers.CharField(max_length=500, required=False, allow_blank=True)


class SubstantialOwnerData(StrictSerializer):
    name = serializers.CharField(max_length=200)
    tin = serializers.CharField(max_length=64)
    address = AddressData(required=False)


class ControllingPersonData(StrictSerializer):
    name = serializers.CharField(max_length=200)
    role = serializers.CharField(max_length=10, help_text="CRS controlling person type, CRS801 to CRS813")
    date_of_birth = serializers.DateField(required=False)
    residence_address = AddressData(required=False)
    tax_residences = TaxResidenceData(many=True, required=False)


class FormData(StrictSerializer):
    """A form's `data`: every top-level field optional here (the validator names what a valid form lacks); the
    ones it needs say so in their description."""

    form_type = ""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        needed = set(REQUIRED.get(self.form_type, ()))
        for name, field in fields.items():
            field.required = False
            if name in needed:
                field.help_text = "; ".join(filter(None, [field.help_text, "needed for a valid form"]))
        return fields


class _Signed(FormData):
    signer_name = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                        help_text="needed for a valid form")
    capacity = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                     help_text="the signer's capacity (for an entity)")


class _UsCertified(_Signed):
    certified = serializers.BooleanField(required=False, help_text="the penalties-of-perjury certification; "
                                                                   "needed for a valid form")


class _Indicia(StrictSerializer):
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    place_of_birth_country = serializers.CharField(required=False, allow_blank=True, **COUNTRY)
    standing_instruction_countries = serializers.ListField(child=serializers.CharField(**COUNTRY), required=False)


class W9Data(_UsCertified):
    name = serializers.CharField(max_length=200)
    business_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tax_classification = serializers.CharField(max_length=40, help_text="e.g. individual, c_corporation, "
                                               "s_corporation, partnership, trust_estate, llc")
    address = AddressData()
    tin = serializers.CharField(max_length=20, help_text="SSN, ITIN or EIN")
    tin_type = serializers.ChoiceField(choices=["SSN", "ITIN", "EIN"], required=False)
    exempt_payee_code = serializers.CharField(max_length=4, required=False, allow_blank=True)
    fatca_exemption_code = serializers.CharField(max_length=4, required=False, allow_blank=True)


class _W8(_UsCertified, _Indicia):
    name = serializers.CharField(max_length=200)
    permanent_address = AddressData(help_text="not a P.O. box or in-care-of address")
    mailing_address = AddressData(required=False)
    us_tin = serializers.CharField(max_length=20, required=False, allow_blank=True)
    foreign_tin = serializers.CharField(max_length=64, required=False, allow_blank=True)
    foreign_tin_not_required = serializers.BooleanField(required=False)
    reference_number = serializers.CharField(max_length=64, required=False, allow_blank=True)


class W8BENData(_W8):
    citizenship = serializers.CharField(**COUNTRY)
    date_of_birth = serializers.DateField()
    treaty_claim = TreatyClaimData(required=False)


class _W8Entity(_W8):
    country_of_incorporation = serializers.CharField(**COUNTRY)
    chapter3_status = serializers.CharField(max_length=60, help_text="the chapter 3 status (rule data lists "
                                            "those allowed on the form)")
    chapter4_status = serializers.CharField(max_length=60, help_text="the chapter 4 (FATCA) status")
    giin = serializers.CharField(max_length=19, required=False, allow_blank=True,
                                 help_text="needed for a status that requires one")


class W8BENEData(_W8Entity):
    treaty_claim = TreatyClaimData(required=False)
    lob_test = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                     help_text="limitation-on-benefits test, needed with a treaty claim")
    substantial_us_owners = SubstantialOwnerData(many=True, required=False)
    no_substantial_us_owners = serializers.BooleanField(required=False)


class W8IMYData(_W8Entity):
    withholding_statement = serializers.JSONField(
        required=False, help_text="true when attached, or the allocation rows [{party or name, share}]")


class W8ECIData(_W8):
    us_business_address = AddressData()
    income_description = serializers.CharField(max_length=500)


class _Crs(_Signed, _Indicia):
    name = serializers.CharField(max_length=200)
    tax_residences = TaxResidenceData(many=True)


class CRSIndividualData(_Crs):
    date_of_birth = serializers.DateField()
    residence_address = AddressData()


class CRSEntityData(_Crs):
    address = AddressData()
    crs_classification = serializers.CharField(max_length=40, help_text="financial_institution, "
                                               "investment_entity, active_nfe or passive_nfe")
    controlling_persons = ControllingPersonData(many=True, required=False,
                                                help_text="needed for a passive NFE")


class CRSControllingPersonData(_Crs):
    date_of_birth = serializers.DateField()
    residence_address = AddressData()
    entity_name = serializers.CharField(max_length=200)
    role = serializers.CharField(max_length=10, help_text="CRS controlling person type, CRS801 to CRS813")


DATA_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "W9": W9Data, "W8BEN": W8BENData, "W8BENE": W8BENEData, "W8IMY": W8IMYData, "W8ECI": W8ECIData,
    "CRS_IND": CRSIndividualData, "CRS_ENT": CRSEntityData, "CRS_CP": CRSControllingPersonData,
}
assert set(DATA_SERIALIZERS) == set(FORM_TYPES)


for _form_type, _cls in DATA_SERIALIZERS.items():
    _cls.form_type = _form_type


def data_serializer(form_type: str, data: Any) -> serializers.Serializer:
    return DATA_SERIALIZERS[form_type](data=data)
