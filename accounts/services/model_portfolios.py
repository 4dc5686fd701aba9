"""Model portfolios and subscriptions: publish a model, load a delivery file, subscribe an
account or sleeve, add overrides."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from onboarding.audit import record_event
from onboarding.exceptions import NotFound, ValidationFailed
from onboarding.models import Firm, User
from onboarding.money import is_currency
from trading.reference import eligibility as eligibility_engine
from trading.reference import selectors as ref_selectors
from trading.reference.models import Instrument

from ..models import (
    Account,
    ModelOverride,
    ModelPortfolio,
    ModelStatus,
    ModelSubscription,
    ModelTarget,
    OverrideKind,
    Sleeve,
    SubscriptionStatus,
)
from .access import ZERO, _gate, _lock_account, _today, _validated
from .ledger import _check_eligible

WEIGHT_TOLERANCE = Decimal("0.000001")


# --- Model portfolios and subscriptions -----------------------------------------------------------


@dataclass(frozen=True)
class TargetLine:
    """One line of a model: exactly one of isin, sleeve_model (code), cash_currency."""

    weight: Decimal
    isin: str = ""
    sleeve_model: str = ""
    cash_currency: str = ""


@transaction.atomic
def model_publish(
    *, code: str, name: str, provider: str, base_currency: str, effective_from: dt.date,
    lines: Sequence[TargetLine], publisher: Firm | None = None, actor: User | None = None,
    source_file: str = "", checksum: str = "",
) -> ModelPortfolio:
    """Publish the next version of a model. Weights must sum to 1; every ISIN must be known."""
    total = sum((line.weight for line in lines), ZERO)
    if abs(total - 1) > WEIGHT_TOLERANCE:
        raise ValidationFailed(f"model {code}: weights sum to {total}, not 1", detail={"model": code, "sum": str(total)})
    isins = {line.isin for line in lines if line.isin}
    instruments = {i.isin: i for i in Instrument.objects.filter(isin__in=isins)}
    if isins - set(instruments):
        missing = sorted(isins - set(instruments))
        raise ValidationFailed(f"model {code}: unknown ISINs {missing}", detail={"isins": missing})
    latest = ModelPortfolio.objects.select_for_update().filter(code=code).order_by("-version").first()
    if latest is not None and checksum and latest.checksum == checksum:
        return latest
    model = _validated(ModelPortfolio(
        code=code, version=(latest.version + 1) if latest else 1, name=name, provider=provider, publisher=publisher,
        base_currency=base_currency, effective_from=effective_from, status=ModelStatus.PUBLISHED,
        source_file=source_file, checksum=checksum,
    ))
    model.save()
    sleeves = {}
    for line in lines:
        if line.sleeve_model:
            sleeves[line.sleeve_model] = ModelPortfolio.objects.filter(code=line.sleeve_model).order_by("-version").first()
            if sleeves[line.sleeve_model] is None:
                raise ValidationFailed(f"model {code}: unknown sleeve model {line.sleeve_model}")
    ModelTarget.objects.bulk_create([
        ModelTarget(model=model, weight=line.weight, instrument=instruments.get(line.isin),
                    sleeve_model=sleeves.get(line.sleeve_model), cash_currency=line.cash_currency)
        for line in lines
    ])
    if latest is not None:
        ModelPortfolio.objects.filter(code=code, status=ModelStatus.PUBLISHED).exclude(pk=model.pk).update(
            status=ModelStatus.RETIRED)
    record_event(subject=model, event_type="model.published", actor=actor, firm=publisher,
                 detail={"code": code, "version": model.version, "lines": len(lines), "source_file": source_file})
    return model


@transaction.atomic
def model_subscribe(
    *, account: Account, model: ModelPortfolio, start_date: dt.date, actor: User | None = None,
    sleeve: Sleeve | None = None, follow_latest: bool = True,
) -> ModelSubscription:
    """Subscribe the account (or one sleeve) to a model, ending any current subscription there.
    Instruments of the model the account may not hold are recorded in the audit event, not
    turned into restricted overrides: ineligibility is the rebalancer's to apply (the line's
    weight goes to its eligible substitute, an ADR or the ordinary, and a held line is sold),
    while a restricted override stays what the client asked for."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    if model.status != ModelStatus.PUBLISHED:
        raise ValidationFailed(f"model {model} is {model.status}, not published")
    if sleeve is not None and sleeve.account_id != account.pk:
        raise NotFound("sleeve not found")
    ModelSubscription.objects.filter(account=account, sleeve=sleeve, status=SubscriptionStatus.ACTIVE).update(
        status=SubscriptionStatus.ENDED, end_date=start_date)
    subscription = ModelSubscription.objects.create(
        account=account, sleeve=sleeve, model=model, follow_latest=follow_latest, start_date=start_date,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    investor = eligibility_engine.Investor(account.investor_type, account.booking_jurisdiction,
                                           account.booking_centre, account.is_us_person)
    rules = ref_selectors.eligibility_rules(on=start_date)
    ineligible = []
    for instrument in Instrument.objects.filter(pk__in=model.targets.filter(instrument__isnull=False).values("instrument")):
        problems = eligibility_engine.check(investor, instrument.eligibility_tags or [], rules, on=start_date)
        if problems:
            ineligible.append({"isin": instrument.isin, "reason": "; ".join(p.reason for p in problems)})
    record_event(subject=account, event_type="account.subscribed", actor=actor,
                 detail={"model": model.code, "version": model.version, "sleeve": sleeve.pk if sleeve else None,
                         "ineligible": ineligible})
    return subscription


@transaction.atomic
def model_override_add(
    *, subscription: ModelSubscription, kind: str, actor: User | None = None, instrument: Instrument | None = None,
    substitute: Instrument | None = None, currency: str = "", weight: Decimal | None = None,
    sell_if_held: bool = False, reason: str = "",
) -> ModelOverride:
    """Restrict an instrument, substitute one for another, or set a cash target in a currency."""
    account = _lock_account(subscription.account_id)
    _gate(account, actor=actor)
    if kind == OverrideKind.SUBSTITUTE and substitute is not None:
        _check_eligible(account, substitute, _today())
    override = ModelOverride(subscription=subscription, kind=kind, instrument=instrument, substitute=substitute,
                             currency=currency, weight=weight, sell_if_held=sell_if_held, reason=reason)
    if kind == OverrideKind.CASH_TARGET and not is_currency(currency):
        raise ValidationFailed(f"{currency!r} is not a currency", detail={"currency": currency})
    try:
        with transaction.atomic():
            override.save()
    except IntegrityError as exc:
        raise ValidationFailed(f"override fields do not fit kind {kind}", detail={"kind": kind}) from exc
    record_event(subject=account, event_type="account.override_added", actor=actor,
                 detail={"subscription": subscription.pk, "kind": kind, "instrument": instrument.pk if instrument else None,
                         "substitute": substitute.pk if substitute else None, "currency": currency,
                         "weight": str(weight) if weight is not None else None, "reason": reason})
    return override


@transaction.atomic
def model_delivery_load(*, path: str | None = None, publisher: Firm | None = None, actor: User | None = None,
                        text: str | None = None, name: str = "") -> list[dict[str, Any]]:
    """Load a model delivery CSV (see `accounts.modelfiles`) from a file (`path`) or from its
    `text` and file `name` (an upload). Every line is checked before any model is written; a
    model whose content is unchanged keeps its version. Errors name the file by its name only,
    never by a server path."""
    from pathlib import Path

    from .. import modelfiles

    if text is None:
        assert path is not None, "a delivery is a path or its text"
        name = name or Path(path).name
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise modelfiles.ModelFileError(f"{name}: not UTF-8 text (byte {exc.start})",
                                            detail={"file": name}) from None
        except OSError as exc:
            raise modelfiles.ModelFileError(f"{name}: cannot read: {exc.strerror or exc.__class__.__name__}",
                                            detail={"file": name}) from None
    name = Path(name or "delivery.csv").name
    parsed = modelfiles.parse(
        text, path=name,
        isin_known=lambda isins: set(Instrument.objects.filter(isin__in=isins).values_list("isin", flat=True)),
        model_known=lambda codes: set(ModelPortfolio.objects.filter(code__in=codes).values_list("code", flat=True)),
    )
    path = name
    report = []
    # sleeve models first, so a model of models finds them
    for model in sorted(parsed, key=lambda m: any(t == "sleeve" for t, _i, _w in m.lines)):
        lines = [TargetLine(weight=w, isin=i if t == "instrument" else "", cash_currency=i if t == "cash" else "",
                            sleeve_model=i if t == "sleeve" else "") for t, i, w in model.lines]
        before = ModelPortfolio.objects.filter(code=model.code).order_by("-version").values_list("version", flat=True).first()
        published = model_publish(
            code=model.code, name=model.name, provider=model.provider, base_currency=model.base_currency,
            effective_from=model.effective_from, lines=lines, publisher=publisher, actor=actor,
            source_file=Path(path).name, checksum=model.checksum,
        )
        report.append({"code": model.code, "version": published.version, "lines": len(lines),
                       "created": published.version != before})
    return report
