"""ISO 20022 statements built through the python-iso20022 models (semt.002.001.11 and
camt.053.001.12): the message is assembled as a tree of the standard's element names, bound to
the generated dataclasses (an unknown or misplaced element is refused there) and serialised by
xsdata with `Document` as the root in the message's namespace."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from xsdata.formats.dataclass.parsers import DictDecoder
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig

from .core import CENT, Position, SimulatorError, Snapshot

RATE_Q = Decimal("0.0000000001")


def _document(message_cls, namespace: str):
    """The generated message class under its proper root name `Document`."""
    return dataclasses.dataclass(type("Document", (message_cls,), {
        "Meta": type("Meta", (), {"name": "Document", "namespace": namespace}), "__module__": __name__}))


def _serialise(message_cls, namespace: str, tree: dict) -> bytes:
    doc_cls = _document(message_cls, namespace)
    try:
        obj = DictDecoder().decode(tree, doc_cls)
    except Exception as exc:  # xsdata ParserError / ConverterError: a bug in this writer, not user input
        raise SimulatorError(f"the {namespace.rsplit(':', 1)[-1]} models refused the statement: {exc}") from exc
    text = XmlSerializer(config=SerializerConfig(xml_declaration=True, pretty_print=True, encoding="UTF-8"))\
        .render(obj, ns_map={None: namespace})
    return text.encode("utf-8")


def _amt(value: Decimal, ccy: str) -> dict:
    return {"value": value.quantize(CENT, ROUND_HALF_EVEN), "Ccy": ccy}


def _signed(value: Decimal, ccy: str) -> dict:
    return {"Amt": _amt(abs(value), ccy), "Sgn": value >= 0}


def _plain(value: Decimal) -> Decimal:
    """The value without trailing zeros and without an exponent (1000.00000000 -> 1000, not 1E+3)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


def _qty(p: Position, value: Decimal) -> dict:
    return {"FaceAmt": _plain(abs(value))} if p.face_amount else {"Unit": _plain(abs(value))}


# ---------------------------------------------------------------- semt.002.001.11

SEMT_NS = "urn:iso:std:iso:20022:tech:xsd:semt.002.001.11"


def _balance(p: Position, basis: str, quoting_bic: str = "") -> dict:
    bal: dict = {
        "FinInstrmId": {"ISIN": p.isin, "Desc": p.name[:140]},
        "AggtBal": {"Qty": {"Qty": {"Qty": _qty(p, p.quantity)}}, "ShrtLngInd": "SHOR" if p.quantity < 0 else "LONG"},
    }
    if p.face_amount:
        bal["FinInstrmAttrbts"] = {"DnmtnCcy": p.currency} if p.currency else {}
    pending = p.trade_quantity - p.settled_quantity
    if basis == "TRAD" and pending:
        # the part of a trade-date balance not yet settled: pending receipt (PENR) or delivery (PEND)
        bal["BalBrkdwn"] = [{"SubBalTp": {"Cd": "PENR" if pending > 0 else "PEND"},
                             "Qty": {"Qty": {"Qty": _qty(p, pending)}}}]
    bal["AvlblBal"] = {"Qty": {"Qty": _qty(p, p.settled_quantity if basis == "TRAD" else p.quantity)}}
    if p.price is not None:
        val = {"Rate": _plain(p.price * 100)} if p.face_amount else \
            {"Amt": {"value": _plain(p.price), "Ccy": p.currency}}
        bal["PricDtls"] = [{"Tp": {"Cd": "MRKT"}, "Val": val, "ValTp": {"Yldd": False}}]
        if p.mic:  # the price's source: the exchange it closed on
            bal["PricDtls"][0]["SrcOfPric"] = {"Id": {"MktIdrCd": p.mic}, "Tp": {"Cd": "LMAR"}}  # local market
    if p.fx_to_base is not None and p.currency and p.currency != p.base_currency:
        # quoted the way a GBP custodian quotes cable: 1 base currency = XchgRate instrument currency
        bal["FXDtls"] = [{"UnitCcy": p.base_currency, "QtdCcy": p.currency,
                          "XchgRate": (1 / p.fx_to_base).quantize(RATE_Q, ROUND_HALF_EVEN)}]
        if quoting_bic:  # the custodian quoted the rate itself
            bal["FXDtls"][0]["QtgInstn"] = {"AnyBIC": quoting_bic}
    if p.market_value is not None:
        bal["InstrmCcyAmts"] = {"HldgVal": _signed(p.market_value, p.currency)}
    if p.base_value is not None:
        bal["AcctBaseCcyAmts"] = {"HldgVal": _signed(p.base_value, p.base_currency)}
    return bal


def semt002_files(snap: Snapshot, *, page_size: int = 0) -> list[tuple[str, bytes]]:
    from python_iso20022.semt.semt_002_001_11.models import Semt00200111

    accounts = sorted({p.account for p in snap.positions} | {c.account for c in snap.cash})
    files = []
    for account in accounts:
        rows = [p for p in snap.positions if p.account == account]
        size = page_size or max(len(rows), 1)
        pages = [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]
        bases = {p.base_currency for p in rows if p.base_value is not None}
        for n, page in enumerate(pages, start=1):
            report: dict = {
                "Pgntn": {"PgNb": f"{n:05d}", "LastPgInd": n == len(pages)},
                "StmtGnlDtls": {
                    "StmtId": f"{snap.custodian_code}-{account}-{snap.as_of:%Y%m%d}"[:35],
                    "StmtDtTm": {"Dt": snap.as_of.isoformat()},
                    "Frqcy": {"Cd": "DAIL"}, "UpdTp": {"Cd": "COMP"}, "StmtBsis": {"Cd": snap.basis},
                    "ActvtyInd": True, "SubAcctInd": False,
                },
                "SfkpgAcct": {"Id": account},
                "BalForAcct": [_balance(p, snap.basis, snap.custodian_bic) for p in page],
            }
            if snap.custodian_bic:
                report["AcctSvcr"] = {"Id": {"AnyBIC": snap.custodian_bic}}
            if len(bases) == 1:
                base = bases.pop()
                bases.add(base)
                total = sum((p.base_value for p in rows if p.base_value is not None), Decimal(0))
                page_total = sum((p.base_value for p in page if p.base_value is not None), Decimal(0))
                report["AcctBaseCcyTtlAmts"] = {"TtlHldgsValOfPg": _signed(page_total, base),
                                                "TtlHldgsValOfStmt": _signed(total, base)}
            name = f"{snap.custodian_code}_{account}_{snap.as_of:%Y%m%d}_semt002" + (f"_p{n}" if len(pages) > 1
                                                                                      else "") + ".xml"
            files.append((name, _serialise(Semt00200111, SEMT_NS, {"SctiesBalCtdyRpt": report})))
    return files


# ---------------------------------------------------------------- camt.053.001.12

CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.12"

# ISO external bank transaction codes (Domain/Family/SubFamily) per ledger transaction kind
BTC = {
    "buy": ("SECU", "SETT", "TRAD"), "sell": ("SECU", "SETT", "TRAD"), "sell_short": ("SECU", "SETT", "TRAD"),
    "buy_to_cover": ("SECU", "SETT", "TRAD"), "dividend": ("SECU", "CASH", "DVCA"),
    "interest": ("SECU", "CASH", "INTR"), "fee": ("ACMT", "MDOP", "CHRG"), "deposit": ("PMNT", "RCDT", "XBCT"),
    "withdrawal": ("PMNT", "ICDT", "XBCT"), "fx_spot": ("FORX", "SPOT", "OTHR"),
    "transfer": ("PMNT", "ICDT", "BOOK"),
}


def _bal(code: str, amount: Decimal, ccy: str, day: dt.date) -> dict:
    return {"Tp": {"CdOrPrtry": {"Cd": code}}, "Amt": _amt(abs(amount), ccy),
            "CdtDbtInd": "CRDT" if amount >= 0 else "DBIT", "Dt": {"Dt": day.isoformat()}}


def camt053(snap: Snapshot) -> bytes:
    from python_iso20022.camt.camt_053_001_12.models import Camt05300112

    created = dt.datetime.combine(snap.as_of, dt.time(22, 0), tzinfo=dt.UTC).isoformat()
    statements = []
    for n, day in enumerate(snap.cash, start=1):
        acct_id = {"IBAN": day.cash_account} if _looks_iban(day.cash_account) else {"Othr": {"Id": day.cash_account}}
        acct: dict = {"Id": acct_id, "Ccy": day.currency}
        if snap.custodian_bic:
            acct["Svcr"] = {"FinInstnId": {"BICFI": snap.custodian_bic}}
        entries = []
        for k, e in enumerate(day.entries, start=1):
            dom, fam, sub = BTC.get(e.kind, ("PMNT", "MDOP", "OTHR"))
            entry = {"NtryRef": f"{k}", "Amt": _amt(abs(e.amount), day.currency),
                     "CdtDbtInd": "CRDT" if e.amount >= 0 else "DBIT", "Sts": {"Cd": "BOOK"},
                     "BookgDt": {"Dt": e.booking_date.isoformat()}, "ValDt": {"Dt": e.value_date.isoformat()},
                     "AcctSvcrRef": f"{snap.custodian_code[:10]}{snap.as_of:%y%m%d}{n:03d}{k:04d}",
                     "BkTxCd": {"Domn": {"Cd": dom, "Fmly": {"Cd": fam, "SubFmlyCd": sub}}},
                     "AddtlNtryInf": e.kind}
            if e.reference:
                entry["NtryDtls"] = [{"TxDtls": [{"Refs": {"EndToEndId": e.reference[:35]}}]}]
            entries.append(entry)
        statements.append({
            "Id": f"{snap.custodian_code}-{day.cash_account}-{snap.as_of:%Y%m%d}"[:35],
            "ElctrncSeqNb": Decimal(snap.sequence), "CreDtTm": created, "Acct": acct,
            "Bal": [_bal("OPBD", day.opening, day.currency, snap.as_of - dt.timedelta(days=1)),
                    _bal("CLBD", day.closing, day.currency, snap.as_of),
                    _bal("CLAV", day.closing, day.currency, snap.as_of)],
            "Ntry": entries,
        })
    tree = {"BkToCstmrStmt": {"GrpHdr": {"MsgId": f"{snap.custodian_code}{snap.as_of:%Y%m%d}"[:35],
                                         "CreDtTm": created},
                              "Stmt": statements}}
    return _serialise(Camt05300112, CAMT_NS, tree)


def _looks_iban(value: str) -> bool:
    from stdnum import iban

    return iban.is_valid(value)

