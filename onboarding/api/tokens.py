"""API tokens over the API: list and revoke (a firm administrator: the firm's tokens; anyone else: their
own), and create from a portal session that passed the second factor (never with a token; the rules are in
onboarding.api.auth.api_token_create). The token string is in the creation's answer only, never again."""
from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ..models import ApiToken, Role, User
from .auth import SCOPES, api_token_create, api_token_revoke, token_creation_credentials
from .idempotency import idempotent


def tokens_for(user: User) -> QuerySet[ApiToken]:
    """A firm administrator sees the firm's tokens; anyone else their own."""
    tokens = ApiToken.objects.select_related("user")
    if not getattr(user, "is_authenticated", False):
        return tokens.none()
    if user.role == Role.FIRM_ADMIN and user.firm_id is not None:
        return tokens.filter(user__firm_id=user.firm_id)
    return tokens.filter(user=user)


class ApiTokenSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scopes", "user", "is_active", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="`<prefix>.<secret>`: shown in this answer only")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=list(SCOPES)), min_length=1,
                                   max_length=len(SCOPES), required=False)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer
    filterset_fields = ["user"]
    search_fields = ["name", "prefix", "user__username"]

    def get_queryset(self):
        return tokens_for(self.request.user).order_by("pk")

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    @idempotent
    def create(self, request):
        """Create a token for yourself. Needs a portal session that passed the second factor, never a token;
        its scopes are never wider than yours. The token string is shown in this answer only."""
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, secret = api_token_create(user=request.user, name=data.validated_data["name"],
                                         scopes=data.validated_data.get("scopes"),
                                         **token_creation_credentials(request))
        body = ApiTokenSerializer(tokens_for(request.user).get(pk=token.pk)).data
        return Response({**body, "token": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke a token at once (your own, or as firm administrator any of the firm's). Idempotent."""
        token = api_token_revoke(token=self.get_object(), actor=request.user)
        return Response(ApiTokenSerializer(tokens_for(request.user).get(pk=token.pk)).data)
