"""FIX 4.4 NewOrderSingle (35=D) messages for released blocks, and the CSV export (no ORM)."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from onboarding import csvsafe

SOH = "\x01"
CSV_COLUMNS = ["cl_ord_id", "broker", "side", "isin", "ticker", "mic", "currency", "quantity", "order_type",
               "time_in_force", "trade_date", "settle_date", "accounts"]


@dataclass(frozen=True)
class Ticket:
    cl_ord_id: str
    broker: str
    target_comp_id: str
    side: str  # buy / sell
    isin: str
    ticker: str
    mic: str
    currency: str
    quantity: Decimal
    trade_date: dt.date
    settle_date: dt.date | None
    accounts: int
    transact_time: dt.datetime


def _fmt_qty(q: Decimal) -> str:
    text = format(q.normalize(), "f")
    return text


def new_order_single(ticket: Ticket, *, sender_comp_id: str, seq_num: int) -> str:
    """A FIX 4.4 NewOrderSingle: market order, day, with BodyLength (9) and CheckSum (10)."""
    ts = ticket.transact_time.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
    body_fields = [
        ("35", "D"), ("49", sender_comp_id), ("56", ticket.target_comp_id or ticket.broker), ("34", str(seq_num)),
        ("52", ts), ("11", ticket.cl_ord_id), ("21", "1"), ("55", ticket.ticker), ("48", ticket.isin), ("22", "4"),
        ("207", ticket.mic), ("54", "1" if ticket.side == "buy" else "2"), ("60", ts),
        ("38", _fmt_qty(ticket.quantity)), ("40", "1"), ("59", "0"), ("15", ticket.currency),
    ]
    if ticket.settle_date:
        body_fields.append(("64", ticket.settle_date.strftime("%Y%m%d")))
    body = "".join(f"{tag}={value}{SOH}" for tag, value in body_fields)
    head = f"8=FIX.4.4{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return f"{head}{body}10={checksum:03d}{SOH}"


def parse_fix(message: str) -> list[tuple[str, str]]:
    return [tuple(part.split("=", 1)) for part in message.split(SOH) if part]  # type: ignore[misc]


def tickets_csv(tickets: list[Ticket]) -> str:
    buf = io.StringIO()
    writer = csvsafe.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for t in tickets:
        writer.writerow([t.cl_ord_id, t.broker, t.side, t.isin, t.ticker, t.mic, t.currency, _fmt_qty(t.quantity),
                         "market", "day", t.trade_date.isoformat(),
                         t.settle_date.isoformat() if t.settle_date else "", t.accounts])
    return buf.getvalue()
