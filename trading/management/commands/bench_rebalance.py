"""python manage.py bench_rebalance --accounts N --holdings M --currencies K --json

Builds a synthetic book in the configured database (binary COPY on PostgreSQL) under a firm
named "Meridian bench", replacing the previous bench book, then runs the real rebalance path
(bulk load from accounts/reference tables, engine, routed order write) and measures the I/O
floor in the same run: reading the same position rows and writing the same number of order
rows with COPY. Prints one JSON object."""
from __future__ import annotations

import datetime as dt
import io
import json
import time

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from accounts.models import (
    Account,
    CashBalance,
    Custodian,
    CustodyAccount,
    ModelPortfolio,
    ModelSubscription,
    ModelTarget,
    Position,
)
from onboarding.machine import machine
from onboarding.models import Firm, Party
from trading import services
from trading.models import FxOrder, Order, RebalanceRun, RunChunk
from trading.rebalancing.dbio import copy_binary, execute, fetch, is_postgres
from trading.rebalancing.scope import RebalanceScope
from trading.reference.models import FxRate, Instrument, Listing, Market, Price
from trading.reference.services import reference_load_all

FIRM = "Meridian bench"
TRADE = dt.date(2026, 11, 24)
# currency -> (market, lot size, price divisor, typical price in quote units, USD per unit)
MARKETS = [
    ("USD", "XNYS", 1, 1, 150.0, 1.0), ("GBP", "XLON", 1, 100, 450.0, 1.308), ("EUR", "XETR", 1, 1, 80.0, 1.152),
    ("JPY", "XTKS", 100, 1, 3000.0, 1 / 156.8), ("HKD", "XHKG", 500, 1, 60.0, 1 / 7.785),
    ("CHF", "XSWX", 1, 1, 90.0, 1 / 0.804), ("CAD", "XTSE", 1, 1, 70.0, 1 / 1.405),
    ("CNY", "XSHG", 100, 1, 40.0, 1 / 7.11),
]
BASES = ["GBP", "USD", "EUR", "CHF"]


class Command(BaseCommand):
    help = "Benchmark the rebalance on a synthetic book (load, compute, write) against the COPY I/O floor."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=10_000)
        parser.add_argument("--holdings", type=int, default=60)
        parser.add_argument("--currencies", type=int, default=8)
        parser.add_argument("--out-of-band", type=float, default=0.10, help="Share of accounts given a deposit")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--reuse-book", action="store_true",
                            help="Keep the bench book already built (same sizes); drop only its orders")

    def handle(self, *args, **o):
        if not is_postgres():
            raise CommandError("bench_rebalance needs PostgreSQL (set DATABASE_URL)")
        k = max(1, min(o["currencies"], len(MARKETS)))
        t = time.perf_counter()
        firm = Firm.objects.filter(name=FIRM).first()
        if o["reuse_book"] and firm is not None and Account.objects.filter(firm=firm).count() == o["accounts"]:
            with transaction.atomic():
                _clear_orders(firm)
            built = {"firm_id": firm.pk}
        else:
            built = build_book(n_accounts=o["accounts"], holdings=o["holdings"], n_ccy=k, oob=o["out_of_band"],
                               seed=o["seed"])
        seconds_build = time.perf_counter() - t
        with connection.cursor() as cur:  # as autovacuum leaves tables in service: statistics, visibility map
            for model in (Account, CustodyAccount, ModelSubscription, Position, CashBalance, Order, FxOrder):
                cur.execute(f"VACUUM ANALYZE {model._meta.db_table}")
            cur.execute("ANALYZE")

        # a long-lived worker has its imports done and exchange calendars built once per process
        # and both the run and the floor read the positions from a warm buffer cache
        tw = time.perf_counter()
        warm_up()
        io_floor(built["firm_id"], 0)
        seconds_warmup = time.perf_counter() - tw
        t0 = time.perf_counter()
        result = services.rebalance_run(scope=RebalanceScope(trade_date=TRADE, firm=built["firm_id"]),
                                        key=f"bench-{time.time_ns()}")
        stats = result.as_dict()
        seconds_total = time.perf_counter() - t0
        floor = io_floor(built["firm_id"], stats["orders"])
        out = {
            "accounts": stats["accounts"], "holdings": stats["holdings"], "currencies": k,
            "orders": stats["orders"], "fx_orders": stats["fx_orders"], "out_of_band": stats["out_of_band"],
            "cash_limited": stats["cash_limited"], "unrouted": stats["unrouted"],
            "seconds_load": stats["seconds_load"], "seconds_compute": stats["seconds_compute"],
            "seconds_write": stats["seconds_write"], "seconds_total": round(seconds_total, 3),
            "load_detail": stats.get("load_detail"),
            "write_detail": {k: stats.get(f"seconds_{k}") for k in ("route", "copy", "commit")},
            "io_floor_seconds": round(floor["total"], 3), "io_floor_read_seconds": round(floor["read"], 3),
            "io_floor_write_seconds": round(floor["write"], 3),
            "io_floor_write_temp_table_seconds": round(floor["write_temp"], 3),
            "total_over_floor": round(seconds_total / floor["total"], 2) if floor["total"] else None,
            "seconds_build_book": round(seconds_build, 1), "seconds_warmup_excluded": round(seconds_warmup, 2), "database": connection.vendor,
        }
        # exactness: every proposed order and FX trade was written, once, for this run
        written = Order.objects.filter(run_id=result.run).count()
        fx_written = FxOrder.objects.filter(run_id=result.run).count()
        out["orders_written"], out["fx_written"] = written, fx_written
        out["exact"] = (written == stats["orders"] and fx_written == stats["fx_orders"] + stats["forwards"]
                        and stats["unrouted"] == 0)
        out.update(machine())  # load average beside the figures
        self.stdout.write(json.dumps(out) if o["json"] else json.dumps(out, indent=2))


def warm_up() -> None:
    """Build the exchange and currency calendars of the bench markets (process start-up cost)."""
    from trading.reference import selectors as ref

    for mic in {m[1] for m in MARKETS}:
        listing = Listing.objects.filter(market__mic=mic, ticker__startswith="B").select_related(
            "market", "instrument").first()
        if listing is not None:
            ref.settlement_dates(listing=listing, trade_date=TRADE)
    for ccy in {m[0] for m in MARKETS}:
        ref.fx_value_date(currency_a=ccy, currency_b="GBP", trade_date=TRADE)


def io_floor(firm_id: int, n_orders: int) -> dict:
    """COPY out the same position rows the load reads; COPY in as many order-shaped rows."""
    t0 = time.perf_counter()
    fetch(f"SELECT p.account_id::int8, p.instrument_id::int8, p.quantity::float8 FROM {Position._meta.db_table} p "
          f"JOIN (SELECT a.id FROM {Account._meta.db_table} a WHERE a.status = 'active' AND a.firm_id = %s) s "
          "ON s.id = p.account_id WHERE p.basis = 'trade' AND p.quantity <> 0", [firm_id], "iif")
    t1 = time.perf_counter()
    line = "0\tR0-0\t1\t1\t1\t1\t\\N\tbuy\t100.00000000\tUSD\t150.00000000\t15000.000000\t0\t\\N\t2026-11-24\t" \
           "2026-11-25\t\\N\tf\tproposed\t\\N\t2026-11-24 00:00:00+00\n"
    payload = (line * n_orders).encode()
    cols = ("run_id, reference, account_id, custody_account_id, listing_id, broker_id, block_id, side, quantity, "
            "currency, estimated_price, estimated_value, filled_quantity, average_price, trade_date, settle_date, "
            "estimated_gain, loss_sale, status, released_at, created_at")
    writes = {}
    # an ordinary (WAL-logged) table, as durable orders need, without indexes or constraints;
    # a temporary table (no WAL) is measured too, for reference
    for label, kind in (("logged", ""), ("temp", "TEMP")):
        with transaction.atomic():
            execute(f"CREATE {kind} TABLE io_floor_orders (LIKE {Order._meta.db_table} INCLUDING DEFAULTS "
                    "INCLUDING IDENTITY)")
            t2 = time.perf_counter()
            with connection.cursor() as cur:
                raw = cur.cursor if hasattr(cur, "cursor") else cur
                with raw.copy(f"COPY io_floor_orders ({cols}) FROM STDIN") as copy:
                    for start in range(0, len(payload), 1 << 24):
                        copy.write(payload[start:start + (1 << 24)])
            writes[label] = time.perf_counter() - t2
            transaction.set_rollback(True)
    t2, t3 = 0.0, writes["logged"]
    return {"read": t1 - t0, "write": t3 - t2, "write_temp": writes["temp"], "total": (t1 - t0) + (t3 - t2)}


def _copy_text(model, columns: list[str], lines: list[str]) -> None:
    """COPY text lines into the model's table. Every other NOT NULL column with a model default
    gets that default, so a column added by a later migration cannot break the bench."""
    extra_cols, extra_vals = _defaults(model, columns)
    suffix = "".join("\t" + v for v in extra_vals) + "\n"
    with connection.cursor() as cur:
        raw = cur.cursor if hasattr(cur, "cursor") else cur
        with raw.copy(f"COPY {model._meta.db_table} ({', '.join([*columns, *extra_cols])}) FROM STDIN") as copy:
            buf = io.StringIO()
            for n, line in enumerate(lines, 1):
                buf.write(line[:-1] + suffix if extra_cols else line)
                if n % 200_000 == 0:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())


def _defaults(model, columns: list[str]) -> tuple[list[str], list[str]]:
    """The NOT NULL columns of `model` missing from `columns` that have a default, and the
    defaults as COPY text."""
    cols, vals = [], []
    for f in model._meta.concrete_fields:
        if f.column in columns or f.null or f.primary_key or not f.has_default():
            continue
        value = f.get_db_prep_save(f.get_default(), connection)
        cols.append(f.column)
        vals.append("t" if value is True else "f" if value is False else str(value))
    return cols, vals


@transaction.atomic
def build_book(*, n_accounts: int, holdings: int, n_ccy: int, oob: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    reference_load_all()
    services.brokers_load()
    markets = MARKETS[:n_ccy]
    mk = {m.mic: m for m in Market.objects.filter(mic__in=[m[1] for m in markets])}
    firm, _ = Firm.objects.get_or_create(name=FIRM, defaults={"kind": "ria", "home_jurisdiction": "GB"})
    _clear(firm)
    owner = Party.objects.filter(firm=firm).first() or Party.objects.create(
        firm=firm, kind="person", client_type="individual", given_names="Bench", family_name="Owner")
    custodian, _ = Custodian.objects.get_or_create(name="NORTHBANK", defaults={"bic": "NRTHGB2L", "country": "GB"})

    # instruments and listings: holdings*4 names spread over the markets
    n_inst = max(holdings * 4, 200)
    existing = dict(Instrument.objects.filter(isin__startswith="XB").values_list("isin", "pk"))
    want = [f"XB{n:09d}0" for n in range(n_inst)]
    new = [Instrument(name=f"Bench {n}", instrument_type="equity", isin=isin, country="US", currency="USD")
           for n, isin in enumerate(want) if isin not in existing]
    Instrument.objects.bulk_create(new, batch_size=5000)
    inst = dict(Instrument.objects.filter(isin__in=want).values_list("isin", "pk"))
    inst_ids = np.array([inst[i] for i in want])
    mkt_of = np.arange(n_inst) % len(markets)
    wanted = [
        Listing(instrument_id=int(inst_ids[j]), market=mk[markets[mkt_of[j]][1]], ticker=f"B{j}",
                trading_currency=markets[mkt_of[j]][0], price_unit="GBp" if markets[mkt_of[j]][0] == "GBP" and
                markets[mkt_of[j]][3] == 100 else markets[mkt_of[j]][0], price_divisor=markets[mkt_of[j]][3],
                lot_size=markets[mkt_of[j]][2], is_primary=True)
        for j in range(n_inst)]
    # a listing left by a bench run with another number of currencies sits on another market: move it
    have = {listing.instrument_id: listing for listing in Listing.objects.filter(instrument_id__in=inst_ids.tolist())}
    moved = []
    for w in wanted:
        old = have.get(w.instrument_id)
        if old is not None and (old.market_id, old.trading_currency, old.lot_size) != (w.market.pk, w.trading_currency,
                                                                                        w.lot_size):
            old.market, old.trading_currency, old.price_unit = w.market, w.trading_currency, w.price_unit
            old.price_divisor, old.lot_size = w.price_divisor, w.lot_size
            moved.append(old)
    Listing.objects.bulk_update(moved, ["market", "trading_currency", "price_unit", "price_divisor", "lot_size"],
                                batch_size=5000)
    Listing.objects.bulk_create([w for w in wanted if w.instrument_id not in have], batch_size=5000)
    lst = dict(Listing.objects.filter(instrument_id__in=inst_ids.tolist()).values_list("instrument_id", "pk"))
    price = np.array([markets[mkt_of[j]][4] for j in range(n_inst)]) * rng.uniform(0.3, 2.0, n_inst)
    price = np.round(price, 2)
    Price.objects.filter(listing_id__in=lst.values(), source="BENCH").delete()
    now = dt.datetime(2026, 11, 23, 22, 0, tzinfo=dt.UTC)
    Price.objects.bulk_create([
        Price(listing_id=lst[int(inst_ids[j])], price_date=TRADE - dt.timedelta(days=1), as_of=now,
              price=str(price[j]), price_unit="x", price_divisor=markets[mkt_of[j]][3],
              currency=markets[mkt_of[j]][0], source="BENCH") for j in range(n_inst)], batch_size=5000)
    FxRate.objects.filter(source="BENCH").delete()
    FxRate.objects.bulk_create([
        FxRate(base_currency=c, quote_currency="USD", rate_date=TRADE - dt.timedelta(days=1), as_of=now,
               rate=f"{usd:.10f}", source="BENCH") for c, _, _, _, _, usd in MARKETS if c != "USD"])
    usd = {c: u for c, _, _, _, _, u in MARKETS}
    share_usd = price / np.array([markets[m][3] for m in mkt_of]) * np.array([usd[markets[m][0]] for m in mkt_of])

    # models: 20 per base currency, each holding `holdings - 5` names
    bases = [b for b in BASES if b in {m[0] for m in markets}] or [markets[0][0]]
    per_model = max(holdings - 5, 1)
    models, model_inst = [], []
    for b in bases:
        for n in range(20):
            m = ModelPortfolio.objects.create(provider="Bench AM", code=f"BENCH-{b}-{n}", version=1, name=f"{b} {n}",
                                              base_currency=b, effective_from=TRADE - dt.timedelta(days=30))
            picks = rng.choice(n_inst, size=min(per_model, n_inst), replace=False)
            ModelTarget.objects.bulk_create([ModelTarget(model=m, instrument_id=int(inst_ids[j]),
                                                         weight=f"{0.98 / len(picks):.10f}") for j in picks])
            models.append((m.pk, b))
            model_inst.append(picks)

    # accounts, custody accounts, subscriptions
    N = n_accounts
    base_of = rng.integers(0, len(bases), N)
    model_of = base_of * 20 + rng.integers(0, 20, N)
    household = np.where(rng.random(N) < 0.3, np.arange(N) // 3, -1)
    ts = "2026-11-01 00:00:00+00"
    from accounts.models import Household

    hh_ids = {}
    hh_rows = sorted(set(household[household >= 0].tolist()))
    Household.objects.bulk_create([Household(firm=firm, name=f"HH{h}") for h in hh_rows], batch_size=5000)
    hh_ids = dict(Household.objects.filter(firm=firm).values_list("name", "pk"))
    _copy_text(Account,
               ["firm_id", "owner_id", "household_id", "number", "name", "base_currency", "booking_centre",
                "booking_jurisdiction", "tax_status", "investor_type", "is_us_person", "lot_relief_method",
                "allows_short", "status", "created_at"],
               [f"{firm.pk}\t{owner.pk}\t{hh_ids[f'HH{household[i]}'] if household[i] >= 0 else chr(92) + 'N'}\t"
                f"B{i:07d}\tBench {i}\t{bases[base_of[i]]}\tonshore\tGB\ttaxable\tretail\t"
                f"{'t' if bases[base_of[i]] == 'USD' else 'f'}\t{'hifo' if i % 2 else 'fifo'}\tf\tactive\t{ts}\n"
                for i in range(N)])
    (acc_ids,) = fetch(f"SELECT id::int8 FROM {Account._meta.db_table} WHERE firm_id = %s ORDER BY number",
                       [firm.pk], "i")
    _copy_text(CustodyAccount, ["account_id", "custodian_id", "number", "is_active", "created_at"],
               [f"{acc_ids[i]}\t{custodian.pk}\tBC{acc_ids[i]}\tt\t{ts}\n" for i in range(N)])
    (ca_ids, ca_acc) = fetch(f"SELECT id::int8, account_id::int8 FROM {CustodyAccount._meta.db_table} "
                             f"WHERE number LIKE 'BC%%' AND account_id IN (SELECT id FROM {Account._meta.db_table} "
                             "WHERE firm_id = %s) ORDER BY account_id", [firm.pk], "ii")
    ca_of = ca_ids[np.searchsorted(ca_acc, acc_ids)]
    m2m = CustodyAccount.markets.through._meta.db_table
    mids = [mk[m[1]].pk for m in markets]
    copy_binary(m2m, ["custodyaccount_id", "market_id"], [np.repeat(ca_of, len(mids)), np.tile(mids, N)], "ii")
    _copy_text(ModelSubscription,
               ["account_id", "model_id", "follow_latest", "status", "start_date", "created_at"],
               [f"{acc_ids[i]}\t{models[model_of[i]][0]}\tt\tactive\t2026-01-01\t{ts}\n" for i in range(N)])

    # positions: the model's names near target (+-10%), plus 5 names off the model
    value_usd = np.exp(rng.normal(np.log(1e6), 0.5, N))
    p_acc, p_inst, p_qty = [], [], []
    for start in range(0, N, 20_000):
        idx = np.arange(start, min(start + 20_000, N))
        picks = np.stack([model_inst[m] for m in model_of[idx]])  # (n, per_model)
        extra = rng.integers(0, n_inst, (len(idx), max(holdings - picks.shape[1], 0)))
        cols = np.concatenate([picks, extra], axis=1)[:, :holdings]
        w = np.concatenate([np.full(picks.shape, 0.98 / picks.shape[1]), np.full(extra.shape, 0.002)],
                           axis=1)[:, :holdings]
        q = w * value_usd[idx, None] / share_usd[cols] * rng.normal(1.0, 0.10, cols.shape)
        lot = np.array([markets[m][2] for m in mkt_of])[cols]
        q = np.maximum(np.round(q / lot) * lot, lot)
        # the same name twice (model pick and extra) is summed
        p_acc.append(np.repeat(idx, cols.shape[1]))
        p_inst.append(cols.ravel())
        p_qty.append(q.ravel())
    p_acc, p_inst, p_qty = np.concatenate(p_acc), np.concatenate(p_inst), np.concatenate(p_qty)
    key = p_acc.astype(np.int64) * n_inst + p_inst
    order = np.argsort(key, kind="stable")
    key, p_qty = key[order], p_qty[order]
    first = np.r_[True, key[1:] != key[:-1]]
    ukey = key[first]
    qty = np.add.reduceat(p_qty, np.nonzero(first)[0])
    p_acc, p_inst = ukey // n_inst, ukey % n_inst
    ccy_idx = mkt_of[p_inst]
    execute("SET LOCAL session_replication_role = replica")  # bench setup only: the rows are consistent by construction
    execute("CREATE TEMP TABLE bench_pos (account_id int8, ca_id int8, instrument_id int8, qty float8, "
            "cost float8, ccy int8) ON COMMIT DROP")
    for s in range(0, len(qty), 1_000_000):
        sl = slice(s, s + 1_000_000)
        copy_binary("bench_pos", ["account_id", "ca_id", "instrument_id", "qty", "cost", "ccy"],
                    [acc_ids[p_acc[sl]], ca_of[p_acc[sl]], inst_ids[p_inst[sl]], qty[sl],
                     qty[sl] * share_usd[p_inst[sl]] * 0.9, ccy_idx[sl]], "iiiffi")
    arr = "(ARRAY[" + ",".join(f"'{m[0]}'" for m in markets) + "])"
    execute(f"INSERT INTO {Position._meta.db_table} (account_id, custody_account_id, instrument_id, basis, quantity, "
            f"cost_local, local_currency, cost_base, as_of) SELECT account_id, ca_id, instrument_id, 'trade', "
            f"qty::numeric, round(cost::numeric, 2), {arr}[ccy + 1], round(cost::numeric, 2), %s FROM bench_pos",
            [TRADE])
    # cash: 2% in base, a deposit for the out-of-band share, some USD for a third of accounts
    cash = value_usd * np.where(rng.random(N) < oob, 0.15, 0.02)
    base_usd = np.array([usd[bases[b]] for b in base_of])
    rows = [f"{acc_ids[i]}\t{ca_of[i]}\t{bases[base_of[i]]}\tsettle\t{cash[i] / base_usd[i]:.2f}\t{TRADE}\n"
            for i in range(N)]
    rows += [f"{acc_ids[i]}\t{ca_of[i]}\tUSD\tsettle\t{value_usd[i] * 0.01:.2f}\t{TRADE}\n"
             for i in range(N) if i % 3 == 0 and bases[base_of[i]] != "USD" and "USD" in usd]
    _copy_text(CashBalance, ["account_id", "custody_account_id", "currency", "basis", "amount", "as_of"],
               rows)
    execute("SET LOCAL session_replication_role = origin")
    return {"firm_id": firm.pk, "positions": len(qty)}


def _clear_orders(firm) -> None:
    acc = f"SELECT id FROM {Account._meta.db_table} WHERE firm_id = {int(firm.pk)}"
    execute(f"DELETE FROM {FxOrder._meta.db_table} WHERE account_id IN ({acc})")
    execute(f"DELETE FROM {Order._meta.db_table} WHERE account_id IN ({acc})")


def _clear(firm) -> None:
    """Remove the previous bench book of this firm (orders first, then the books)."""
    acc = f"SELECT id FROM {Account._meta.db_table} WHERE firm_id = {int(firm.pk)}"
    execute(f"DELETE FROM {FxOrder._meta.db_table} WHERE account_id IN ({acc})")
    execute(f"DELETE FROM {Order._meta.db_table} WHERE account_id IN ({acc})")
    execute(f"DELETE FROM {RunChunk._meta.db_table} WHERE run_id IN (SELECT id FROM {RebalanceRun._meta.db_table} "
            "WHERE key LIKE 'bench-%%')")
    execute(f"DELETE FROM {RebalanceRun._meta.db_table} WHERE key LIKE 'bench-%%'")
    for model in (Position, CashBalance, ModelSubscription):
        execute(f"DELETE FROM {model._meta.db_table} WHERE account_id IN ({acc})")
    m2m = CustodyAccount.markets.through._meta.db_table
    execute(f"DELETE FROM {m2m} WHERE custodyaccount_id IN (SELECT id FROM {CustodyAccount._meta.db_table} "
            f"WHERE account_id IN ({acc}))")
    execute(f"DELETE FROM {CustodyAccount._meta.db_table} WHERE account_id IN ({acc})")
    execute(f"DELETE FROM {Account._meta.db_table} WHERE firm_id = {int(firm.pk)}")
    from accounts.models import Household

    Household.objects.filter(firm=firm).delete()
    ModelTarget.objects.filter(model__code__startswith="BENCH-").delete()
    ModelPortfolio.objects.filter(code__startswith="BENCH-").delete()
