"""Partner API for tax documents: capture a form (validated at once), list, read, download the
pre-filled PDF. Thin: the services decide."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from onboarding.api.idempotency import idempotent
from onboarding.selectors import get_party_for, scope_to_user

from . import services
from .data_schemas import DATA_SERIALIZERS, data_serializer
from .forms_catalogue import FORM_TYPES
from .models import TaxForm


class TaxFormSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxForm
        fields = ["id", "party", "related_party", "form_type", "status", "signed_on", "valid_until",
                  "chapter3_status", "chapter4_status", "treaty_country", "indicia", "validation_errors",
                  "status_reason", "created_at"]
        read_only_fields = fields


class TaxFormCaptureSerializer(serializers.Serializer):
    party = serializers.IntegerField()
    related_party = serializers.IntegerField(required=False, allow_null=True)
    form_type = serializers.ChoiceField(choices=list(FORM_TYPES))
    signed_on = serializers.DateField(required=False, allow_null=True)
    data = serializers.DictField()
    cure_documents = serializers.ListField(child=serializers.CharField(), required=False)


def _capture_serializer(form_type: str) -> type[serializers.Serializer]:
    """The capture request of one form type: the common fields and that form's typed `data`."""
    name = form_type.replace("_", "").capitalize()
    return type(f"TaxForm{name}CaptureSerializer", (serializers.Serializer,), {
        "__doc__": f"Capture a {FORM_TYPES[form_type]}: `data` follows {DATA_SERIALIZERS[form_type].__name__}.",
        "party": serializers.IntegerField(),
        "related_party": serializers.IntegerField(required=False, allow_null=True),
        "form_type": serializers.ChoiceField(choices=[form_type]),
        "signed_on": serializers.DateField(required=False, allow_null=True),
        "data": DATA_SERIALIZERS[form_type](),
        "cure_documents": serializers.ListField(child=serializers.CharField(), required=False),
    })


def schema_postprocess(result, generator, request, public):
    """OpenAPI: a form's `data` (and the objects inside it) take no field they do not declare, as
    StrictSerializer enforces (registered in SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    from .data_schemas import StrictSerializer

    strict = set()
    stack = list(StrictSerializer.__subclasses__())
    while stack:
        cls = stack.pop()
        strict.add(cls.__name__.removesuffix("Serializer"))
        stack.extend(cls.__subclasses__())
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.removesuffix("Request") in strict and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


TAX_FORM_CAPTURE = PolymorphicProxySerializer(
    component_name="TaxFormCapture", resource_type_field_name="form_type",
    serializers={form_type: _capture_serializer(form_type) for form_type in FORM_TYPES})


class TaxFormViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TaxFormSerializer
    filterset_fields = ["party", "form_type", "status"]

    def get_queryset(self):
        return scope_to_user(TaxForm.objects.all(), self.request.user).order_by("pk")

    @extend_schema(request=TAX_FORM_CAPTURE, responses={201: TaxFormSerializer})
    @idempotent
    def create(self, request):
        """Capture a form and validate it at once. `data` has one schema per `form_type` (the request is a
        `oneOf` by `form_type`): a field of the wrong type, or one the form does not have, is a 400 naming its
        path (`data.permanent_address.country`). A form lacking what a valid form needs is stored `invalid`
        with its `validation_errors`."""
        data = TaxFormCaptureSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shape = data_serializer(data.validated_data["form_type"], data.validated_data["data"])
        if not shape.is_valid():
            raise serializers.ValidationError({"data": shape.errors})
        party = get_party_for(request.user, data.validated_data["party"])
        related = (get_party_for(request.user, data.validated_data["related_party"])
                   if data.validated_data.get("related_party") else None)
        form = services.tax_form_capture(party=party, form_type=data.validated_data["form_type"],
                                         data=data.validated_data["data"], signed_on=data.validated_data.get("signed_on"),
                                         actor=request.user, related_party=related,
                                         cure_documents=data.validated_data.get("cure_documents"))
        return Response(TaxFormSerializer(form).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("reveal", OpenApiTypes.BOOL, description="Show TINs and dates of birth in "
                                     "full (roles that may see sensitive values only; audited)")],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        """The pre-filled form. Sensitive values are masked unless `?reveal=true` (audited)."""
        form = self.get_object()
        reveal = str(request.query_params.get("reveal", "")).lower() in {"1", "true", "yes"}
        pdf = services.tax_form_pdf_for(form=form, actor=request.user, reveal=reveal)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="tax-form-{form.pk}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response
