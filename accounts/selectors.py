"""Reads of accounts and their books.

Balances are computed from the ledger for any date and basis (trade date or settlement date);
`Position` / `CashBalance` hold the same for today, rewritten by `services.books_refresh`.
`rebalance_inputs` serves the rebalancer: every account's positions, cash, prices, FX and
targets as numpy arrays, one query per table, no per-row ORM.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.db.models import Max, Q, QuerySet, Sum

from onboarding.models import Firm
from onboarding.money import quantize_money
from trading.reference import selectors as ref_selectors
from trading.reference.models import Instrument

from .models import (
    Account,
    Basis,
    LegType,
    LotRelief,
    ModelOverride,
    ModelPortfolio,
    ModelStatus,
    ModelSubscription,
    ModelTarget,
    Movement,
    OverrideKind,
    SubscriptionStatus,
    TaxLot,
)
from .performance import ReturnSplit, split_return

ZERO = Decimal(0)


def _date_filter(basis: str, as_of: dt.date) -> Q:
    if basis == Basis.SETTLE:
        return Q(settle_date__lte=as_of)
    if basis == Basis.TRADE:
        return Q(trade_date__lte=as_of)
    raise ValueError(f"basis must be trade or settle, not {basis!r}")


def accounts_for_firm(*, firm: Firm | int) -> QuerySet[Account]:
    return Account.objects.filter(firm=firm).select_related("owner", "household")


def accounts_visible_to(*, user) -> QuerySet[Account]:
    """The tenant rule: a firm user sees the firm's accounts; platform officers see all."""
    if user.is_superuser or getattr(user, "is_platform_officer", False):
        return Account.objects.all().select_related("owner", "household")
    return accounts_for_firm(firm=user.firm_id)


def account_get(*, user, pk: int) -> Account:
    """One account the user may see, else NotFound (never confirming it exists elsewhere)."""
    from onboarding.exceptions import NotFound

    account = accounts_visible_to(user=user).filter(pk=pk).first()
    if account is None:
        raise NotFound("account not found")
    return account


def models_visible_to(user) -> QuerySet[ModelPortfolio]:
    """The shared catalogue (no publisher) and the user's own firm's models; officers see all."""
    qs = ModelPortfolio.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.is_superuser or getattr(user, "is_platform_officer", False):
        return qs
    if user.firm_id is None:
        return qs.none()
    return qs.filter(Q(publisher__isnull=True) | Q(publisher_id=user.firm_id))


# --- Positions and cash ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionRow:
    custody_account_id: int
    sleeve_id: int | None
    instrument_id: int
    currency: str
    quantity: Decimal


def positions(*, account: Account, as_of: dt.date, basis: str = Basis.TRADE, by_sleeve: bool = True) -> list[PositionRow]:
    """Non-zero holdings per custody account (and sleeve) on the basis asked."""
    keys = ["custody_account_id", "sleeve_id", "instrument_id", "currency"] if by_sleeve else [
        "custody_account_id", "instrument_id", "currency"]
    rows = (
        Movement.objects.filter(_date_filter(basis, as_of), account=account, leg=LegType.SECURITY)
        .values_list(*keys).annotate(q=Sum("quantity")).order_by(*keys)
    )
    out = []
    for row in rows:
        if not row[-1]:
            continue
        if by_sleeve:
            out.append(PositionRow(row[0], row[1], row[2], row[3], row[4]))
        else:
            out.append(PositionRow(row[0], None, row[1], row[2], row[3]))
    return out


def cash_balances(
    *, account: Account, as_of: dt.date, basis: str = Basis.SETTLE, sleeve=None
) -> dict[tuple[int, str], Decimal]:
    """{(custody account, currency): amount} on the basis asked (one sleeve's own cash if given)."""
    qs = Movement.objects.filter(_date_filter(basis, as_of), account=account, leg=LegType.CASH)
    if sleeve is not None:
        qs = qs.filter(sleeve=sleeve)
    rows = (
        qs
        .values_list("custody_account_id", "currency").annotate(a=Sum("amount")).order_by("custody_account_id", "currency")
    )
    return {(c, ccy): quantize_money(a or ZERO, ccy) for c, ccy, a in rows}


def cash_by_currency(*, account: Account, as_of: dt.date, basis: str = Basis.SETTLE, sleeve=None) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (_custody, ccy), amount in cash_balances(account=account, as_of=as_of, basis=basis, sleeve=sleeve).items():
        out[ccy] += amount
    return dict(out)


@dataclass(frozen=True)
class ProjectedCash:
    currency: str
    value_date: dt.date
    flow: Decimal  # settling on value_date (for the first row: everything settled by as_of)
    balance: Decimal  # settled balance at the end of value_date


def projected_cash(*, account: Account, as_of: dt.date, custody_account=None) -> list[ProjectedCash]:
    """Per currency: the settled balance on `as_of`, then each later date on which trades
    already done (trade date <= as_of) settle, with the running balance."""
    qs = Movement.objects.filter(account=account, leg=LegType.CASH, trade_date__lte=as_of)
    if custody_account is not None:
        qs = qs.filter(custody_account=custody_account)
    settled = dict(qs.filter(settle_date__lte=as_of).values_list("currency").annotate(a=Sum("amount")).order_by())
    pending = (
        qs.filter(settle_date__gt=as_of).values_list("currency", "settle_date").annotate(a=Sum("amount"))
        .order_by("currency", "settle_date")
    )
    by_ccy: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for ccy, day, amount in pending:
        by_ccy[ccy].append((day, amount))
    out = []
    for ccy in sorted(set(settled) | set(by_ccy)):
        balance = quantize_money(settled.get(ccy) or ZERO, ccy)
        out.append(ProjectedCash(ccy, as_of, balance, balance))
        for day, amount in by_ccy.get(ccy, []):
            amount = quantize_money(amount, ccy)
            balance += amount
            out.append(ProjectedCash(ccy, day, amount, balance))
    return out


# --- Lots and gains -----------------------------------------------------------------------------


def open_lots(*, account: Account, instrument: Instrument | None = None) -> QuerySet[TaxLot]:
    qs = TaxLot.objects.filter(account=account, quantity_open__gt=0)
    if instrument is not None:
        qs = qs.filter(instrument=instrument)
    return qs.order_by("acquisition_date", "pk")


def realised_gains(*, account: Account, start: dt.date, end: dt.date) -> list[LotRelief]:
    """Lot reliefs of disposals traded in [start, end], excluding reversed ones."""
    return list(
        LotRelief.objects.filter(
            movement__account=account, movement__trade_date__gte=start, movement__trade_date__lte=end,
            movement__transaction__reversed_by__isnull=True,
        ).select_related("lot", "movement").order_by("movement__trade_date", "pk")
    )


# --- Valuation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValuationLine:
    kind: str  # "security" or "cash"
    custody_account_id: int
    instrument_id: int | None
    listing_id: int | None
    quantity: Decimal
    price: Decimal | None  # as quoted
    price_unit: str
    price_divisor: Decimal
    currency: str
    local_value: Decimal
    fx_rate: Decimal  # base per one unit of currency
    fx_source: str
    base_value: Decimal
    price_source: str = ""
    price_as_of: dt.datetime | None = None


@dataclass
class Valuation:
    account_id: int
    base_currency: str
    on: dt.date
    basis: str
    lines: list[ValuationLine] = field(default_factory=list)

    @property
    def total_base(self) -> Decimal:
        return sum((line.base_value for line in self.lines), ZERO)

    @property
    def securities_base(self) -> Decimal:
        return sum((line.base_value for line in self.lines if line.kind == "security"), ZERO)

    @property
    def cash_base(self) -> Decimal:
        return sum((line.base_value for line in self.lines if line.kind == "cash"), ZERO)


def _pricing_listings(account_ids: Sequence[int], keys: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(custody account, instrument) -> listing to price it on: the listing it last traded on
    in that custody account (an F-share stays priced in USD), else the primary listing."""
    traded = dict(
        ((c, i), listing)
        for c, i, listing in Movement.objects.filter(account_id__in=account_ids, leg=LegType.SECURITY, listing__isnull=False)
        .values_list("custody_account_id", "instrument_id").annotate(listing=Max("listing_id")).order_by()
    )
    primary = ref_selectors.primary_listings(instrument_ids={i for _c, i in keys})
    return {key: traded.get(key) or primary.get(key[1]) for key in keys}


def valuation(*, account: Account, on: dt.date, basis: str = Basis.TRADE) -> Valuation:
    """Every holding and cash balance valued in the account's base currency with the newest
    price and FX rate on or before `on` (each line names its sources)."""
    holdings = positions(account=account, as_of=on, basis=basis, by_sleeve=False)
    cash = cash_balances(account=account, as_of=on, basis=basis)
    keys = {(p.custody_account_id, p.instrument_id) for p in holdings}
    listing_of = _pricing_listings([account.pk], keys)
    prices = ref_selectors.latest_prices(listing_ids=[v for v in listing_of.values() if v], on=on)
    currencies = {p.currency for p in prices.values()} | {ccy for _c, ccy in cash}
    fx = ref_selectors.fx_rates_to(target=account.base_currency, currencies=currencies, on=on)
    result = Valuation(account_id=account.pk, base_currency=account.base_currency, on=on, basis=basis)
    for p in holdings:
        listing_id = listing_of.get((p.custody_account_id, p.instrument_id))
        quote = prices.get(listing_id)
        if quote is None:
            from trading.reference.exceptions import PriceMissing

            raise PriceMissing(f"no price for instrument {p.instrument_id} on or before {on}",
                               detail={"instrument": p.instrument_id, "listing": listing_id})
        local = quantize_money(p.quantity * quote.in_currency, quote.currency)
        rate = fx[quote.currency]
        result.lines.append(ValuationLine(
            kind="security", custody_account_id=p.custody_account_id, instrument_id=p.instrument_id,
            listing_id=listing_id, quantity=p.quantity, price=quote.price, price_unit=quote.price_unit,
            price_divisor=quote.price_divisor, currency=quote.currency, local_value=local, fx_rate=rate.rate,
            fx_source=rate.source, base_value=quantize_money(local * rate.rate, account.base_currency),
            price_source=quote.source, price_as_of=quote.as_of,
        ))
    for (custody_id, ccy), amount in sorted(cash.items()):
        if not amount:
            continue
        rate = fx[ccy]
        result.lines.append(ValuationLine(
            kind="cash", custody_account_id=custody_id, instrument_id=None, listing_id=None, quantity=amount,
            price=None, price_unit=ccy, price_divisor=Decimal(1), currency=ccy, local_value=amount,
            fx_rate=rate.rate, fx_source=rate.source,
            base_value=quantize_money(amount * rate.rate, account.base_currency),
        ))
    return result


@dataclass(frozen=True)
class HouseholdValuation:
    currency: str
    on: dt.date
    total: Decimal
    by_account: dict[int, Decimal]  # account id -> value in `currency`


def household_valuation(*, household, on: dt.date, currency: str, basis: str = Basis.TRADE) -> HouseholdValuation:
    """Every account of a household valued and converted into one reporting currency."""
    accounts = list(Account.objects.filter(household=household).exclude(status="closed").order_by("pk"))
    fx = ref_selectors.fx_rates_to(target=currency, currencies={a.base_currency for a in accounts}, on=on)
    by_account = {}
    for account in accounts:
        value = valuation(account=account, on=on, basis=basis).total_base
        by_account[account.pk] = quantize_money(value * fx[account.base_currency].rate, currency)
    return HouseholdValuation(currency=currency, on=on, total=sum(by_account.values(), ZERO), by_account=by_account)


def period_return(*, account: Account, start: dt.date, end: dt.date) -> ReturnSplit:
    """Base-currency return of the holdings at `start` (trade-date basis) held to `end`, split
    into the local (asset) return and the currency return. External flows are excluded by
    construction: the start holdings are held unchanged."""
    start_val = valuation(account=account, on=start, basis=Basis.TRADE)
    listing_ids = [line.listing_id for line in start_val.lines if line.listing_id]
    end_prices = ref_selectors.latest_prices(listing_ids=listing_ids, on=end)
    end_fx = ref_selectors.fx_rates_to(target=account.base_currency, currencies={line.currency for line in start_val.lines}, on=end)
    base_start, p0, p1, x0, x1 = [], [], [], [], []
    for line in start_val.lines:
        base_start.append(float(line.base_value))
        if line.kind == "security":
            p0.append(float(line.price / line.price_divisor))
            p1.append(float(end_prices[line.listing_id].in_currency))
        else:
            p0.append(1.0)
            p1.append(1.0)
        x0.append(float(line.fx_rate))
        x1.append(float(end_fx[line.currency].rate))
    return split_return(np.array(base_start), np.array(p0), np.array(p1), np.array(x0), np.array(x1))


def daily_return(*, account: Account, day: dt.date) -> ReturnSplit:
    """The return of `day` against the previous weekday's close, split local / currency."""
    previous = day - dt.timedelta(days=1)
    while previous.weekday() >= 5:
        previous -= dt.timedelta(days=1)
    return period_return(account=account, start=previous, end=day)


# --- Bulk inputs for the rebalancer --------------------------------------------------------------


@dataclass
class RebalanceInputs:
    """Everything the rebalancer needs for many accounts, as arrays.

    Index conventions: `account_ids[a]`, `instrument_ids[i]`, `currencies[c]`.
    - positions: dense [a, i] float quantities (trade or settle basis)
    - cash: dense [a, c] amounts; `cash_projected_min` the lowest projected settled balance
    - price_local: [i] price per unit in the instrument's pricing currency (`price_currency[i]`)
    - fx_to_base: [a, c] units of the account's base currency per unit of currency c
    - targets: [a, i] target weights; `cash_targets` [a, c]; `restricted` [a, i] bool;
      `substitutes` list of (account index, instrument index, substitute index)
    - lot_size [i], allows_fractional [i] from the pricing listing
    """

    as_of: dt.date
    basis: str
    account_ids: np.ndarray
    base_currencies: list[str]
    instrument_ids: np.ndarray
    listing_ids: np.ndarray
    currencies: list[str]
    positions: np.ndarray
    cash: np.ndarray
    cash_projected_min: np.ndarray
    price_local: np.ndarray
    price_currency: list[str]
    fx_to_base: np.ndarray
    targets: np.ndarray
    cash_targets: np.ndarray
    restricted: np.ndarray
    substitutes: list[tuple[int, int, int]]
    lot_size: np.ndarray
    allows_fractional: np.ndarray
    model_ids: np.ndarray  # [a] account-level model version in force (0 if none or sleeves)
    household_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # [a] 0 if none
    is_us_person: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # [a]
    tax_status: list[str] = field(default_factory=list)  # [a]

    def market_values_base(self) -> np.ndarray:
        """[a, i] market value of each holding in the account's base currency."""
        ccy_index = {c: k for k, c in enumerate(self.currencies)}
        col = np.array([ccy_index.get(c, 0) for c in self.price_currency], dtype=int)
        fx = self.fx_to_base[:, col] if len(col) else np.zeros((len(self.account_ids), 0))
        return self.positions * self.price_local[None, :] * fx


def _flatten_models(model_ids: set[int]) -> dict[int, dict[tuple[int | None, str], float]]:
    """model id -> {(instrument id or None, cash currency or ""): weight}, with sleeve-model
    lines replaced by their own (flattened) lines times the sleeve weight."""
    raw: dict[int, list[tuple[int | None, int | None, str, float]]] = {}
    todo = set(model_ids)
    while todo:
        rows = list(ModelTarget.objects.filter(model_id__in=todo)
                    .values_list("model_id", "instrument_id", "sleeve_model_id", "cash_currency", "weight"))
        for m in todo:
            raw.setdefault(m, [])
        for m, inst, sleeve_model, ccy, w in rows:
            raw[m].append((inst, sleeve_model, ccy, float(w)))
        todo = {sm for m, _i, sm, _c, _w in rows if sm and sm not in raw}

    memo: dict[int, dict[tuple[int | None, str], float]] = {}

    def flatten(m: int, depth: int = 0) -> dict[tuple[int | None, str], float]:
        if m in memo:
            return memo[m]
        if depth > 10:
            raise ValueError(f"model {m} nests too deeply (a cycle?)")
        out: dict[tuple[int | None, str], float] = defaultdict(float)
        for inst, sleeve_model, ccy, w in raw.get(m, []):
            if sleeve_model:
                for key, sub_w in flatten(sleeve_model, depth + 1).items():
                    out[key] += w * sub_w
            else:
                out[(inst, ccy if not inst else "")] += w
        memo[m] = dict(out)
        return memo[m]

    return {m: flatten(m) for m in model_ids}


def rebalance_inputs(*, account_ids: Sequence[int], as_of: dt.date, basis: str = Basis.TRADE) -> RebalanceInputs:
    """Load positions, cash, prices, FX and targets for many accounts in a fixed number of
    queries (values_list + aggregates), returned as numpy arrays."""
    acc_rows = list(Account.objects.filter(pk__in=account_ids).order_by("pk").values_list(
        "pk", "base_currency", "household_id", "is_us_person", "tax_status"))
    acc_ids = np.array([r[0] for r in acc_rows], dtype=np.int64)
    a_index = {pk: k for k, pk in enumerate(acc_ids.tolist())}
    base_ccys = [r[1] for r in acc_rows]
    date_q = _date_filter(basis, as_of)

    pos_rows = list(
        Movement.objects.filter(date_q, account_id__in=a_index, leg=LegType.SECURITY)
        .values_list("account_id", "instrument_id").annotate(q=Sum("quantity")).order_by()
    )
    cash_rows = list(
        Movement.objects.filter(date_q, account_id__in=a_index, leg=LegType.CASH)
        .values_list("account_id", "currency").annotate(a=Sum("amount")).order_by()
    )
    pending_rows = list(
        Movement.objects.filter(account_id__in=a_index, leg=LegType.CASH, trade_date__lte=as_of, settle_date__gt=as_of)
        .values_list("account_id", "currency", "settle_date").annotate(a=Sum("amount")).order_by("settle_date")
    )
    settled_rows = list(
        Movement.objects.filter(account_id__in=a_index, leg=LegType.CASH, settle_date__lte=as_of)
        .values_list("account_id", "currency").annotate(a=Sum("amount")).order_by()
    )

    # Targets: the model version in force per account. An account-level subscription wins;
    # otherwise the sleeves' models, each scaled by the sleeve's share (UMA). Models of models
    # are flattened to instruments and cash (one query per level of nesting).
    subs = list(
        ModelSubscription.objects.filter(account_id__in=a_index, status=SubscriptionStatus.ACTIVE)
        .values_list("pk", "account_id", "model_id", "model__code", "follow_latest", "sleeve_id", "sleeve__target_weight")
    )
    latest_by_code = dict(
        ModelPortfolio.objects.filter(code__in={s[3] for s in subs}, status=ModelStatus.PUBLISHED)
        .values_list("code").annotate(m=Max("pk")).order_by()
    )
    model_of: dict[int, int] = {}
    parts: dict[int, list[tuple[int, float]]] = defaultdict(list)  # account -> [(model, scale)]
    for _pk, acc, model_id, code, follow, sleeve_id, sleeve_weight in sorted(subs, key=lambda r: r[5] is not None):
        chosen = latest_by_code.get(code, model_id) if follow else model_id
        if sleeve_id is None:
            model_of[acc] = chosen
            parts[acc] = [(chosen, 1.0)]
        elif acc not in model_of:
            parts[acc].append((chosen, float(sleeve_weight or 0)))
    flat = _flatten_models({m for p in parts.values() for m, _w in p})
    override_rows = list(
        ModelOverride.objects.filter(subscription_id__in=[s[0] for s in subs])
        .values_list("subscription__account_id", "kind", "instrument_id", "substitute_id", "currency", "weight")
    )
    target_rows = [(m, i, c, w) for m, lines in flat.items() for (i, c), w in lines.items()]

    instrument_set = {i for _a, i, _q in pos_rows} | {i for _m, i, _c, _w in target_rows if i}
    instrument_set |= {s for _a, _k, _i, s, _c, _w in override_rows if s} | {i for _a, _k, i, _s, _c, _w in override_rows if i}
    inst_ids = np.array(sorted(instrument_set), dtype=np.int64)
    i_index = {pk: k for k, pk in enumerate(inst_ids.tolist())}

    # Pricing listing: primary listing of each instrument.
    listing_of = ref_selectors.primary_listings(instrument_ids=i_index)
    from trading.reference.models import Listing

    listing_info = {
        pk: (lot, frac) for pk, lot, frac in
        Listing.objects.filter(pk__in=set(listing_of.values())).values_list("pk", "lot_size", "allows_fractional")
    }
    quotes = ref_selectors.latest_prices(listing_ids=listing_of.values(), on=as_of)
    n_i = len(inst_ids)
    price = np.full(n_i, np.nan)
    price_ccy = [""] * n_i
    lot_size = np.ones(n_i)
    fractional = np.zeros(n_i, dtype=bool)
    listing_arr = np.zeros(n_i, dtype=np.int64)
    for inst, k in i_index.items():
        lid = listing_of.get(inst)
        if lid is None:
            continue
        listing_arr[k] = lid
        lot, frac = listing_info[lid]
        lot_size[k], fractional[k] = float(lot), frac
        q = quotes.get(lid)
        if q is not None:
            price[k] = float(q.in_currency)
            price_ccy[k] = q.currency

    currencies = sorted({c for _a, c, _x in cash_rows} | {c for c in price_ccy if c} | set(base_ccys)
                        | {c for _m, _i, c, _w in target_rows if c} | {c for *_x, c, _w in override_rows if c})
    c_index = {c: k for k, c in enumerate(currencies)}
    n_a, n_c = len(acc_ids), len(currencies)

    pos = np.zeros((n_a, n_i))
    for acc, inst, q in pos_rows:
        pos[a_index[acc], i_index[inst]] += float(q)
    cash = np.zeros((n_a, n_c))
    for acc, ccy, amount in cash_rows:
        cash[a_index[acc], c_index[ccy]] += float(amount)
    settled = np.zeros((n_a, n_c))
    for acc, ccy, amount in settled_rows:
        settled[a_index[acc], c_index[ccy]] += float(amount)
    running = settled.copy()
    lowest = settled.copy()
    for acc, ccy, _day, amount in pending_rows:
        a, c = a_index[acc], c_index[ccy]
        running[a, c] += float(amount)
        lowest[a, c] = min(lowest[a, c], running[a, c])

    fx = np.ones((n_a, n_c))
    for base in set(base_ccys):
        rates = ref_selectors.fx_rates_to(target=base, currencies=currencies, on=as_of) if currencies else {}
        row = np.array([float(rates[c].rate) for c in currencies])
        fx[[k for k, b in enumerate(base_ccys) if b == base], :] = row

    targets = np.zeros((n_a, n_i))
    cash_targets = np.zeros((n_a, n_c))
    model_ids = np.zeros(n_a, dtype=np.int64)
    for acc, pieces in parts.items():
        a = a_index[acc]
        model_ids[a] = model_of.get(acc, 0)
        for model_id, scale in pieces:
            for (inst, ccy), w in flat.get(model_id, {}).items():
                if inst:
                    targets[a, i_index[inst]] += w * scale
                else:
                    cash_targets[a, c_index[ccy]] += w * scale
    restricted = np.zeros((n_a, n_i), dtype=bool)
    substitutes: list[tuple[int, int, int]] = []
    for acc, kind, inst, sub, ccy, w in override_rows:
        a = a_index[acc]
        if kind == OverrideKind.RESTRICTED:
            restricted[a, i_index[inst]] = True
        elif kind == OverrideKind.SUBSTITUTE:
            substitutes.append((a, i_index[inst], i_index[sub]))
        elif kind == OverrideKind.CASH_TARGET:
            cash_targets[a, c_index[ccy]] = float(w)

    return RebalanceInputs(
        as_of=as_of, basis=basis, account_ids=acc_ids, base_currencies=base_ccys, instrument_ids=inst_ids,
        listing_ids=listing_arr, currencies=currencies, positions=pos, cash=cash, cash_projected_min=lowest,
        price_local=price, price_currency=price_ccy, fx_to_base=fx, targets=targets, cash_targets=cash_targets,
        restricted=restricted, substitutes=substitutes, lot_size=lot_size, allows_fractional=fractional,
        model_ids=model_ids, household_ids=np.array([r[2] or 0 for r in acc_rows], dtype=np.int64),
        is_us_person=np.array([r[3] for r in acc_rows], dtype=bool), tax_status=[r[4] for r in acc_rows],
    )


@dataclass
class LotInputs:
    """Open tax lots of many accounts as parallel arrays (one row per lot)."""

    account_ids: np.ndarray
    instrument_ids: np.ndarray
    lot_ids: np.ndarray
    custody_account_ids: np.ndarray
    acquisition_dates: np.ndarray  # datetime64[D]
    quantity_open: np.ndarray
    unit_cost_local: np.ndarray
    unit_cost_base: np.ndarray
    local_currency: list[str]


def lots_inputs(*, account_ids: Sequence[int]) -> LotInputs:
    """Every open lot of these accounts in one query, for tax-aware selling."""
    rows = list(
        TaxLot.objects.filter(account_id__in=account_ids, quantity_open__gt=0).order_by("account_id", "instrument_id", "acquisition_date", "pk")
        .values_list("account_id", "instrument_id", "pk", "custody_account_id", "acquisition_date", "quantity",
                     "quantity_open", "cost_local", "cost_base", "local_currency")
    )
    qty = np.array([float(r[5]) for r in rows])
    return LotInputs(
        account_ids=np.array([r[0] for r in rows], dtype=np.int64),
        instrument_ids=np.array([r[1] for r in rows], dtype=np.int64),
        lot_ids=np.array([r[2] for r in rows], dtype=np.int64),
        custody_account_ids=np.array([r[3] for r in rows], dtype=np.int64),
        acquisition_dates=np.array([r[4] for r in rows], dtype="datetime64[D]"),
        quantity_open=np.array([float(r[6]) for r in rows]),
        unit_cost_local=np.array([float(r[7]) for r in rows]) / np.where(qty == 0, 1, qty),
        unit_cost_base=np.array([float(r[8]) for r in rows]) / np.where(qty == 0, 1, qty),
        local_currency=[r[9] for r in rows],
    )


# --- Books per custodian (for reconciliation) -------------------------------------------------------


@dataclass
class CustodianBooks:
    """Our side of a custodian's statements on `as_of`, keyed by custody account number.

    positions: (custody number, instrument id, isin, trade qty, settled qty, price per unit in
    `price_currency`, price currency, FX to the account's base, base currency)
    pending: (custody number, instrument id, quantity, trade date, settle date) for security legs
    traded by `as_of` and settling after it
    pending_cash: (custody number, currency, amount, settle date) likewise for cash legs
    cash: (custody number, currency, trade-date amount, settled amount)
    corporate_actions: (instrument id, effective date, quantity factor, kind)
    """

    custodian_bic: str
    as_of: dt.date
    positions: list[tuple] = field(default_factory=list)
    pending: list[tuple] = field(default_factory=list)
    pending_cash: list[tuple] = field(default_factory=list)
    cash: list[tuple] = field(default_factory=list)
    corporate_actions: list[tuple] = field(default_factory=list)


def custodian_books(*, custodian_bic: str = "", as_of: dt.date, with_prices: bool = True,
                    custodian_id: int | None = None) -> CustodianBooks:
    """Everything we hold at one custodian (by id, or by BIC), in a fixed number of queries."""
    where = Q(custody_account__custodian_id=custodian_id) if custodian_id is not None \
        else Q(custody_account__custodian__bic=custodian_bic)
    base = Movement.objects.filter(where, trade_date__lte=as_of)
    out = CustodianBooks(custodian_bic=custodian_bic, as_of=as_of)
    rows = list(
        base.filter(leg=LegType.SECURITY)
        .values_list("custody_account__number", "instrument_id", "instrument__isin", "account__base_currency",
                     "custody_account_id")
        .annotate(trade=Sum("quantity"), settled=Sum("quantity", filter=Q(settle_date__lte=as_of)))
        .order_by("custody_account__number", "instrument_id")
    )
    rows = [r for r in rows if r[5] or r[6]]
    quotes, fx_by_base = {}, {}
    listing_of: dict[tuple[int, int], int | None] = {}
    if with_prices and rows:
        account_ids = list(base.values_list("account_id", flat=True).distinct())
        listing_of = _pricing_listings(account_ids, {(r[4], r[1]) for r in rows})
        quotes = ref_selectors.latest_prices(listing_ids=[v for v in listing_of.values() if v], on=as_of)
        currencies = {q.currency for q in quotes.values()}
        for base_ccy in {r[3] for r in rows}:
            fx_by_base[base_ccy] = ref_selectors.fx_rates_to(target=base_ccy, currencies=currencies, on=as_of)
    for number, instrument_id, isin, base_ccy, custody_id, trade_q, settled_q in rows:
        quote = quotes.get(listing_of.get((custody_id, instrument_id)))
        price = quote.in_currency if quote else None
        ccy = quote.currency if quote else ""
        rate = fx_by_base.get(base_ccy, {}).get(ccy)
        out.positions.append((number, instrument_id, isin, trade_q or ZERO, settled_q or ZERO, price, ccy,
                              rate.rate if rate else None, base_ccy))
    out.pending = list(
        base.filter(leg=LegType.SECURITY, settle_date__gt=as_of)
        .values_list("custody_account__number", "instrument_id", "quantity", "trade_date", "settle_date")
        .order_by("settle_date", "pk")
    )
    out.pending_cash = [
        (number, ccy, quantize_money(amount, ccy), day)
        for number, ccy, day, amount in base.filter(leg=LegType.CASH, settle_date__gt=as_of)
        .values_list("custody_account__number", "currency", "settle_date").annotate(a=Sum("amount"))
        .order_by("settle_date", "custody_account__number", "currency")
    ]
    out.cash = [
        (number, ccy, quantize_money(trade or ZERO, ccy), quantize_money(settled or ZERO, ccy))
        for number, ccy, trade, settled in base.filter(leg=LegType.CASH)
        .values_list("custody_account__number", "currency")
        .annotate(trade=Sum("amount"), settled=Sum("amount", filter=Q(settle_date__lte=as_of)))
        .order_by("custody_account__number", "currency")
    ]
    from .models import TransactionKind

    events = Movement.objects.filter(
        where, transaction__kind__in=[TransactionKind.SPLIT, TransactionKind.ADR_RATIO_CHANGE], trade_date__lte=as_of,
    ).values_list("instrument_id", "trade_date", "transaction__kind", "transaction__detail")
    out.corporate_actions = sorted({(i, d, Decimal(detail.get("factor", "1")), kind) for i, d, kind, detail in events},
                                   key=lambda r: (r[1], r[0]))
    return out


@dataclass
class CustodyCashDay:
    """One custody cash account on one value date, settled basis: the balance settled before the
    day, and the cash legs that settle on it (amount signed, kind, reference, trade date)."""

    custody_number: str
    cash_number: str          # the custodian's cash account number (IBAN) when on file, else ""
    currency: str
    base_currency: str
    opening: Decimal
    entries: list[tuple[Decimal, str, str, dt.date]] = field(default_factory=list)

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((e[0] for e in self.entries), Decimal(0))


def custodian_cash_day(*, custodian_id: int, on: dt.date) -> list[CustodyCashDay]:
    """Settled cash at one custodian for value date `on`, per custody account and currency, in
    two queries (balances before the day, and the day's legs)."""
    from .models import CustodyCashAccount

    legs = Movement.objects.filter(custody_account__custodian_id=custodian_id, leg=LegType.CASH)
    numbers = {(n, c): iban for n, c, iban in CustodyCashAccount.objects.filter(
        custody_account__custodian_id=custodian_id, is_active=True).values_list(
        "custody_account__number", "currency", "number")}
    days: dict[tuple[str, str], CustodyCashDay] = {}
    for number, ccy, base_ccy, amount in (legs.filter(settle_date__lt=on)
                                          .values_list("custody_account__number", "currency",
                                                       "account__base_currency")
                                          .annotate(a=Sum("amount")).order_by()):
        days[(number, ccy)] = CustodyCashDay(number, numbers.get((number, ccy), ""), ccy, base_ccy,
                                             quantize_money(amount or ZERO, ccy))
    for number, ccy, base_ccy, amount, kind, ref, td in (
            legs.filter(settle_date=on).order_by("custody_account__number", "currency", "pk")
            .values_list("custody_account__number", "currency", "account__base_currency", "amount",
                         "transaction__kind", "transaction__external_ref", "trade_date")):
        day = days.setdefault((number, ccy), CustodyCashDay(number, numbers.get((number, ccy), ""), ccy,
                                                            base_ccy, ZERO))
        day.entries.append((quantize_money(amount, ccy), kind, ref, td))
    for (number, ccy), iban in numbers.items():  # an account on file with no movement yet still reports
        if (number, ccy) not in days:
            days[(number, ccy)] = CustodyCashDay(number, iban, ccy, "", ZERO)
    return [days[k] for k in sorted(days)]


# --- Self-check ---------------------------------------------------------------------------------


def books_discrepancies(*, account_ids: Sequence[int] | None = None) -> list[dict]:
    """Where derived state disagrees with the ledger: open lots vs long positions (all dates),
    and the Position / CashBalance tables vs the ledger on their own `as_of` date."""
    from .models import CashBalance, Position

    moves = Movement.objects.all()
    lots = TaxLot.objects.filter(quantity_open__gt=0)
    pos_table = Position.objects.all()
    cash_table = CashBalance.objects.all()
    if account_ids is not None:
        moves, lots = moves.filter(account_id__in=account_ids), lots.filter(account_id__in=account_ids)
        pos_table, cash_table = pos_table.filter(account_id__in=account_ids), cash_table.filter(account_id__in=account_ids)
    out: list[dict] = []
    long_q = dict(
        ((a, c, s, i), q) for a, c, s, i, q in
        moves.filter(leg=LegType.SECURITY, is_short=False)
        .values_list("account_id", "custody_account_id", "sleeve_id", "instrument_id").annotate(q=Sum("quantity")).order_by()
    )
    lot_q = dict(
        ((a, c, s, i), q) for a, c, s, i, q in
        lots.values_list("account_id", "custody_account_id", "sleeve_id", "instrument_id").annotate(q=Sum("quantity_open")).order_by()
    )
    for key in sorted(set(long_q) | set(lot_q), key=lambda k: tuple(x or 0 for x in k)):
        ledger, in_lots = long_q.get(key) or ZERO, lot_q.get(key) or ZERO
        if ledger != in_lots:
            out.append({"check": "lots_vs_ledger", "account": key[0], "custody_account": key[1], "sleeve": key[2],
                        "instrument": key[3], "ledger": str(ledger), "lots": str(in_lots)})
    for row in pos_table.values("account_id", "custody_account_id", "sleeve_id", "instrument_id", "basis", "quantity", "as_of"):
        flt = Q(trade_date__lte=row["as_of"]) if row["basis"] == Basis.TRADE else Q(settle_date__lte=row["as_of"])
        ledger = moves.filter(flt, leg=LegType.SECURITY, custody_account_id=row["custody_account_id"],
                              sleeve_id=row["sleeve_id"], instrument_id=row["instrument_id"]).aggregate(q=Sum("quantity"))["q"]
        if (ledger or ZERO) != row["quantity"]:
            out.append({"check": "position_table", **{k: str(v) for k, v in row.items()}, "ledger": str(ledger)})
    for row in cash_table.values("account_id", "custody_account_id", "sleeve_id", "currency", "basis", "amount", "as_of"):
        flt = Q(trade_date__lte=row["as_of"]) if row["basis"] == Basis.TRADE else Q(settle_date__lte=row["as_of"])
        ledger = moves.filter(flt, leg=LegType.CASH, custody_account_id=row["custody_account_id"],
                              sleeve_id=row["sleeve_id"], currency=row["currency"]).aggregate(a=Sum("amount"))["a"]
        if quantize_money(ledger or ZERO, row["currency"]) != quantize_money(row["amount"], row["currency"]):
            out.append({"check": "cash_table", **{k: str(v) for k, v in row.items()}, "ledger": str(ledger)})
    return out
