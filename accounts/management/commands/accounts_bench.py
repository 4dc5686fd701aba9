"""Benchmark: build N accounts with K holdings each in bulk, then time the bulk reads the
rebalancer uses and the derived-balance rebuild. Prints one JSON object. Rolls back unless --keep."""
import datetime as dt
import json
import time
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from accounts.models import (
    Account,
    CustodyAccount,
    ModelPortfolio,
    ModelSubscription,
    ModelTarget,
    Movement,
    Transaction,
)
from accounts.selectors import rebalance_inputs
from accounts.services import books_refresh
from onboarding.machine import machine
from onboarding.models import Firm, Party
from trading.reference.demo import reference_demo
from trading.reference.models import Instrument, Listing
from trading.reference.services import prices_upsert


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time rebalance_inputs and books_refresh over many accounts"

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=2000)
        parser.add_argument("--holdings", type=int, default=10)
        parser.add_argument("--post", type=int, default=200, help="Trades to book one by one through trade_post")
        parser.add_argument("--keep", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        result = {}
        try:
            with transaction.atomic():
                result = self._run(opts["accounts"], opts["holdings"], opts["post"])
                if not opts["keep"]:
                    raise _Rollback
        except _Rollback:
            pass
        result.update(machine())  # load average beside the figures
        self.stdout.write(json.dumps(result))

    def _run(self, n_accounts: int, n_holdings: int, n_post: int) -> dict:
        ref = reference_demo()
        day = ref.price_date
        firm, _ = Firm.objects.get_or_create(name="Bench firm", defaults={"kind": "ria", "home_jurisdiction": "GB"})
        owner = Party.objects.create(firm=firm, kind="person", client_type="individual", family_name="Bench")
        from accounts.demo import custodians_demo

        custodian = custodians_demo()["CITIGB2L"]
        # instruments: reuse the demo ones, add synthetic ones with GBP listings up to n_holdings
        from stdnum import isin as isin_mod

        xlon = ref.markets["XLON"]
        instruments = list(ref.instruments.values())
        k = 0
        while len(instruments) < n_holdings:
            body = f"GB00BENCH{k:02d}"[:11]
            code = body + isin_mod.calc_check_digit(body)
            inst = Instrument.objects.create(name=f"Bench {k}", instrument_type="equity", isin=code, currency="GBP")
            listing = Listing.objects.create(instrument=inst, market=xlon, ticker=f"BN{k}", trading_currency="GBP",
                                             price_unit="GBp", price_divisor=Decimal(100), is_primary=True)
            prices_upsert(rows=[{"listing_id": listing.pk, "price_date": day, "price": Decimal(100 + k),
                                 "as_of": dt.datetime.combine(day, dt.time(17), tzinfo=dt.UTC)}],
                          source="BENCH")
            instruments.append(inst)
            k += 1
        instruments = instruments[:n_holdings]
        model = ModelPortfolio.objects.create(code="BENCH", version=1, name="Bench", provider="Bench",
                                              base_currency="GBP", effective_from=day)
        ModelTarget.objects.bulk_create([ModelTarget(model=model, instrument=i, weight=Decimal(1) / len(instruments))
                                         for i in instruments[:-1]] +
                                        [ModelTarget(model=model, instrument=instruments[-1],
                                                     weight=Decimal(1) - (Decimal(1) / len(instruments)) * (len(instruments) - 1))])
        t0 = time.perf_counter()
        accounts = Account.objects.bulk_create([
            Account(firm=firm, owner=owner, number=f"B-{n}", name="b", base_currency="GBP", booking_centre="onshore",
                    booking_jurisdiction="GB", status="active") for n in range(n_accounts)])
        custody = CustodyAccount.objects.bulk_create([CustodyAccount(account=a, custodian=custodian, number=f"BC-{a.pk}")
                                                      for a in accounts])
        txns = Transaction.objects.bulk_create([Transaction(account=a, kind="buy", trade_date=day - dt.timedelta(days=3),
                                                            settle_date=day - dt.timedelta(days=1)) for a in accounts])
        movements = []
        for a, c, t in zip(accounts, custody, txns, strict=True):
            movements.append(Movement(transaction=t, account=a, custody_account=c, leg="cash", cash_purpose="deposit",
                                      currency="GBP", amount=Decimal(1000000), trade_date=t.trade_date,
                                      settle_date=t.settle_date))
            for j, inst in enumerate(instruments):
                movements.append(Movement(transaction=t, account=a, custody_account=c, leg="security", instrument=inst,
                                          quantity=Decimal(100 + j), currency=inst.currency, amount=Decimal(1000),
                                          trade_date=t.trade_date, settle_date=t.settle_date))
        Movement.objects.bulk_create(movements, batch_size=5000)
        ModelSubscription.objects.bulk_create([ModelSubscription(account=a, model=model, start_date=day) for a in accounts])
        setup = time.perf_counter() - t0
        ids = [a.pk for a in accounts]
        t0 = time.perf_counter()
        data = rebalance_inputs(account_ids=ids, as_of=day)
        t_inputs = time.perf_counter() - t0
        t0 = time.perf_counter()
        refreshed = books_refresh(account_ids=ids, as_of=day)
        t_refresh = time.perf_counter() - t0
        mv = data.market_values_base().sum()
        # one-by-one booking through the service the order system calls (lots, checks, refresh)
        from types import SimpleNamespace

        from accounts.services import trade_post

        listing = Listing.objects.filter(instrument=instruments[0], is_primary=True).first()
        t0 = time.perf_counter()
        for k in range(n_post):
            a, c = accounts[k % len(accounts)], custody[k % len(custody)]
            side = "buy" if (k // len(accounts)) % 2 == 0 else "sell"
            trade_post(order=SimpleNamespace(
                account_id=a.pk, account=a, custody_account=c, listing=listing, side=side,
                filled_quantity=Decimal(10), average_price=Decimal(100), trade_date=day,
                settle_date=day + dt.timedelta(days=2), reference=f"BENCH-{k}"))
        t_post = time.perf_counter() - t0
        from accounts.services import trade_post_many

        batch = [SimpleNamespace(
            account_id=accounts[k % len(accounts)].pk, account=accounts[k % len(accounts)],
            custody_account=custody[k % len(custody)], listing=listing, side="buy", filled_quantity=Decimal(10),
            average_price=Decimal(100), trade_date=day, settle_date=day + dt.timedelta(days=2),
            reference=f"BENCH-MANY-{k}") for k in range(n_post)]
        t0 = time.perf_counter()
        trade_post_many(orders=batch)
        t_many = time.perf_counter() - t0
        return {
            "benchmark": "accounts_bench", "vendor": connection.vendor, "accounts": n_accounts,
            "holdings_per_account": n_holdings, "movements": len(movements), "setup_seconds": round(setup, 3),
            "rebalance_inputs_seconds": round(t_inputs, 3), "positions_shape": list(data.positions.shape),
            "books_refresh_seconds": round(t_refresh, 3), "positions_written": refreshed["positions"],
            "total_market_value_gbp": round(float(mv), 2),
            "trade_post_count": n_post, "trade_post_seconds": round(t_post, 3),
            "trade_post_ms_each": round(1000 * t_post / n_post, 2) if n_post else None,
            "trade_post_many_seconds": round(t_many, 3),
            "trade_post_many_ms_each": round(1000 * t_many / n_post, 2) if n_post else None,
        }
