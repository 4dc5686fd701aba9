"""ISO 20022 camt.053 (bank to customer statement) and semt.002 (custody statement of
holdings), read with lxml whatever the message version (elements are found by local name
within the document's own namespace). A missing or malformed element refuses the file,
naming the element path and its line."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from lxml import etree

from .base import Balance, CashEntry, CashStatement, Holding, HoldingsStatement, ParseError

CCY_RE = re.compile(r"^[A-Z]{3}$")
# Messages that reach a reconciliation inbox but carry no end-of-day holdings or booked balance
OTHER_MESSAGES = {
    "camt.052": "bank to customer account report, intraday",
    "camt.054": "bank to customer debit/credit notification",
    "semt.017": "securities transaction posting report",
    "semt.018": "securities transaction pending report",
    "semt.003": "securities balance accounting report",
}


class _Doc:
    def __init__(self, data: bytes, *, file: str, family: str):
        self.file = file
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        try:
            self.root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            raise ParseError(f"not well-formed XML: {exc.msg}", file=file, line=exc.lineno) from None
        ns = etree.QName(self.root).namespace or ""
        if f":{family}." not in ns:
            # the Document may sit inside a transport envelope (SWIFT urn:swift:xsd:envelope with a
            # head.001 AppHdr, or a vendor's own <message> root): take the message's own Document
            inner = next((el for el in self.root.iter() if isinstance(el.tag, str)
                          and etree.QName(el).localname == "Document"
                          and ":xsd:" in (etree.QName(el).namespace or "")
                          and "head." not in (etree.QName(el).namespace or "")), None)
            if inner is not None:
                self.root, ns = inner, etree.QName(inner).namespace or ""
        if f":{family}." not in ns:
            message = ns.rsplit(":", 1)[-1] if ns else etree.QName(self.root).localname
            kind = OTHER_MESSAGES.get(message[:8], "")
            reason = (f"{message} ({kind}) is not a holdings or balance statement" if kind
                      else f"document namespace {ns!r} is not {family}")
            raise ParseError(reason, file=file, line=self.root.sourceline, element=etree.QName(self.root).localname)
        self.ns = ns
        self.version = ns.rsplit(":", 1)[-1]

    def path(self, el) -> str:
        parts = []
        while el is not None:
            parent = el.getparent()
            name = etree.QName(el).localname
            if parent is not None:
                same = [c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == name]
                if len(same) > 1:
                    name += f"[{same.index(el) + 1}]"
            parts.append(name)
            el = parent
        return "/".join(reversed(parts))

    def _q(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{p}" for p in path.split("/"))

    def find(self, el, path: str):
        return el.find(self._q(path))

    def findall(self, el, path: str):
        return el.findall(self._q(path))

    def error(self, el, reason: str, child: str = "") -> ParseError:
        where = self.path(el) + (f"/{child}" if child else "")
        return ParseError(reason, file=self.file, line=el.sourceline, element=where)

    def req(self, el, path: str):
        found = self.find(el, path)
        if found is None:
            raise self.error(el, f"required element {path} is missing", path)
        return found

    def text(self, el, path: str, *, required: bool = True) -> str:
        found = self.req(el, path) if required else self.find(el, path)
        if found is None:
            return ""
        value = (found.text or "").strip()
        if required and not value:
            raise self.error(found, "element is empty")
        return value

    def decimal(self, el, path: str, *, required: bool = True) -> Decimal | None:
        found = self.req(el, path) if required else self.find(el, path)
        if found is None:
            return None
        raw = (found.text or "").strip()
        if not re.fullmatch(r"-?\d+(\.\d+)?", raw):
            raise self.error(found, f"{raw!r} is not a decimal number")
        return Decimal(raw)

    def amount(self, el, path: str, *, required: bool = True) -> tuple[Decimal | None, str]:
        found = self.req(el, path) if required else self.find(el, path)
        if found is None:
            return None, ""
        value = self.decimal(el, path)
        ccy = found.get("Ccy", "")
        if not CCY_RE.match(ccy):
            raise self.error(found, f"attribute Ccy {ccy!r} is not an ISO 4217 code")
        return value, ccy

    def date(self, el, path: str, *, required: bool = True) -> dt.date | None:
        """A DateAndDateTimeChoice (Dt or DtTm) or a plain ISODate element."""
        found = self.req(el, path) if required else self.find(el, path)
        if found is None:
            return None
        child = self.find(found, "Dt")
        if child is None:
            child = self.find(found, "DtTm")
        target = child if child is not None else found
        raw = (target.text or "").strip()
        try:
            return dt.date.fromisoformat(raw[:10])
        except ValueError:
            raise self.error(target, f"{raw!r} is not an ISO date") from None


def _read(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


# ---------------------------------------------------------------- camt.053

def parse_camt053(data: bytes | str, *, file: str = "") -> list[CashStatement]:
    doc = _Doc(_read(data), file=file, family="camt.053")
    body = doc.req(doc.root, "BkToCstmrStmt")
    statements = doc.findall(body, "Stmt")
    if not statements:
        raise doc.error(body, "required element Stmt is missing", "Stmt")
    return [_camt_statement(doc, s) for s in statements]


def _camt_statement(doc: _Doc, st) -> CashStatement:
    ident = doc.text(st, "Id")
    acct = doc.req(st, "Acct")
    acct_id = doc.find(acct, "Id/IBAN")
    account = (acct_id.text or "").strip() if acct_id is not None else doc.text(acct, "Id/Othr/Id")
    currency = doc.text(acct, "Ccy", required=False)
    result = CashStatement(account=account, currency=currency, reference=ident,
                           statement_number=doc.text(st, "ElctrncSeqNb", required=False),
                           sequence=doc.text(st, "LglSeqNb", required=False), line=st.sourceline)
    found: dict[str, Balance] = {}
    for bal in doc.findall(st, "Bal"):
        code = doc.text(bal, "Tp/CdOrPrtry/Cd")
        amount, ccy = doc.amount(bal, "Amt")
        sign = doc.text(bal, "CdtDbtInd")
        if sign not in {"CRDT", "DBIT"}:
            raise doc.error(doc.find(bal, "CdtDbtInd"), f"{sign!r} is not CRDT or DBIT")
        if result.currency and ccy != result.currency:
            raise doc.error(doc.find(bal, "Amt"), f"balance currency {ccy} differs from the account's "
                            f"{result.currency}")
        result.currency = result.currency or ccy
        balance = Balance(kind={"OPBD": "opening", "PRCD": "opening", "CLBD": "closing", "CLAV": "available",
                                "ITBD": "interim", "OPAV": "opening_available"}.get(code, code.lower()),
                          date=doc.date(bal, "Dt"), currency=ccy, amount=amount if sign == "CRDT" else -amount)
        found.setdefault(code, balance)
    # booked balances first; a statement that carries only available (OPAV/CLAV) or interim (ITBD)
    # balances is read with those, and says so
    result.opening = next((found[c] for c in ("OPBD", "PRCD") if c in found), None)
    result.closing = next((found[c] for c in ("CLBD", "ITBD", "CLAV") if c in found), None)
    result.available = found.get("CLAV")
    if result.closing is None:
        raise doc.error(st, "statement has no closing balance (Bal with Tp/CdOrPrtry/Cd CLBD, ITBD or CLAV)",
                        "Bal")
    if result.closing is not found.get("CLBD"):
        result.information = f"no closing booked balance (CLBD): {result.closing.kind} balance used"
    if result.opening is None and "OPAV" in found:
        result.opening = found["OPAV"]
    for ntry in doc.findall(st, "Ntry"):
        amount, ccy = doc.amount(ntry, "Amt")
        if ccy != result.currency:
            # an entry in another currency carries its amount in the account's currency in AmtDtls
            # (instructed, transaction or counter-value amount)
            for path in ("AmtDtls/InstdAmt/Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/CntrValAmt/Amt",
                         "AmtDtls/PrtryAmt/Amt"):
                el = doc.find(ntry, path)
                if el is not None and el.get("Ccy") == result.currency:
                    amount, ccy = doc.amount(ntry, path)
                    break
            else:
                raise doc.error(doc.find(ntry, "Amt"), f"entry currency {ccy} differs from the statement's "
                                f"{result.currency} and AmtDtls gives no amount in {result.currency}")
        sign = doc.text(ntry, "CdtDbtInd")
        if sign not in {"CRDT", "DBIT"}:
            raise doc.error(doc.find(ntry, "CdtDbtInd"), f"{sign!r} is not CRDT or DBIT")
        reversal = doc.text(ntry, "RvslInd", required=False).lower() == "true"
        credit = (sign == "CRDT")
        status_el = doc.req(ntry, "Sts")
        cd = doc.find(status_el, "Cd")
        status = ((cd.text if cd is not None else status_el.text) or "").strip()
        if status not in {"BOOK", "PDNG", "INFO"}:
            raise doc.error(status_el, f"entry status {status!r} is not BOOK, PDNG or INFO")
        value_date = doc.date(ntry, "ValDt", required=False) or doc.date(ntry, "BookgDt")
        refs = doc.find(ntry, "NtryDtls/TxDtls/Refs/EndToEndId")
        info = doc.find(ntry, "AddtlNtryInf")
        result.entries.append(CashEntry(
            value_date=value_date, entry_date=doc.date(ntry, "BookgDt", required=False),
            amount=amount if credit else -amount, currency=ccy, reversal=reversal,
            type_code=doc.text(ntry, "BkTxCd/Domn/Cd", required=False)
            or doc.text(ntry, "BkTxCd/Prtry/Cd", required=False),
            reference=(refs.text or "").strip() if refs is not None else "",
            bank_reference=doc.text(ntry, "AcctSvcrRef", required=False),
            details=(info.text or "").strip() if info is not None else "", status=status,
            line=ntry.sourceline,
        ))
    if result.opening is None:
        # no opening balance at all (Wise sends only CLBD): derived from the closing and the booked entries
        result.opening = Balance(kind="opening_derived", date=result.closing.date, currency=result.currency,
                                 amount=result.closing.amount - result.movements)
        result.information = "; ".join(x for x in (result.information, "no opening balance: derived from the "
                                                   "closing balance and the booked entries") if x)
    return result


# ---------------------------------------------------------------- semt.002

def parse_semt002(data: bytes | str, *, file: str = "") -> list[HoldingsStatement]:
    doc = _Doc(_read(data), file=file, family="semt.002")
    body = doc.req(doc.root, "SctiesBalCtdyRpt")
    general = doc.req(body, "StmtGnlDtls")
    as_of = doc.date(general, "StmtDtTm")
    basis = doc.text(general, "StmtBsis/Cd", required=False) or "SETT"
    if basis not in {"SETT", "TRAD", "CONT"}:
        raise doc.error(doc.find(general, "StmtBsis/Cd"), f"statement basis {basis!r} is not SETT, TRAD or CONT")
    update = doc.text(general, "UpdTp/Cd", required=False) or "COMP"
    if update not in {"COMP", "DELT"}:
        raise doc.error(doc.find(general, "UpdTp/Cd"), f"update type {update!r} is not COMP or DELT")
    pagination = doc.req(body, "Pgntn")
    last = doc.text(pagination, "LastPgInd").lower()
    if last not in {"true", "false"}:
        raise doc.error(doc.find(pagination, "LastPgInd"), f"{last!r} is not true or false")
    account = doc.text(body, "SfkpgAcct/Id")
    statement = HoldingsStatement(account=account, as_of=as_of, basis="TRAD" if basis == "TRAD" else "SETT",
                                  statement_id=doc.text(general, "StmtId", required=False),
                                  page=doc.text(pagination, "PgNb"), last_page=last == "true",
                                  complete=update == "COMP")
    for bal in doc.findall(body, "BalForAcct"):
        statement.holdings.append(_semt_holding(doc, bal, account))
    for sub in doc.findall(body, "SubAcctDtls"):
        sub_account = doc.text(sub, "SfkpgAcct/Id")
        for bal in doc.findall(sub, "BalForSubAcct"):
            statement.holdings.append(_semt_holding(doc, bal, sub_account))
    return [statement]


QTY_TAGS = {"Unit": "UNIT", "FaceAmt": "FAMT", "AmtsdVal": "AMOR", "DgtlTknUnit": "UNIT"}


def _semt_quantity(doc: _Doc, el, path: str) -> tuple[Decimal | None, str]:
    """A balance quantity wherever the version nests it: AggtBal/Qty/Qty/Qty/Unit (.001.05 on),
    AggtBal/Qty/Qty/Unit (.001.03-.04), sub-balances .../Qty/Qty/QtyAndAvlbty/Qty/Unit, and
    OrgnlAndCurFace/FaceAmt; each as Unit (shares), FaceAmt (face amount) or AmtsdVal."""
    node = doc.find(el, path)
    if node is None:
        return None, ""
    for found in node.iter():
        if not isinstance(found.tag, str):
            continue
        name = etree.QName(found).localname
        if name in QTY_TAGS:
            return doc.decimal(found.getparent(), name), QTY_TAGS[name]
        if name == "Prtry":
            break
    raise doc.error(node, "quantity has no Unit, FaceAmt or AmtsdVal (a proprietary quantity cannot be compared)")


def _semt_price(doc: _Doc, bal, denomination: str) -> tuple[Decimal | None, str, str, str]:
    """(price per unit in its currency, currency, source/type, how quoted). A price given as a
    Rate is a percentage of par (bonds): per unit of face it is Rate / 100."""
    prices = doc.findall(bal, "PricDtls")
    if not prices:
        return None, "", "", ""
    chosen = next((p for p in prices if doc.text(p, "Tp/Cd", required=False) == "MRKT"), prices[0])
    # the source where the file names one (the market the price comes from), else its type (MRKT ...)
    source = doc.text(chosen, "SrcOfPric/Id/MktIdrCd", required=False) or _first_text(doc.find(chosen, "SrcOfPric")) \
        or doc.text(chosen, "Tp/Cd", required=False) or doc.text(chosen, "Tp/Prtry/Id", required=False)
    if doc.find(chosen, "Val/Amt") is not None:
        price, ccy = doc.amount(chosen, "Val/Amt")
        return price, ccy, source, "ACTU"
    if doc.find(chosen, "Val/Rate") is not None:
        rate = doc.decimal(chosen, "Val/Rate")
        return rate / 100, denomination, source, "PRCT"
    if doc.find(chosen, "Val/UknwnInd") is not None:
        return None, "", source, ""
    raise doc.error(chosen, "price has neither Val/Amt nor Val/Rate", "Val")


def _first_text(el) -> str:
    """The first non-empty text under an element (a BIC, a MIC or a proprietary id), or ""."""
    if el is None:
        return ""
    for node in el.iter():
        if isinstance(node.tag, str) and node.text and node.text.strip():
            return node.text.strip()[:40]
    return ""


def _fx_to_base(doc: _Doc, fx_el, instrument_ccy: str, base_ccy: str) -> tuple[Decimal | None, str]:
    """FXDtls: 1 UnitCcy = XchgRate QtdCcy. Returned as the rate that turns the instrument
    currency into the account's base currency, whichever way round the custodian quoted it."""
    unit = doc.text(fx_el, "UnitCcy")
    quoted = doc.text(fx_el, "QtdCcy")
    rate = doc.decimal(fx_el, "XchgRate")
    if rate is None or rate <= 0:
        raise doc.error(doc.find(fx_el, "XchgRate"), f"exchange rate {rate} is not positive")
    if instrument_ccy and unit == instrument_ccy and (not base_ccy or quoted == base_ccy):
        return rate, quoted
    if instrument_ccy and quoted == instrument_ccy and (not base_ccy or unit == base_ccy):
        return 1 / rate, unit
    if not instrument_ccy and base_ccy and base_ccy in (unit, quoted):
        return (rate, quoted) if quoted == base_ccy else (1 / rate, unit)
    raise doc.error(fx_el, f"exchange rate {unit}/{quoted} does not relate the instrument currency "
                    f"{instrument_ccy or '(unknown)'} to the account base currency {base_ccy or '(unknown)'}")


def _semt_holding(doc: _Doc, bal, account: str) -> Holding:
    ident = doc.req(bal, "FinInstrmId")
    ids = {"isin": doc.text(ident, "ISIN", required=False)}
    if ids["isin"]:
        from stdnum import isin as stdisin

        if not stdisin.is_valid(ids["isin"]):
            raise doc.error(doc.find(ident, "ISIN"), f"ISIN {ids['isin']!r} is not valid")
    for other in doc.findall(ident, "OthrId"):
        value = doc.text(other, "Id")
        code = doc.text(other, "Tp/Cd", required=False) or doc.text(other, "Tp/Prtry", required=False)
        key = {"CUSP": "cusip", "SEDL": "sedol", "TICK": "ticker", "CUSIP": "cusip", "SEDOL": "sedol",
               "TICKER": "ticker"}.get(code.upper(), "custodian_code")
        ids.setdefault(key, value)
        if key != "custodian_code" and not ids[key]:
            ids[key] = value
    if not any(ids.values()):
        raise doc.error(ident, "no ISIN or other identifier")
    quantity, kind = _semt_quantity(doc, bal, "AggtBal")
    if quantity is None:
        raise doc.error(bal, "required element AggtBal is missing", "AggtBal")
    if doc.text(bal, "AggtBal/ShrtLngInd", required=False) == "SHOR":
        quantity = -quantity
    mv, mv_ccy = doc.amount(bal, "InstrmCcyAmts/HldgVal/Amt", required=False)
    if mv is not None and doc.text(bal, "InstrmCcyAmts/HldgVal/Sgn", required=False) == "false":
        mv = -mv
    base_value, base_ccy = doc.amount(bal, "AcctBaseCcyAmts/HldgVal/Amt", required=False)
    if base_value is not None and doc.text(bal, "AcctBaseCcyAmts/HldgVal/Sgn", required=False) == "false":
        base_value = -base_value
    denomination = doc.text(bal, "FinInstrmAttrbts/DnmtnCcy", required=False) or mv_ccy
    price, price_ccy, price_source, price_type = _semt_price(doc, bal, denomination)
    instrument_ccy = price_ccy or mv_ccy or denomination
    fx_rate = None
    fx_source = ""
    fx_el = doc.find(bal, "FXDtls")
    if fx_el is not None:
        fx_rate, fx_base = _fx_to_base(doc, fx_el, instrument_ccy, base_ccy)
        fx_source = _first_text(doc.find(fx_el, "QtgInstn"))  # the institution that quoted the rate
        base_ccy = base_ccy or fx_base
    elif instrument_ccy and base_ccy == instrument_ccy:
        fx_rate = Decimal(1)
    subs = []
    for sub in doc.findall(bal, "BalBrkdwn"):
        code = doc.text(sub, "SubBalTp/Cd", required=False) or doc.text(sub, "SubBalTp/Prtry/Id", required=False)
        qty, _ = _semt_quantity(doc, sub, "Qty")
        subs.append((code, qty))
    available, _ = _semt_quantity(doc, bal, "AvlblBal")
    not_available, _ = _semt_quantity(doc, bal, "NotAvlblBal")
    return Holding(
        account=account, quantity=quantity, quantity_type=kind, isin=ids.get("isin", ""),
        cusip=ids.get("cusip", ""), sedol=ids.get("sedol", ""), ticker=ids.get("ticker", ""),
        custodian_code=ids.get("custodian_code", ""), description=doc.text(ident, "Desc", required=False),
        price=price, price_currency=price_ccy or "", price_source=price_source, price_type=price_type,
        fx_source=fx_source, market_value=mv,
        market_value_currency=mv_ccy, fx_rate=fx_rate, base_currency=base_ccy, base_value=base_value,
        available=available, not_available=not_available, sub_balances=tuple(subs), line=bal.sourceline,
    )
