"""Regression tests for what the schemathesis run (tests/api/test_contract.py) found; each names the finding."""
from __future__ import annotations

import pytest

from tests.factories import FirmFactory, UserFactory

from .conftest import assert_error, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(db):
    return token_client(UserFactory(firm=FirmFactory(), role="advisor"))


def test_an_enum_filter_given_empty_is_refused_not_ignored(partner):
    # ST201 GET /api/v1/blocks/?side= answered the unfiltered list
    body = assert_error(partner.get("/api/v1/blocks/?side="), 400, "validation_failed")
    assert list(body["detail"]) == ["side"]
    assert partner.get("/api/v1/blocks/?side=buy").status_code == 200


def test_a_boolean_filter_that_is_not_true_or_false_is_refused(partner):
    # ST201 GET /api/v1/rebalance-runs/?dry_run=4.3e-252 answered the unfiltered list
    body = assert_error(partner.get("/api/v1/rebalance-runs/?dry_run=4.3e-252"), 400, "validation_failed")
    assert list(body["detail"]) == ["dry_run"]
    assert partner.get("/api/v1/rebalance-runs/?dry_run=true").status_code == 200


def test_a_page_size_that_is_not_a_whole_number_is_refused(partner):
    # ST201 GET /api/v1/custodians/?page_size=1.5 and page_size=-153837 answered with the default page size
    for bad in ("1.5", "-153837", "0"):
        assert_error(partner.get(f"/api/v1/custodians/?page_size={bad}"), 400, "validation_failed")


def test_a_page_past_the_end_is_a_documented_404(partner):
    # ST103 GET /api/v1/custodians/?page=14521812962704698 answered 404, undocumented on lists
    assert_error(partner.get("/api/v1/custodians/?page=14521812962704698"), 404, "not_found")


def test_an_over_long_idempotency_key_is_refused_where_the_header_is_honoured(partner):
    # ST201 POST /api/v1/orders/release/ with a 256+ character key: the header is now documented only on
    # the operations that honour it, and those refuse an over-long key
    body = assert_error(partner.post("/api/v1/parties/", {"kind": "person", "family_name": "X"},
                                     HTTP_IDEMPOTENCY_KEY="k" * 256), 400, "idempotency_key_invalid")
    assert body["request_id"]
