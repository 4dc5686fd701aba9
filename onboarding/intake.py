"""One call for a whole client structure: the client party (or an existing one) with its identifiers,
addresses, tax residences and documents, its owners and controllers, the ownership links between them, and
the onboarding case - validated and created in one transaction (all or nothing). Each part is created by the
same service a single call would use, so the rules and the audit trail are the same; an error names the
part it is about as a field path (`related.1.party.identifiers.0.value`)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from . import services
from .audit import record_event
from .exceptions import MeridianError, NotFound, ValidationFailed
from .models import Document, Firm, OnboardingCase, Party, User

CLIENT_REF = "client"


@dataclass
class PartySpec:
    kind: str
    fields: dict[str, Any]
    client_type: str | None = None
    identifiers: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    tax_residences: list[dict[str, Any]] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)  # ids of documents uploaded without a party


@dataclass
class RelatedSpec:
    ref: str
    party: PartySpec | None = None
    existing: int | None = None


@dataclass
class LinkSpec:
    owner: str
    owned: str
    percentage: Decimal = Decimal(0)
    role: str = "shareholder"


# the services name some fields for people ("address country"); in a field path they are the input's field
FIELD_ALIASES = {"address country": "country", "tax residence": "country"}


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Re-raise a service's refusal with its field paths under `path`."""
    try:
        yield
    except ValidationFailed as exc:
        detail = exc.api_detail()
        if isinstance(detail, dict) and detail:
            keyed = {f"{path}.{FIELD_ALIASES.get(k, k)}": (v if isinstance(v, list) else [exc.message])
                     for k, v in detail.items()}
        else:
            keyed = {path: [exc.message]}
        raise ValidationFailed(exc.message, detail=keyed) from exc
    except NotFound as exc:
        raise ValidationFailed(f"{path}: {exc.message}", detail={path: [exc.message]}) from exc


def _create_party(firm: Firm, actor: User | None, spec: PartySpec, path: str) -> Party:
    with _at(path):
        party = services.party_create(firm=firm, actor=actor, kind=spec.kind, client_type=spec.client_type,
                                      **spec.fields)
    for i, item in enumerate(spec.identifiers):
        with _at(f"{path}.identifiers.{i}"):
            services.party_add_identifier(party=party, actor=actor, **item)
    for i, item in enumerate(spec.addresses):
        with _at(f"{path}.addresses.{i}"):
            services.party_add_address(party=party, actor=actor, **item)
    for i, item in enumerate(spec.tax_residences):
        with _at(f"{path}.tax_residences.{i}"):
            services.party_set_tax_residence(party=party, actor=actor, **item)
    for i, document_id in enumerate(spec.documents):
        _attach_document(party, actor, document_id, f"{path}.documents.{i}")
    return party


def _attach_document(party: Party, actor: User | None, document_id: int, path: str) -> None:
    document = Document.objects.select_for_update().filter(pk=document_id, firm_id=party.firm_id).first()
    if document is None:
        raise ValidationFailed(f"{path}: no upload {document_id} in this firm", detail={path: ["no such upload"]})
    if document.party_id is not None:
        raise ValidationFailed(f"{path}: upload {document_id} already belongs to a party",
                               detail={path: ["this upload already belongs to a party"]})
    document.party = party
    document.save(update_fields=["party"])
    record_event(subject=party, event_type="document.added", actor=actor,
                 detail={"document": document.pk, "doc_type": document.doc_type, "sha256": document.sha256,
                         "size": document.size})


@transaction.atomic
def case_create_with_structure(
    *, firm: Firm, actor: User | None, client: PartySpec | Party, related: list[RelatedSpec] | None = None,
    ownership: list[LinkSpec] | None = None, jurisdiction: str | None = None,
) -> OnboardingCase:
    related = related or []
    ownership = ownership or []
    parties: dict[str, Party] = {}
    if isinstance(client, Party):
        parties[CLIENT_REF] = client
    else:
        parties[CLIENT_REF] = _create_party(firm, actor, client, "client")
    for i, item in enumerate(related):
        path = f"related.{i}"
        if item.ref in parties:
            raise ValidationFailed(f"{path}.ref: {item.ref!r} is used twice", detail={f"{path}.ref": ["used twice"]})
        if item.existing is not None:
            found = Party.objects.filter(pk=item.existing, firm=firm).first()
            if found is None:
                raise ValidationFailed(f"{path}.existing: no party {item.existing} in this firm",
                                       detail={f"{path}.existing": ["no such party in this firm"]})
            parties[item.ref] = found
        elif item.party is not None:
            parties[item.ref] = _create_party(firm, actor, item.party, f"{path}.party")
        else:
            raise ValidationFailed(f"{path}: give party or existing", detail={path: ["give party or existing"]})
    for i, link in enumerate(ownership):
        path = f"ownership.{i}"
        for end in ("owner", "owned"):
            if getattr(link, end) not in parties:
                raise ValidationFailed(f"{path}.{end}: unknown ref {getattr(link, end)!r}",
                                       detail={f"{path}.{end}": [f"unknown ref; use {CLIENT_REF!r} or a related ref"]})
        with _at(path):
            services.ownership_link_add(owner=parties[link.owner], owned=parties[link.owned], actor=actor,
                                        percentage=link.percentage, role=link.role)
    try:
        return services.case_create(firm=firm, party=parties[CLIENT_REF], actor=actor, jurisdiction=jurisdiction)
    except MeridianError as exc:
        if isinstance(exc, ValidationFailed):
            with _at("case"):
                raise
        raise


@transaction.atomic
def parties_create_bulk(*, firm: Firm, actor: User | None, parties: list[PartySpec]) -> list[Party]:
    """Many parties (with their identifiers, addresses, tax residences) in one transaction: all or none."""
    return [_create_party(firm, actor, spec, f"parties.{i}") for i, spec in enumerate(parties)]
