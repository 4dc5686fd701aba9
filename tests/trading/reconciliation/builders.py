"""Build custodian messages to the standards for the tests (semt.002, camt.053, MT535)."""
from __future__ import annotations

from decimal import Decimal

SEMT_NS = "urn:iso:std:iso:20022:tech:xsd:semt.002.001.10"
CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def semt002(*, account="SAFE-001", as_of="2024-01-31", basis="SETT", holdings=(), last_page=True) -> bytes:
    rows = []
    for h in holdings:
        other = "".join(
            f"<OthrId><Id>{h[k]}</Id><Tp><Cd>{code}</Cd></Tp></OthrId>"
            for k, code in (("cusip", "CUSP"), ("sedol", "SEDL"), ("ticker", "TICK")) if h.get(k))
        isin = f"<ISIN>{h['isin']}</ISIN>" if h.get("isin") else ""
        price = (f"<PricDtls><Tp><Cd>MRKT</Cd></Tp><Val><Amt Ccy=\"{h['price_ccy']}\">{h['price']}</Amt></Val>"
                 f"</PricDtls>" if h.get("price") else "")
        fx = f"<FXDtls><UnitCcy>{h['price_ccy']}</UnitCcy><QtdCcy>EUR</QtdCcy><XchgRate>{h['fx']}</XchgRate></FXDtls>" \
            if h.get("fx") else ""
        base = (f"<AcctBaseCcyAmts><HldgVal><Amt Ccy=\"EUR\">{h['base_value']}</Amt><Sgn>true</Sgn></HldgVal>"
                f"</AcctBaseCcyAmts>" if h.get("base_value") else "")
        blocked = (f"<BalBrkdwn><SubBalTp><Cd>BLOK</Cd></SubBalTp><Qty><Qty><Unit>{h['blocked']}</Unit></Qty></Qty>"
                   f"</BalBrkdwn>" if h.get("blocked") else "")
        rows.append(
            f"<BalForAcct><FinInstrmId>{isin}{other}<Desc>{h.get('desc', 'X')}</Desc></FinInstrmId>"
            f"<AggtBal><Qty><Qty><Unit>{h['qty']}</Unit></Qty></Qty><ShrtLngInd>{h.get('side', 'LONG')}"
            f"</ShrtLngInd></AggtBal>{price}{fx}{base}{blocked}</BalForAcct>")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{SEMT_NS}">\n<SctiesBalCtdyRpt>\n'
        f"<Pgntn><PgNb>1</PgNb><LastPgInd>{'true' if last_page else 'false'}</LastPgInd></Pgntn>\n"
        f"<StmtGnlDtls><StmtId>S-{as_of}</StmtId><StmtDtTm><Dt>{as_of}</Dt></StmtDtTm><Frqcy><Cd>DAIL</Cd></Frqcy>"
        f"<UpdTp><Cd>COMP</Cd></UpdTp><StmtBsis><Cd>{basis}</Cd></StmtBsis><ActvtyInd>true</ActvtyInd>"
        f"<SubAcctInd>false</SubAcctInd></StmtGnlDtls>\n"
        f"<SfkpgAcct><Id>{account}</Id></SfkpgAcct>\n" + "\n".join(rows) + "\n</SctiesBalCtdyRpt>\n</Document>\n"
    ).encode()


def camt053(*, account="DE89370400440532013000", ccy="EUR", opening="1000.00", closing="1250.00",
            entries=(("300.00", "CRDT", "BOOK"), ("50.00", "DBIT", "BOOK")), date="2024-01-31",
            entry_ccy=None) -> bytes:
    def bal(code, amount):
        sign = "DBIT" if Decimal(amount) < 0 else "CRDT"
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{ccy}\">{abs(Decimal(amount))}"
                f"</Amt><CdtDbtInd>{sign}</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>")
    ntry = "".join(
        f"<Ntry><NtryRef>{i}</NtryRef><Amt Ccy=\"{entry_ccy or ccy}\">{amt}</Amt><CdtDbtInd>{cd}</CdtDbtInd>"
        f"<Sts><Cd>{sts}</Cd></Sts><BookgDt><Dt>{date}</Dt></BookgDt><ValDt><Dt>{date}</Dt></ValDt>"
        f"<AcctSvcrRef>BANKREF{i}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>"
        f"<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>E2E{i}</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>"
        for i, (amt, cd, sts) in enumerate(entries, start=1))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{CAMT_NS}">\n<BkToCstmrStmt>\n'
        f"<GrpHdr><MsgId>MSG1</MsgId><CreDtTm>{date}T18:00:00</CreDtTm></GrpHdr>\n"
        f"<Stmt><Id>STMT-{date}</Id><ElctrncSeqNb>12</ElctrncSeqNb><CreDtTm>{date}T18:00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{account}</IBAN></Id><Ccy>{ccy}</Ccy></Acct>\n"
        f"{bal('OPBD', opening)}\n{bal('CLBD', closing)}\n{ntry}\n</Stmt>\n</BkToCstmrStmt>\n</Document>\n"
    ).encode()


def mt535(*, account="SAFE-001", date="20240131", basis="SETT", holdings=(), page="1/ONLY") -> str:
    fin = []
    for h in holdings:
        ident = [f"ISIN {h['isin']}"] if h.get("isin") else []
        if h.get("cusip"):
            ident.append(f"/US/{h['cusip']}")
        ident.append(h.get("desc", "SECURITY"))
        block = [":16R:FIN", ":35B:" + "\n".join(ident)]
        if h.get("price"):
            block.append(f":90B::MRKT//ACTU/{h['price_ccy']}{h['price']}")
            block.append(":94B::PRIC//EXCH/" + h.get("mic", "XNAS"))
        block.append(f":93B::AGGR//UNIT/{h['qty']}")
        if h.get("blocked"):
            block += [":16R:SUBBAL", f":93C::BLOK//UNIT/NAVL/{h['blocked']}", ":16S:SUBBAL"]
        if h.get("value"):
            block.append(f":19A::HOLD//{h['price_ccy']}{h['value']}")
        if h.get("fx"):
            block.append(f":92B::EXCH//{h['price_ccy']}/EUR/{h['fx']}")
        block.append(":16S:FIN")
        fin += block
    lines = ["{1:F01CUSTGB2LAXXX0000000000}{2:O5351200240131MEMBUS33XXXX00000000002401311200N}{4:",
             ":16R:GENL", f":28E:{page}", ":20C::SEME//STMT0001", ":23G:NEWM", f":98A::STAT//{date}",
             ":22F::SFRE//DAIL", ":22F::CODE//COMP", ":22F::STTY//CUST", f":22F::STBA//{basis}",
             f":97A::SAFE//{account}", ":17B::ACTI//Y", ":17B::CONS//N", ":16S:GENL", ":16R:SUBSAFE",
             *fin, ":16S:SUBSAFE", "-}"]
    return "\r\n".join(lines) + "\r\n"
