"""Shapes only: validation of business rules happens in the services the views call."""
from __future__ import annotations

from rest_framework import serializers

from ..crypto import mask
from ..models import (
    Address,
    ControlRole,
    Document,
    DocumentType,
    IdentifierKind,
    OnboardingCase,
    OwnershipLink,
    Party,
    PartyIdentifier,
    PartyKind,
    Relationship,
    TaxResidence,
    WebhookDelivery,
    WebhookEndpoint,
)


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ["id", "kind", "line1", "line2", "city", "region", "postal_code", "country"]


class IdentifierSerializer(serializers.ModelSerializer):
    """Identifiers are masked; POST /parties/{id}/reveal/ shows them in full and is audited."""

    value = serializers.CharField(source="masked_value", read_only=True)

    class Meta:
        model = PartyIdentifier
        fields = ["id", "kind", "country", "value", "validator"]
        read_only_fields = ["validator"]


class TaxResidenceSerializer(serializers.ModelSerializer):
    tin = serializers.SerializerMethodField()

    class Meta:
        model = TaxResidence
        fields = ["id", "country", "tin", "no_tin_reason", "no_tin_explanation"]

    def get_tin(self, obj) -> str:
        return mask(obj.tin)


class PartySerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    date_of_birth = serializers.SerializerMethodField()
    addresses = AddressSerializer(many=True, read_only=True)
    identifiers = IdentifierSerializer(many=True, read_only=True)
    tax_residences = TaxResidenceSerializer(many=True, read_only=True)
    nationalities = serializers.ListField(child=serializers.CharField(max_length=2), required=False)

    class Meta:
        model = Party
        fields = [
            "id", "kind", "client_type", "display_name", "given_names", "family_name", "date_of_birth",
            "place_of_birth_country", "nationalities", "is_pep", "us_lawful_permanent_resident",
            "us_substantial_presence", "legal_name", "date_of_incorporation",
            "country_of_incorporation", "is_listed", "is_regulated_fi", "residence_country", "email", "phone",
            "source_of_wealth", "source_of_funds", "version", "addresses", "identifiers", "tax_residences",
            "created_at", "updated_at",
        ]
        read_only_fields = ["version", "created_at", "updated_at"]


    def get_date_of_birth(self, obj) -> str | None:
        return f"{obj.date_of_birth.year}-••-••" if obj.date_of_birth else None


class PartyCreateSerializer(PartySerializer):
    kind = serializers.ChoiceField(choices=PartyKind.choices)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    client_type = serializers.ChoiceField(choices=Party._meta.get_field("client_type").choices, required=False)


class PartyUpdateSerializer(serializers.Serializer):
    given_names = serializers.CharField(required=False, allow_blank=True)
    family_name = serializers.CharField(required=False, allow_blank=True)
    legal_name = serializers.CharField(required=False, allow_blank=True)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    date_of_incorporation = serializers.DateField(required=False, allow_null=True)
    residence_country = serializers.CharField(required=False, allow_blank=True, max_length=2)
    country_of_incorporation = serializers.CharField(required=False, allow_blank=True, max_length=2)
    nationalities = serializers.ListField(child=serializers.CharField(max_length=2), required=False)
    is_pep = serializers.BooleanField(required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    source_of_wealth = serializers.CharField(required=False, allow_blank=True)
    source_of_funds = serializers.CharField(required=False, allow_blank=True)


class IdentifierInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IdentifierKind.choices)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    value = serializers.CharField(max_length=64)


class AddressInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Address._meta.get_field("kind").choices)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    region = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=2)


class TaxResidenceInputSerializer(serializers.Serializer):
    country = serializers.CharField(max_length=2)
    tin = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    no_tin_reason = serializers.ChoiceField(choices=["", "A", "B", "C"], required=False, default="")
    no_tin_explanation = serializers.CharField(required=False, allow_blank=True, default="")


class OwnershipSerializer(serializers.ModelSerializer):
    class Meta:
        model = OwnershipLink
        fields = ["id", "owner", "owned", "percentage", "role"]


class OwnershipInputSerializer(serializers.Serializer):
    owner = serializers.IntegerField()
    owned = serializers.IntegerField()
    percentage = serializers.DecimalField(max_digits=7, decimal_places=4, default=0)
    role = serializers.ChoiceField(choices=ControlRole.choices, default=ControlRole.SHAREHOLDER)


class DocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Document
        fields = ["id", "party", "doc_type", "original_name", "content_type", "size", "sha256", "expires_on",
                  "uploaded_at"]


class DocumentUploadSerializer(serializers.Serializer):
    party = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1,
                                     help_text="omit to upload ahead of a nested case creation, which "
                                               "references the upload by its id")
    doc_type = serializers.ChoiceField(choices=DocumentType.choices)
    file = serializers.FileField()
    expires_on = serializers.DateField(required=False, allow_null=True)


_DATETIME = serializers.DateTimeField(read_only=True)


class CaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = OnboardingCase
        fields = ["id", "party", "relationship", "kind", "jurisdiction", "state", "risk_level",
                  "rule_pack_versions", "submitted_at", "decided_at", "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        """The same body DRF's generic path builds from the fields above (tests/api/test_speed.py compares
        the two), without building the dozen field objects again for every case read: the most frequent
        read of the API (issue 18's profile)."""
        when = _DATETIME.to_representation
        return {
            "id": instance.pk, "party": instance.party_id, "relationship": instance.relationship_id,
            "kind": instance.kind, "jurisdiction": instance.jurisdiction, "state": instance.state,
            "risk_level": instance.risk_level, "rule_pack_versions": instance.rule_pack_versions,
            "submitted_at": when(instance.submitted_at), "decided_at": when(instance.decided_at),
            "created_at": when(instance.created_at), "updated_at": when(instance.updated_at),
        }


MAX_NESTED = 50
ID = {"min_value": 1, "max_value": 2**31 - 1}


class NestedPartySerializer(PartyCreateSerializer):
    """A new party with its identifiers, addresses, tax residences and documents (ids of uploads made
    without a party), for nested creation."""

    identifiers = IdentifierInputSerializer(many=True, required=False, max_length=MAX_NESTED)
    addresses = AddressInputSerializer(many=True, required=False, max_length=MAX_NESTED)
    tax_residences = TaxResidenceInputSerializer(many=True, required=False, max_length=MAX_NESTED)
    documents = serializers.ListField(child=serializers.IntegerField(**ID), required=False, max_length=MAX_NESTED,
                                      help_text="ids of documents uploaded without a party (POST /documents/)")

    class Meta(PartyCreateSerializer.Meta):
        fields = [f for f in PartyCreateSerializer.Meta.fields
                  if f not in ("id", "display_name", "version", "created_at", "updated_at")] + ["documents"]


class RelatedPartyInputSerializer(serializers.Serializer):
    ref = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,40}$", help_text="your name for this party, used in `ownership`")
    party = NestedPartySerializer(required=False, help_text="a new party")
    existing = serializers.IntegerField(required=False, help_text="or the id of an existing party of the firm", **ID)

    def validate(self, attrs):
        if ("party" in attrs) == ("existing" in attrs):
            raise serializers.ValidationError("give exactly one of party, existing")
        if attrs["ref"] == "client":
            raise serializers.ValidationError({"ref": ["`client` names the case's client"]})
        return attrs


class OwnershipRefSerializer(serializers.Serializer):
    owner = serializers.CharField(max_length=40, help_text="`client` or a related party's ref")
    owned = serializers.CharField(max_length=40, help_text="`client` or a related party's ref")
    percentage = serializers.DecimalField(max_digits=7, decimal_places=4, min_value=0, max_value=100, default=0)
    role = serializers.ChoiceField(choices=ControlRole.choices, default=ControlRole.SHAREHOLDER)


class CaseCreateSerializer(serializers.Serializer):
    """Either `party` (an existing client) or `client` (a new one, nested), with optional owners and
    controllers (`related`) and the links between them (`ownership`): all created in one transaction."""

    party = serializers.IntegerField(required=False, **ID)
    client = NestedPartySerializer(required=False)
    related = RelatedPartyInputSerializer(many=True, required=False, max_length=MAX_NESTED)
    ownership = OwnershipRefSerializer(many=True, required=False, max_length=MAX_NESTED)
    jurisdiction = serializers.CharField(max_length=2, required=False, allow_blank=True)

    def validate(self, attrs):
        if ("party" in attrs) == ("client" in attrs):
            raise serializers.ValidationError("give exactly one of party (an existing client) or client (a new one)")
        return attrs


class PartyBulkCreateSerializer(serializers.Serializer):
    parties = NestedPartySerializer(many=True, min_length=1, max_length=200)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class OutstandingSerializer(serializers.Serializer):
    code = serializers.CharField()
    subject = serializers.CharField()
    reason = serializers.CharField()
    category = serializers.CharField()
    source = serializers.CharField()
    detail = serializers.DictField()


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    event_type = serializers.CharField()
    subject_type = serializers.CharField()
    subject_id = serializers.CharField()
    from_state = serializers.CharField(allow_blank=True)
    to_state = serializers.CharField(allow_blank=True)
    actor = serializers.CharField(help_text="username, or `system`")
    reason = serializers.CharField(allow_blank=True)
    detail = serializers.DictField(help_text="the event's structured detail (a JSON object)")


class FirmAuditEventSerializer(AuditEventSerializer):
    what = serializers.CharField(help_text="the event in words, e.g. `Case approved (In review → Approved)`")
    firm = serializers.IntegerField(allow_null=True, help_text="the firm whose record it is (null: the platform's)")
    reason = serializers.CharField(allow_blank=True, help_text="empty when `detail_withheld`")
    actor = serializers.CharField(help_text="username, `system`, or `compliance` for a compliance officer's "
                                            "action on a confidential record")
    detail = serializers.DictField(help_text="the event's structured detail (a JSON object); empty when "
                                             "`detail_withheld`")
    detail_withheld = serializers.BooleanField(
        help_text="true when the event is compliance-internal (screening alerts and runs): its reason, detail "
                  "and officer are withheld from the firm's users")


class BeneficialOwnerSerializer(serializers.Serializer):
    party_id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    effective_percentage = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True)
    through = serializers.ListField(child=serializers.CharField())
    roles = serializers.ListField(child=serializers.CharField())
    is_beneficial_owner = serializers.BooleanField()
    is_controller = serializers.BooleanField()


class RelationshipSerializer(serializers.ModelSerializer):
    class Meta:
        model = Relationship
        fields = ["id", "party", "state", "risk_level", "approved_at", "next_review_due"]
        read_only_fields = fields


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint as listed and read: never its signing secret."""

    url = serializers.CharField(max_length=500)
    events = serializers.ListField(child=serializers.CharField(max_length=40), max_length=20, required=False)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "created_at"]
        read_only_fields = ["is_active", "created_at"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """Returned once: when the endpoint is created and when its secret is rotated."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One event sent to one endpoint, with the log of its attempts. `redelivery_of`: the delivery this one
    sends again (same event id and body), null for an original."""

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "event_type", "status", "attempts", "last_status_code", "last_error",
                  "created_at", "delivered_at", "redelivery_of"]
        read_only_fields = fields


class WebhookTestSerializer(serializers.Serializer):
    event_type = serializers.CharField(
        max_length=60, required=False,
        help_text="An event type of the catalogue (GET /api/v1/webhook-events/) to send its example, marked "
                  "`\"test\": true`; omitted: a `webhook.test` event.")


class WebhookEventTypeSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="the event type, as in the delivery's `type` and `Meridian-Event`")
    summary = serializers.CharField(help_text="when it is sent")
    schema = serializers.CharField(help_text="the component in the OpenAPI schema that types the delivery's body")
    example = serializers.DictField(help_text="an example of the delivery's `data`")
