"""Partner API for reconciliation: runs, their results, breaks and the break workflow (assign,
investigate, resolve, write-off with four eyes, notes), and custodian file upload through
`reconcile_file`. Thin: the services decide.

Custodian files cover every firm's custody accounts at a custodian, so uploading one is a
platform action (platform officers); a firm user sees the runs of custodians where the firm
holds custody accounts (without the platform-wide statistics) and the breaks on its own
custody accounts."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.api import ID_REGEX, MAX_ID
from onboarding.api.idempotency import idempotent
from onboarding.api.pagination import Cursor
from onboarding.exceptions import NotFound, PermissionDenied, ValidationFailed
from onboarding.models import User

from . import services
from .book_import import book_import
from .models import BookImport, Break, BreakNote, ReconRun
from .selectors import breaks_for, custodians_for, formats_in_force, runs_for, sees_all_firms

MAX_FILE_BYTES = 200 * 1024 * 1024


# --- Serializers -----------------------------------------------------------------------------------


class ReconRunSerializer(serializers.ModelSerializer):
    file_name = serializers.CharField(source="file.name", read_only=True, default=None)
    file_sha256 = serializers.CharField(source="file.sha256", read_only=True, default=None)
    stats = serializers.SerializerMethodField(help_text="Platform-wide figures; shown to platform officers only")

    class Meta:
        model = ReconRun
        fields = ["id", "custodian_code", "as_of", "file", "file_name", "file_sha256", "daily_run", "status",
                  "engine", "started_at", "finished_at", "stats"]
        read_only_fields = fields

    def get_stats(self, obj) -> dict | None:
        request = self.context.get("request")
        return obj.stats if request is not None and sees_all_firms(request.user) else None


class BreakNoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = BreakNote
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = fields


class BreakSerializer(serializers.ModelSerializer):
    class Meta:
        model = Break
        fields = ["id", "key", "custodian_code", "custody_account", "instrument_id", "identifier", "asset", "kind",
                  "cause", "explained", "state", "owner", "custodian_quantity", "book_quantity", "custodian_price",
                  "book_price", "custodian_fx", "book_fx", "book_price_source", "book_fx_source",
                  "custodian_price_source", "custodian_fx_source", "amount_base", "base_currency", "priority", "sla_rule",
                  "due_at", "first_seen", "last_seen", "first_run", "last_run", "occurrences", "line",
                  "resolution_reason", "write_off_requested_by", "written_off_approved_by", "created_at",
                  "updated_at"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    custodian_code = serializers.CharField(max_length=40)
    file = serializers.FileField()
    format = serializers.CharField(max_length=60, required=False, allow_blank=True,
                                   help_text="semt002, camt053, mt535, mt940, mt950 or csv:<layout>; guessed if blank")
    as_of = serializers.DateField(required=False, allow_null=True)

    def validate_custodian_code(self, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", value):
            raise serializers.ValidationError("letters, digits, '_' and '-' only")
        return value


class UploadResultSerializer(serializers.Serializer):
    duplicate = serializers.BooleanField()
    run = ReconRunSerializer(allow_null=True)


class BreakAssignSerializer(serializers.Serializer):
    owner = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                     help_text="User id (default: the requester)")


class BreakNoteInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ReasonRequiredSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class TextSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)


class BookImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or JSON in the book-import template (see the README)")
    as_of = serializers.DateField()


class BookImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = BookImport
        fields = ["id", "name", "sha256", "as_of", "counts", "created_at"]


# --- Views -----------------------------------------------------------------------------------------


class BookImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Our books brought onto Meridian: opening positions (lots and cost), cash, pending trades.
    POST a file: validated whole (a bad file is refused with each line and field, nothing written),
    posted through the ledger; the same bytes again answer with the first import (200)."""

    serializer_class = BookImportSerializer
    lookup_value_regex = ID_REGEX
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return BookImport.objects.none()
        qs = BookImport.objects.order_by("-pk")
        if sees_all_firms(self.request.user):
            return qs
        return qs.filter(created_by__firm_id=self.request.user.firm_id)

    @extend_schema(request={"multipart/form-data": BookImportUploadSerializer},
                   responses={201: BookImportSerializer, 200: BookImportSerializer})
    @idempotent
    def create(self, request):
        if getattr(request.user, "role", "") not in services.BREAK_ROLES and not request.user.is_superuser:
            raise PermissionDenied("books are imported by operations, the firm's administrator or platform officers")
        data = BookImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise ValidationFailed("file: larger than 200 MB", detail={"file": ["too_large"]})
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload.name or "").name)[:120].lstrip(".") or "books.csv"
        outcome = book_import(data=upload.read(), name=name, as_of=data.validated_data["as_of"], actor=request.user)
        body = {**BookImportSerializer(outcome.book_import).data, "duplicate": outcome.duplicate}
        return Response(body, status=status.HTTP_200_OK if outcome.duplicate else status.HTTP_201_CREATED)



class LayoutSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()
    effective_from = serializers.DateField()
    source = serializers.CharField()
    note = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField(), help_text="the file's columns, in order")
    format = serializers.CharField(help_text="delimited or fixed_width")
    record_types = serializers.DictField(help_text="per record type, its role and where each field is read from")


class CustodianFormatSerializer(serializers.Serializer):
    format = serializers.CharField(help_text="semt002, camt053, mt535, mt940, mt950 or csv:<layout>")
    format_label = serializers.CharField()
    file_pattern = serializers.CharField()
    version = serializers.IntegerField()
    effective_from = serializers.DateField()
    source = serializers.CharField()
    layout = LayoutSerializer(allow_null=True, help_text="for csv:<layout>, the layout version in force")


class CustodianLayoutsSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    bic = serializers.CharField(allow_null=True)
    country = serializers.CharField()
    formats = CustodianFormatSerializer(many=True)


FORMAT_LABELS = {"semt002": "ISO 20022 semt.002 statement of holdings", "camt053": "ISO 20022 camt.053 cash statement",
                 "mt535": "SWIFT MT535 statement of holdings", "mt940": "SWIFT MT940 customer statement",
                 "mt950": "SWIFT MT950 statement message"}


class CustodianLayoutViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Read-only: the custodians the user's firm holds accounts at (platform officers: all), each with
    the file formats it sends in force today (or on `?on=YYYY-MM-DD`) and, for a CSV export, the layout
    version that reads it. Formats and layouts are changed in the admin or by `recon_rules_load`."""

    serializer_class = CustodianLayoutsSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return custodians_for(None)
        return custodians_for(self.request.user)

    def _on(self):
        import datetime as dt

        text = self.request.query_params.get("on", "")
        if not text:
            return dt.date.today()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed(f"on: {text!r} is not a date (YYYY-MM-DD)", detail={"on": ["invalid_date"]}) from None

    @extend_schema(parameters=[OpenApiParameter("on", OpenApiTypes.DATE, description="formats in force on this date")])
    def list(self, request, *args, **kwargs):
        custodians = list(self.get_queryset())
        found = formats_in_force([c.code for c in custodians], on=self._on())
        body = []
        for c in custodians:
            formats = []
            for item in sorted(found.get(c.code, []), key=lambda f: f.format.format):
                f, rs = item.format, item.layout
                formats.append({
                    "format": f.format, "format_label": FORMAT_LABELS.get(f.format, f"CSV layout {f.format[4:]}"),
                    "file_pattern": f.file_pattern, "version": f.version, "effective_from": f.effective_from,
                    "source": f.source,
                    "layout": None if rs is None else {
                        "code": rs.code, "version": rs.version, "effective_from": rs.effective_from,
                        "source": rs.source, "note": rs.note, "columns": list(rs.spec.get("columns") or []),
                        "format": rs.spec.get("format", ""), "record_types": dict(rs.spec.get("record_types") or {})}})
            body.append({"code": c.code, "name": c.name, "bic": c.bic, "country": c.country, "formats": formats})
        return Response(CustodianLayoutsSerializer(body, many=True).data)


class ReconRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ReconRunSerializer
    lookup_value_regex = ID_REGEX
    filterset_fields = ["custodian_code", "as_of", "status", "daily_run"]

    def get_queryset(self):
        return runs_for(self.request.user).order_by("-pk")

    @extend_schema(responses={200: BreakSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """The breaks this run found or carried (the user's own custody accounts only)."""
        run = self.get_object()
        qs = breaks_for(request.user).filter(Q(last_run_id=run.pk) | Q(first_run_id=run.pk)).order_by("priority", "pk")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(BreakSerializer(page, many=True).data)

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: UploadResultSerializer})
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    @idempotent
    def upload(self, request):
        """Receive a custodian file and reconcile it against the books (platform officers). The
        same bytes received again change nothing and answer with the first run."""
        if not sees_all_firms(request.user):
            raise PermissionDenied("custodian files cover every firm at the custodian; platform officers upload them")
        data = UploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        upload = v["file"]
        if upload.size > MAX_FILE_BYTES:
            raise ValidationFailed("file: larger than 200 MB", detail={"file": "too_large"})
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload.name or "").name)[:120].lstrip(".") or "custodian_file"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            with path.open("wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            outcome = services.reconcile_file(custodian_code=v["custodian_code"], path=path,
                                              fmt=v.get("format") or None, as_of=v.get("as_of"),
                                              actor=request.user)
        body = {"duplicate": outcome.duplicate,
                "run": ReconRunSerializer(outcome.run, context={"request": request}).data if outcome.run else None}
        return Response(body, status=status.HTTP_200_OK if outcome.duplicate else status.HTTP_201_CREATED)


class BreakViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Breaks, newest first, paged by cursor (every run can open more): follow `next` (an opaque `?cursor=`)
    until it is null. Filter by `priority` or `state` for a work queue."""

    serializer_class = BreakSerializer
    lookup_value_regex = ID_REGEX
    pagination_class = Cursor
    search_fields = ["identifier", "custody_account", "cause"]
    filterset_fields = ["state", "kind", "custodian_code", "custody_account", "priority", "explained", "owner",
                        "last_run", "asset"]

    def get_queryset(self):
        return breaks_for(self.request.user).order_by("priority", "pk")

    @extend_schema(request=BreakAssignSerializer, responses={200: BreakSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        brk = self.get_object()
        data = BreakAssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        owner = request.user
        if data.validated_data.get("owner"):
            owners = User.objects.filter(is_active=True)
            if not sees_all_firms(request.user):
                owners = owners.filter(firm_id=request.user.firm_id)
            owner = owners.filter(pk=data.validated_data["owner"]).first()
            if owner is None:
                raise NotFound("owner not found")
        return Response(BreakSerializer(services.break_assign(brk=brk, owner=owner, actor=request.user)).data)

    @extend_schema(request=BreakNoteInputSerializer, responses={200: BreakSerializer})
    @action(detail=True, methods=["post"])
    def investigate(self, request, pk=None):
        data = BreakNoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        brk = services.break_investigate(brk=self.get_object(), actor=request.user, note=data.validated_data["note"])
        return Response(BreakSerializer(brk).data)

    @extend_schema(request=ReasonRequiredSerializer, responses={200: BreakSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        data = ReasonRequiredSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        brk = services.break_resolve(brk=self.get_object(), actor=request.user, reason=data.validated_data["reason"])
        return Response(BreakSerializer(brk).data)

    @extend_schema(request=ReasonRequiredSerializer, responses={200: BreakSerializer})
    @action(detail=True, methods=["post"], url_path="request-write-off")
    def request_write_off(self, request, pk=None):
        data = ReasonRequiredSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        brk = services.break_request_write_off(brk=self.get_object(), actor=request.user,
                                               reason=data.validated_data["reason"])
        return Response(BreakSerializer(brk).data)

    @extend_schema(request=None, responses={200: BreakSerializer})
    @action(detail=True, methods=["post"], url_path="approve-write-off")
    def approve_write_off(self, request, pk=None):
        """Approve a requested write-off; the approver must not be the requester (four eyes)."""
        brk = services.break_approve_write_off(brk=self.get_object(), approver=request.user)
        return Response(BreakSerializer(brk).data)

    @extend_schema(responses={200: BreakNoteSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def notes(self, request, pk=None):
        return Response(BreakNoteSerializer(self.get_object().notes.order_by("pk"), many=True).data)

    @notes.mapping.post
    @extend_schema(request=TextSerializer, responses={201: BreakNoteSerializer})
    def add_note(self, request, pk=None):
        data = TextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.break_add_note(brk=self.get_object(), actor=request.user, text=data.validated_data["text"])
        return Response(BreakNoteSerializer(note).data, status=status.HTTP_201_CREATED)

