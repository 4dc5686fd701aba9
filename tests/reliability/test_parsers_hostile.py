"""Every importer's parser fed junk: binary noise, truncated and byte-flipped versions of real
files (read in place from the shared data, and messages built by the tests), wrong encodings
and huge fields. Each either accepts the input or raises its own documented error naming the
file (and the line/field where it promises one) - never a bare IndexError, KeyError, ValueError...

These are the pure parsers (no database); tests/reliability/test_importers_change_nothing.py
checks the services around them leave the database as it was."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED_DATA
from tests.trading.reconciliation.builders import camt053, semt002

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _shared(pattern: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(SHARED_DATA.glob(pattern))] if SHARED_DATA.exists() else []


MT940 = _shared("mt940/*/*.sta") + _shared("mt940/*/*.txt")
XML = [semt002(holdings=[{"isin": "US0378331005", "qty": "1000", "price": "185.64", "price_ccy": "USD"}]),
       camt053()]


def damaged(samples: list[bytes]):
    """Junk, a real sample cut anywhere, a real sample with one byte changed, or re-encoded."""
    junk = st.binary(max_size=3000)
    if not samples:
        return junk
    sample = st.sampled_from(samples)
    cut = sample.flatmap(lambda d: st.integers(0, len(d)).map(lambda n: d[:n]))
    flipped = sample.flatmap(lambda d: st.tuples(st.integers(0, max(len(d) - 1, 0)), st.integers(0, 255)).map(
        lambda t: d[:t[0]] + bytes([t[1]]) + d[t[0] + 1:]))
    recoded = sample.map(lambda d: d.decode("latin-1").encode("utf-16"))
    huge = sample.map(lambda d: d[: len(d) // 2] + b"9" * 200_000 + d[len(d) // 2:])
    return st.one_of(junk, cut, flipped, recoded, huge)


def _parse_or_refuse(data: bytes, fmt: str):
    from trading.reconciliation.parsers import ParseError, parse_file

    try:
        parse_file(data, fmt, file="hostile.bin")
    except ParseError as exc:
        assert "hostile.bin" in str(exc) and exc.reason


@pytest.mark.parametrize("fmt", ["mt940", "mt950"])
@FAST
@given(data=damaged(MT940))
def test_swift_cash_statement_parsers_refuse_damaged_files_with_a_parse_error(fmt, data):
    _parse_or_refuse(data, fmt)


@pytest.mark.parametrize("fmt", ["camt053", "semt002", "mt535"])
@FAST
@given(data=damaged(XML))
def test_iso20022_and_mt535_parsers_refuse_damaged_files_with_a_parse_error(fmt, data):
    _parse_or_refuse(data, fmt)


LAYOUT_CSV = [b"account;isin;quantity;price;currency\nSAFE-001;US0378331005;1.000,5;185,64;USD\n",
              b"account,isin,quantity,price,currency,as_of\nA1,US0378331005,1000,185.64,USD,2024-01-31\n"]


@pytest.mark.parametrize("layout", ["euro_semicolon", "meridian_positions_csv", "pershing_csv", "schwab_fixed"])
@FAST
@given(data=damaged(LAYOUT_CSV))
def test_csv_layout_parsers_refuse_damaged_files_with_a_parse_error(layout, data):
    _parse_or_refuse(data, f"csv:{layout}")


EXEC = ("exec_id,cl_ord_id,last_qty,last_px,transact_time,venue\n"
        "E1,B1,400,3250,2026-11-24T01:05:00+00:00,XTKS\nE2,B1,200,3260,2026-11-24T01:07:00+00:00,XTKS\n")


@FAST
@given(data=damaged([EXEC.encode()]))
def test_execution_report_parser_names_line_and_field_or_accepts(data):
    from trading.orders.execution_reports import ExecutionFileError, parse_execution_reports

    text = data.decode("utf-8", errors="replace")
    try:
        rows = parse_execution_reports(text, file="fills.csv")
    except ExecutionFileError as exc:
        assert exc.file == "fills.csv" and exc.line is not None and exc.field
        assert f"line {exc.line}" in str(exc)
    else:
        assert all(r.last_qty > 0 and r.last_px > 0 and r.transact_time.tzinfo for r in rows)


MODEL = ("model_code,model_name,provider,base_currency,effective_from,line_type,identifier,weight\n"
         "GLOBAL-EQ,Global equity,Acme AM,USD,2026-12-01,instrument,US0378331005,0.95\n"
         "GLOBAL-EQ,Global equity,Acme AM,USD,2026-12-01,cash,USD,0.05\n")


@FAST
@given(data=damaged([MODEL.encode()]))
def test_model_delivery_parser_names_line_and_field_or_accepts(data):
    from accounts.exceptions import ModelFileError
    from accounts.modelfiles import parse

    text = data.decode("utf-8", errors="replace")
    try:
        parse(text, path="/in/models.csv", isin_known=lambda isins: set(isins), model_known=lambda codes: set())
    except ModelFileError as exc:
        assert "models.csv" in exc.message and exc.detail["field"]


OFAC_SAMPLES = {name: _shared(f"sanctions/ofac/{name}") for name in ("sdn.csv", "alt.csv", "add.csv")}


def _ofac_strategy():
    from tests.compliance.conftest import ADD, ALT, SDN

    small = {"sdn.csv": SDN.encode(), "alt.csv": ALT.encode(), "add.csv": ADD.encode()}
    # the real files are large: cut them within their first 64 KB so each example stays quick
    real = {k: [v[0][:65536]] if v else [] for k, v in OFAC_SAMPLES.items()}
    return st.fixed_dictionaries({k: damaged([small[k], *real[k]]) for k in small})


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(files=_ofac_strategy())
def test_ofac_importer_names_file_line_and_field_or_accepts(files):
    from compliance.exceptions import WatchlistFormatError
    from compliance.screening.importers import parse_source

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, data in {**files, "sdn_comments.csv": b""}.items():
            (Path(tmp) / name).write_bytes(data)
            paths.append(Path(tmp) / name)
        try:
            parse_source("ofac", paths)
        except WatchlistFormatError as exc:
            assert exc.file and exc.field and exc.problem


UN = _shared("sanctions/un/consolidated.xml")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=damaged([UN[0][:40000]] if UN else [b"<CONSOLIDATED_LIST/>"]))
def test_un_importer_names_the_problem_or_accepts(data):
    from compliance.exceptions import WatchlistFormatError
    from compliance.screening.importers import parse_source

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "consolidated.xml"
        path.write_bytes(data)
        try:
            parse_source("un", [path])
        except WatchlistFormatError as exc:
            assert exc.file and exc.problem


PACK = b"""code: GB
version_label: test
covers: [GB]
rules: []
"""


@FAST
@given(data=damaged([PACK]))
def test_rule_pack_reader_and_validator_name_the_file_or_accept(data):
    from onboarding.exceptions import RulePackError
    from onboarding.rules.packs import read_pack_dir, validate_pack

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "gb.yaml").write_bytes(data)
        try:
            for pack in read_pack_dir(Path(tmp)):
                validate_pack(pack)
        except RulePackError as exc:
            assert "gb.yaml" in exc.message
