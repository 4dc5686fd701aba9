"""Account pages: holdings across custodians in local and base currency, cash with projected
settlement, drift against the model as an SVG chart, proposed orders; scoped to the firm."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from accounts.demo import accounts_demo
from onboarding.models import Relationship
from tests.factories import PersonFactory, tax_documented
from tests.trading.factories import OrderFactory

pytestmark = pytest.mark.django_db
ON = "2026-11-23"


@pytest.fixture
def demo(firm, advisor):
    owner = PersonFactory(firm=firm, given_names="Hugo", family_name="Holder", residence_country="CH")
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)  # what the real activation gate asks for
    return accounts_demo(firm=firm, owner=owner, actor=advisor)


def test_account_list_shows_the_firms_accounts_only(signed_in, demo, other_advisor):
    page = signed_in.get(reverse("portal:account_list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "DEMO-001" in html and "Hugo Holder" in html and "BNY Mellon" in html and "Citibank London" in html


def test_account_page_values_holdings_in_local_and_base_currency_across_custodians(signed_in, demo):
    page = signed_in.get(reverse("portal:account_detail", args=[demo.account.pk]), {"on": ON})
    assert page.status_code == 200
    holdings = page.context["holdings"]
    assert {h["custodian"] for h in holdings} == {"BNY Mellon", "Citibank London"}
    usd = [h for h in holdings if h["line"].currency == "USD"]
    assert usd and all(h["line"].base_value != h["line"].local_value for h in usd)  # converted to GBP
    html = page.content.decode()
    assert "Apple" in html or "AAPL" in html or "US0378331005" in html
    assert "Value (GBP)" in html


def test_account_page_shows_cash_per_currency_with_projected_settlement(signed_in, demo):
    page = signed_in.get(reverse("portal:account_detail", args=[demo.account.pk]), {"on": ON})
    currencies = {row.currency for row in page.context["projected"]}
    assert {"GBP", "USD"} <= currencies
    assert "Settled cash and what settles next" in page.content.decode()


def test_drift_chart_is_server_rendered_svg_with_a_row_per_line(signed_in, demo):
    page = signed_in.get(reverse("portal:account_detail", args=[demo.account.pk]), {"on": ON})
    html = page.content.decode()
    svg = re.search(r"<svg.*?</svg>", html, re.DOTALL).group(0)
    assert 'role="img"' in svg
    drift = page.context["drift"]
    assert drift, "the demo account follows a model"
    assert svg.count("<rect") == len(drift)
    # the model holds SAP at 15% and the account holds none: drift -15 pp
    sap = [line for line in drift if "SAP" in line.label]
    assert sap and round(sap[0].target, 2) == 0.15 and sap[0].current == 0
    assert "-15.0 pp" in svg
    assert "<script" not in html.split("</head>")[1]  # no chart library


def test_proposed_orders_are_listed(signed_in, demo):
    OrderFactory(account=demo.account, listing=demo.ref.listings["AAPL"], reference="PROP-1")
    page = signed_in.get(reverse("portal:account_detail", args=[demo.account.pk]), {"on": ON})
    assert "PROP-1" in page.content.decode()


def test_another_firms_account_is_not_found(client, other_advisor, demo, packs):
    client.force_login(other_advisor)
    assert client.get(reverse("portal:account_detail", args=[demo.account.pk])).status_code == 404
    assert "DEMO-001" not in client.get(reverse("portal:account_list")).content.decode()


def test_dashboard_counts_accounts_by_status(signed_in, demo):
    page = signed_in.get(reverse("portal:home"))
    assert page.context["accounts_by_status"] == {"active": 1}


def test_bad_date_is_not_found(signed_in, demo):
    assert signed_in.get(reverse("portal:account_detail", args=[demo.account.pk]), {"on": "yesterday"}).status_code == 404


def test_account_pages_need_sign_in(client, demo):
    response = client.get(reverse("portal:account_detail", args=[demo.account.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert dt.date.fromisoformat(ON)


def test_account_page_names_instruments_in_breaks_and_price_sources_in_words_at_full_width(signed_in, demo):
    """Issue 19: breaks read "(position)" without their instrument, prices showed DEMO_CLOSE, and
    the orders and breaks were squeezed side by side into half the width each."""
    import datetime as dt

    from trading.reconciliation.models import Break

    custody = demo.account.custody_accounts.select_related("custodian").first()
    apple = demo.ref.listings["AAPL"].instrument
    day = dt.date(2026, 11, 23)
    common = {"firm": demo.account.firm, "custodian_code": "IRVTUS3N", "custody_account": custody.number,
              "first_seen": day, "last_seen": day}
    Break.objects.create(key="B-AAPL", instrument_id=apple.pk, identifier=apple.isin, asset="position",
                         kind="quantity", **common)
    Break.objects.create(key="B-USD", identifier="USD", asset="cash", kind="cash", **common)
    Break.objects.create(key="B-UNK", identifier="XS0000000009", asset="position", kind="unknown_instrument", **common)
    html = signed_in.get(reverse("portal:account_detail", args=[demo.account.pk]), {"on": ON}).content.decode()
    recon = html[html.index('id="recon-title"'):]
    assert f"{apple.name} ({apple.isin})" in recon
    assert "Cash in USD" in recon and "XS0000000009 (not in our instrument list)" in recon
    assert "(position)" not in recon and "(cash)" not in recon
    assert "DEMO_CLOSE" not in html and "WMR_4PM_LONDON" not in html
    assert "Closing price (demonstration data)" in html and "WM/Reuters 4 pm London fix" in html
    orders = html[html.index('id="orders-title"') - 200:html.index('id="orders-title"')]
    assert "two-col" not in orders  # orders and breaks each take the page's width


def test_price_sources_read_as_words():
    from trading.reference.sources import source_label

    assert source_label("DEMO_CLOSE") == "Closing price (demonstration data)"
    assert source_label("CUSTODIAN:IRVTUS3N") == "IRVTUS3N (custodian's price)"
    assert source_label("SOME_NEW_FEED") == "Some new feed"
    assert source_label("") == ""
