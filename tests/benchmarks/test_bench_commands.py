"""Every benchmark command runs at a tiny size in the suite, so that none can break unnoticed:
its JSON carries the figures the README quotes, the machine's load average beside them, and
its own exactness checks pass. The commands that measure the PostgreSQL path run on PostgreSQL
(skipped on SQLite, as the other PostgreSQL-only tests are)."""
from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.conf import global_settings
from django.core.management import call_command
from django.db import connection
from lxml import etree


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("this benchmark measures the PostgreSQL path")


def run_json(*args: str) -> dict:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


def assert_machine(data: dict) -> None:
    load = data["load_average"]
    assert len(load) == 3 and all(isinstance(x, (int, float)) and x >= 0 for x in load)
    assert data["cpus"] >= 1 and data["measured_at"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # it VACUUMs the book, which needs no open transaction
def test_bench_rebalance_writes_exactly_what_the_engine_proposed():
    _postgres_only()
    data = run_json("bench_rebalance", "--accounts", "40", "--holdings", "8", "--currencies", "3", "--json")
    assert data["accounts"] == 40 and data["currencies"] == 3
    assert data["holdings"] >= 40 * 5  # the model's names (holdings - 5, at least one) plus off-model names
    assert data["orders"] > 0 and data["out_of_band"] > 0
    for key in ("seconds_load", "seconds_compute", "seconds_write", "seconds_total", "io_floor_seconds",
                "io_floor_read_seconds", "io_floor_write_seconds", "total_over_floor"):
        assert isinstance(data[key], (int, float)) and data[key] >= 0, key
    assert set(data["write_detail"]) == {"route", "copy", "commit"}
    assert data["exact"] is True, data
    assert (data["orders_written"], data["unrouted"]) == (data["orders"], 0)
    assert_machine(data)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # it VACUUMs its tables, which needs no open transaction
def test_bench_reconcile_finds_exactly_the_injected_differences():
    _postgres_only()
    data = run_json("bench_reconcile", "--positions", "300", "--json")
    assert data["exact"] is True, data
    assert data["expected_differences"] > 0 and sum(data["injected"].values()) > 0
    for key in ("seconds_total", "io_floor_seconds", "ratio_to_floor", "seconds_match"):
        assert data[key] is not None and data[key] >= 0, key
    assert_machine(data)


@pytest.mark.postgres
@pytest.mark.django_db
def test_accounts_bench_reads_and_rebuilds_the_book_it_built():
    _postgres_only()
    data = run_json("accounts_bench", "--accounts", "12", "--holdings", "3", "--post", "3", "--json")
    assert data["accounts"] == 12 and data["positions_shape"] == [12, 3]
    assert data["positions_written"] == 12 * 3 * 2  # every holding on the trade and the settlement basis
    assert data["trade_post_count"] == 3 and data["total_market_value_gbp"] > 0
    for key in ("setup_seconds", "rebalance_inputs_seconds", "books_refresh_seconds", "trade_post_ms_each",
                "trade_post_many_ms_each"):
        assert data[key] >= 0, key
    assert_machine(data)


@pytest.mark.django_db
def test_tax_benchmark_builds_a_crs_message_the_oecd_schema_accepts(shared_data):
    data = run_json("tax_benchmark", "--accounts", "30", "--xsd-dir", str(shared_data / "crs-xsd"))
    assert data["accounts"] == 30 and data["forms_required"] >= 30
    assert data["w8ben_valid"] == data["w8ben_validations"] > 0
    assert data["crs_reported"] > 0 and data["crs_exceptions"] == 0
    assert data["crs_schema_errors"] == 0  # the OECD's own XSD is the oracle
    assert_machine(data)


def _small_lists(src: Path, dst: Path, entries: int = 60) -> Path:
    """The first `entries` SDN entries of the real OFAC files (with the rows linked to them) and
    the first individuals and entities of the real UN list, written to `dst`."""
    ofac, un = dst / "ofac", dst / "un"
    ofac.mkdir(parents=True)
    un.mkdir()
    sdn_lines = (src / "ofac" / "sdn.csv").read_text(encoding="latin-1").splitlines(keepends=True)[:entries]
    (ofac / "sdn.csv").write_text("".join(sdn_lines), encoding="latin-1")
    kept = {line.split(",", 1)[0] for line in sdn_lines}
    for name in ("alt.csv", "add.csv", "sdn_comments.csv"):
        path = src / "ofac" / name
        if path.exists():
            lines = path.read_text(encoding="latin-1").splitlines(keepends=True)
            (ofac / name).write_text("".join(x for x in lines if x.split(",", 1)[0] in kept), encoding="latin-1")
    tree = etree.parse(str(src / "un" / "consolidated.xml"))
    for group in tree.getroot():
        for child in list(group)[entries // 2:]:
            group.remove(child)
    tree.write(str(un / "consolidated.xml"), encoding="utf-8", xml_declaration=True)
    return dst


def test_bench_screening_recalls_the_listed_names_and_spares_the_innocent(shared_data, tmp_path):
    data_dir = _small_lists(shared_data / "sanctions", tmp_path / "lists")
    data = run_json("bench_screening", "--data", str(data_dir), "--positives", "200", "--innocents", "60", "--json")
    assert data["list_entries"] > 0 and data["queries"] > 0
    for key in ("parse_seconds", "index_seconds", "per_second", "p50_ms", "p99_ms"):
        assert data[key] >= 0, key
    # the labelled queries are variants of listed names (positives) and made-up names (negatives)
    assert data["recall"] >= 0.9, data["recall_by_variant"]
    assert data["false_positive_rate"] <= 0.1
    # the UN list's own original-script names, screened against its Latin names, are a kind of their own
    # (the first half of the UN list kept here has none: the figure is then null, not an error)
    assert "original_script_recall" in data
    if data["original_script_recall"] is not None:
        assert "un_arabic_original" in data["recall_by_variant"]
    assert_machine(data)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_api_serves_every_path_without_errors(monkeypatch, settings):
    _postgres_only()
    # the server runs the production settings: its password hashers must know the advisor's hash
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    db = connection.settings_dict
    # the server it starts must see this test's database
    monkeypatch.setenv("DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}")
    data = run_json("bench_api", "--seconds", "0.5", "--connections", "1", "--workers", "1", "--parties", "20",
                    "--json")
    paths = [k for k in data if not k.startswith("_")]
    assert set(paths) >= {"case_status", "requirements", "dashboard", "case_create"}
    for name in paths:
        assert data[name]["errors"] == 0, (name, data[name])
        assert data[name]["rps"] > 0 and data[name]["p50_ms"] > 0 and data[name]["p99_ms"] >= data[name]["p50_ms"]
    assert_machine(data["_meta"])
    assert os.environ["DATABASE_URL"].endswith(db["NAME"])
