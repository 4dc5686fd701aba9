"""Synthetic books and a custodian positions file with known injected differences, for
`manage.py bench_reconcile`. Deterministic for a given size and seed."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from stdnum import isin as stdisin

CUSTODIAN = "BENCH"
PER_ACCOUNT = 20
STRIDE = 251  # coprime with the instrument count: an account's 20 instruments are distinct
INJECT_RATE = 1 / 200


@dataclass
class Synthetic:
    n: int
    as_of: dt.date
    accounts: int
    instruments: int
    expected: set = field(default_factory=set)     # (account, instrument id or identifier, kind, explained)
    counts: dict = field(default_factory=dict)


def _isin(prefix: str, n: int) -> str:
    body = f"{prefix}{n:09d}"
    return body + stdisin.calc_check_digit(body)


def build(n: int, *, as_of: dt.date, path: Path, seed: int = 42) -> tuple[Synthetic, dict[str, io.StringIO]]:
    """Write the custodian file to `path`; return the expectation and the books as COPY-able TSV buffers."""
    rng = np.random.default_rng(seed)
    n_instr = int(min(5000, max(PER_ACCOUNT + 1, n // 10)))
    if np.gcd(STRIDE, n_instr) != 1:
        n_instr += 1
    n_acc = max(1, -(-n // PER_ACCOUNT))
    syn = Synthetic(n=n, as_of=as_of, accounts=n_acc, instruments=n_instr)

    iid = np.arange(1, n_instr + 1)
    lse = (iid % 10) == 7
    adr = ((iid % 25) == 3) & ~lse
    eur = ((iid % 13) == 5) & ~lse & ~adr
    ratio = np.where(adr, np.array([2, 4, 5, 10])[iid % 4], 1)
    ca_instrument = 11
    isins = [_isin("US", int(i)) for i in iid]
    ord_isins = [_isin("GB", int(i)) if a else "" for i, a in zip(iid, adr)]
    cusips = [f"C{int(i):08d}" for i in iid]
    sedols = [f"S{int(i):06d}" for i in iid]
    tickers = [f"T{int(i)}" for i in iid]
    ccy = np.where(lse, "GBP", np.where(eur, "EUR", "USD"))
    fx = np.where(lse, "1.27", np.where(eur, "1.08", "1"))

    ident = io.StringIO()
    for k in range(n_instr):
        i = int(iid[k])
        ident.write(f"isin\t{isins[k]}\t\t{i}\t1\n")
        ident.write(f"cusip\t{cusips[k]}\t\t{i}\t1\n")
        ident.write(f"sedol\t{sedols[k]}\t\t{i}\t1\n")
        ident.write(f"ticker_mic\t{tickers[k]}@XNYS\t\t{i}\t1\n")
        if adr[k]:
            ident.write(f"isin\t{ord_isins[k]}\t\t{i}\t{1 / ratio[k]:.4f}\n")

    # positions: account a holds instruments (a*7 + j*STRIDE) % n_instr, j < 20
    pos = np.arange(n)
    acc = pos // PER_ACCOUNT
    j = pos % PER_ACCOUNT
    inst_idx = (acc * 7 + j * STRIDE) % n_instr
    qty = rng.integers(100, 10000, size=n)
    cents = rng.integers(1000, 50000, size=n)  # price 10.00 .. 500.00
    accounts = np.char.add("ACC", np.char.zfill(acc.astype(str), 7))

    # injections: disjoint sets of plain rows
    plain = np.nonzero(inst_idx + 1 != ca_instrument)[0]
    k_each = max(1, int(n * INJECT_RATE))
    chosen = rng.permutation(plain)
    kinds = ["quantity", "pending", "price", "price_source", "fx_source", "missing_at_custodian"]
    sets = {kname: chosen[i * k_each:(i + 1) * k_each] for i, kname in enumerate(kinds)}
    ca_rows = np.nonzero(inst_idx + 1 == ca_instrument)[0][:k_each]

    file_qty = qty * ratio[inst_idx]
    file_cents4 = cents * 100 // ratio[inst_idx]          # price in 1e-4 units, per ordinary for ADRs
    file_cents4 = np.where(lse[inst_idx], cents * 100 * 100, file_cents4)  # GBX: pence
    file_fx = fx[inst_idx].astype(object)
    drop = np.zeros(n, bool)

    file_qty[sets["quantity"]] += 3 * ratio[inst_idx[sets["quantity"]]]
    file_qty[sets["pending"]] -= 7 * ratio[inst_idx[sets["pending"]]]
    file_cents4[sets["price"]] = file_cents4[sets["price"]] * 110 // 100
    file_cents4[sets["price_source"]] = file_cents4[sets["price_source"]] * 1005 // 1000
    file_fx[sets["fx_source"]] = np.where(lse[inst_idx[sets["fx_source"]]], "1.2827",
                                          np.where(eur[inst_idx[sets["fx_source"]]], "1.0908", "1.01"))
    drop[sets["missing_at_custodian"]] = True
    file_qty[ca_rows] = qty[ca_rows] * 2

    def exp(rows, kind, explained=False):
        for r in rows.tolist():
            syn.expected.add((str(accounts[r]), int(inst_idx[r] + 1), kind, explained))

    exp(sets["quantity"], "quantity")
    exp(sets["pending"], "pending_settlement", True)
    exp(sets["price"], "price")
    exp(sets["price_source"], "market_value")
    exp(sets["fx_source"], "market_value")
    exp(sets["missing_at_custodian"], "missing_at_custodian")
    exp(ca_rows, "corporate_action")
    syn.counts = {k: len(v) for k, v in sets.items()} | {"corporate_action": len(ca_rows)}

    # books
    books = io.StringIO()
    price_txt = np.char.mod("%d.%02d", np.stack([cents // 100, cents % 100], axis=1)) if False else None
    del price_txt
    for r in range(n):
        k = int(inst_idx[r])
        books.write(f"{CUSTODIAN}\t{accounts[r]}\t{k + 1}\t{int(qty[r])}\t{int(cents[r]) // 100}.{int(cents[r]) % 100:02d}"
                    f"\t{ccy[k]}\t{fx[k]}\tUSD\tVENDOR\t{as_of}\n")
    pending = io.StringIO()
    for r in sets["pending"].tolist():
        pending.write(f"{CUSTODIAN}\t{accounts[r]}\t{int(inst_idx[r]) + 1}\t7\t\t0\t{as_of - dt.timedelta(days=1)}"
                      f"\t{as_of + dt.timedelta(days=1)}\tBENCH-{r}\n")
    corp = io.StringIO(f"{ca_instrument}\t{as_of - dt.timedelta(days=1)}\t2\tbench 2:1 split\n")

    # file rows: identifier used depends on the row (exercises every pass)
    mode = pos % 50
    with path.open("w", newline="") as f:
        f.write("account,isin,cusip,sedol,ticker,mic,quantity,price,price_currency,fx_rate\n")
        lines = []
        for r in np.nonzero(~drop)[0].tolist():
            k = int(inst_idx[r])
            m = int(mode[r])
            if adr[k]:
                ids = f"{ord_isins[k]},,,,"
            elif m == 1:
                ids = f",{cusips[k]},,,"
            elif m == 2:
                ids = f",,{sedols[k]},,"
            elif m == 3:
                ids = f",,,{tickers[k]},XNYS"
            else:
                ids = f"{isins[k]},,,,"
            p4 = int(file_cents4[r])
            pccy = "GBX" if lse[k] else ccy[k]
            lines.append(f"{accounts[r]},{ids},{int(file_qty[r])},{p4 // 10000}.{p4 % 10000:04d},{pccy},{file_fx[r]}\n")
            if len(lines) >= 100000:
                f.writelines(lines)
                lines.clear()
        # missing in books: an instrument the account does not hold
        _, first = np.unique(acc[sets["missing_at_custodian"]], return_index=True)
        for r in sets["missing_at_custodian"][np.sort(first)].tolist():  # one extra line per account
            a = int(acc[r])
            k = (a * 7 + PER_ACCOUNT * STRIDE) % n_instr
            if adr[k]:
                k = (k + 1) % n_instr
            lines.append(f"{accounts[r]},{isins[k]},,,,,50,12.5000,{'GBX' if lse[k] else ccy[k]},{fx[k]}\n")
            if lse[k]:
                lines[-1] = f"{accounts[r]},{isins[k]},,,,,50,1250.0000,GBX,{fx[k]}\n"
            syn.expected.add((str(accounts[r]), k + 1, "missing_in_books", False))
        # unknown instruments
        for u in range(k_each):
            code = _isin("XS", 900000000 + u)
            lines.append(f"ACC{u:07d},{code},,,,,10,1.0000,USD,1\n")
            syn.expected.add((f"ACC{u:07d}", code, "unknown_instrument", False))
        f.writelines(lines)
    syn.counts |= {"missing_in_books": len(first), "unknown_instrument": k_each}
    return syn, {"identifiers": ident, "books": books, "pending": pending, "corporate_actions": corp}
