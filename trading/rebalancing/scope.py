"""The typed seams of a rebalance: what to rebalance (`RebalanceScope`) and what came of it
(`RebalanceResult`). Callers (API, Celery tasks, commands) build a scope from ids; the one place
that turns it into SQL is `trading.rebalancing.book.scope_sql`, beside the bulk loader that runs
it. A run stores its scope as `RebalanceScope.as_json()` (ids and a date, never SQL)."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import engine
    from .book import Book


@dataclass(frozen=True)
class RebalanceScope:
    """Active accounts to rebalance on `trade_date`, narrowed by every field given: a firm's, these
    accounts, those subscribed to a model (or following its code), those holding a sleeve, and for
    a chunk an inclusive range of account ids."""

    trade_date: dt.date
    firm: int | None = None
    accounts: tuple[int, ...] | None = None
    model: int | None = None
    sleeve: int | None = None
    id_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.accounts is not None:
            object.__setattr__(self, "accounts", tuple(sorted({int(a) for a in self.accounts})))
        if self.id_range is not None:
            lo, hi = (int(x) for x in self.id_range)
            object.__setattr__(self, "id_range", (lo, hi))

    def chunk(self, lo: int, hi: int) -> RebalanceScope:
        """This scope restricted to account ids lo..hi (a chunk of a large run)."""
        return replace(self, id_range=(lo, hi))

    def as_json(self) -> dict[str, Any]:
        return {"trade_date": self.trade_date.isoformat(), "firm": self.firm,
                "accounts": list(self.accounts) if self.accounts is not None else None,
                "model": self.model, "sleeve": self.sleeve,
                "id_range": list(self.id_range) if self.id_range is not None else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RebalanceScope:
        accounts = data.get("accounts")
        id_range = data.get("id_range")
        return cls(trade_date=dt.date.fromisoformat(data["trade_date"]), firm=data.get("firm"),
                   accounts=tuple(accounts) if accounts is not None else None, model=data.get("model"),
                   sleeve=data.get("sleeve"), id_range=(int(id_range[0]), int(id_range[1])) if id_range else None)


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each phase (route, copy and commit only when orders were written)."""

    load: float = 0.0
    compute: float = 0.0
    write: float = 0.0
    route: float | None = None
    copy: float | None = None
    commit: float | None = None


@dataclass(frozen=True)
class RebalanceResult:
    """What a rebalance (or one chunk of it) proposed. `as_dict()` is the JSON the run stores and
    the API returns; `proposal` and `book` are the engine's arrays, for callers that read them
    (dry runs, benchmarks), and are never serialised."""

    run: int
    dry_run: bool = False
    chunk: int | None = None
    skipped: bool = False  # a chunk already written under the same key
    accounts: int = 0
    holdings: int = 0
    out_of_band: int = 0
    orders: int = 0
    fx_orders: int = 0
    forwards: int = 0
    cash_limited: int = 0
    fx_too_late: int = 0  # accounts whose foreign buys were cut because FX cannot value before they settle
    transfers: int = 0  # cash transfers between custody accounts proposed
    # accounts whose buys were cut because cash at another custodian cannot be moved before they settle
    transfer_too_late: int = 0
    wash_sale_blocked: int = 0
    unrouted: int | None = None
    not_routed: dict[str, dict[str, int]] | None = None  # why: no custody account (per market), no broker
    seconds: Timings = field(default_factory=Timings)
    load_detail: dict[str, float] | None = None
    proposal: engine.Result | None = field(default=None, repr=False, compare=False)
    book: Book | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        if self.skipped:
            return {"run": self.run, "chunk": self.chunk, "skipped": True}
        out: dict[str, Any] = {
            "run": self.run, "accounts": self.accounts, "holdings": self.holdings, "out_of_band": self.out_of_band,
            "orders": self.orders, "fx_orders": self.fx_orders, "forwards": self.forwards,
            "cash_limited": self.cash_limited, "fx_too_late": self.fx_too_late, "transfers": self.transfers,
            "transfer_too_late": self.transfer_too_late, "wash_sale_blocked": self.wash_sale_blocked,
            "dry_run": self.dry_run,
        }
        if self.chunk is not None:
            out["chunk"] = self.chunk
        if self.unrouted is not None:
            out["unrouted"] = self.unrouted
        if self.not_routed is not None:
            out["not_routed"] = self.not_routed
        if self.load_detail is not None:
            out["load_detail"] = self.load_detail
        for name, value in asdict(self.seconds).items():
            if value is not None:
                out[f"seconds_{name}"] = round(value, 3)
        return out
