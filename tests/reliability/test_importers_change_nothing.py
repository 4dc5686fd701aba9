"""A set of broken files, generated here, fed to every importer's service: each is refused with a
clear error (naming file, and line and field where the importer promises them) and every table
in the database has the same row count afterwards (and the good data already there is intact).
Real shared files are read in place and damaged in memory; nothing from /work/shared is copied
into the repository."""
from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps

from tests.conftest import SHARED_DATA
from tests.trading.reconciliation.builders import camt053, semt002

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recon_rules")]


def row_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.managed}


def _mt940_sample() -> bytes:
    path = SHARED_DATA / "mt940" / "jejik" / "abnamro.sta"
    return path.read_bytes() if path.exists() else b":20:STARTUMSE\r\n:25:1234/5678\r\n:28C:1\r\n:60F:C240130EUR100,00\r\n"


HOLDING = {"isin": "US0378331005", "qty": "1000", "price": "185.64", "price_ccy": "USD"}
RECON_BROKEN = {
    "empty.xml": (b"", "semt002"),
    "junk.bin": (bytes(range(256)) * 20, "semt002"),
    "truncated.xml": (semt002(holdings=[HOLDING])[:300], "semt002"),
    "cp1252-as-utf8.xml": (camt053(account="DE89ÄÖÜ0532013000").decode().encode("cp1252"), "camt053"),
    "bad-amount.xml": (camt053(opening="1" * 100_000), "camt053"),
    "billion-laughs.xml": ((b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;'
                            b'&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Document>&c;</Document>'),
                           "camt053"),
    "external-entity.xml": ((b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                             b"<Document>&x;</Document>"), "semt002"),
    "half.sta": (_mt940_sample()[: len(_mt940_sample()) // 2], "mt940"),
    "no-statement.sta": (b"\r\n\r\n-\r\n", "mt940"),
    "bad.csv": (b"account;isin;quantity\n" + b"X;" * 50_000 + b"\n", "csv:euro_semicolon"),
}


@pytest.mark.parametrize("name", sorted(RECON_BROKEN))
def test_a_broken_custodian_file_is_refused_and_changes_nothing(name, tmp_path, settings):
    from trading.reconciliation import services
    from trading.reconciliation.exceptions import FileRefused, UnknownFormat

    settings.MEDIA_ROOT = tmp_path / "media"
    data, fmt = RECON_BROKEN[name]
    path = tmp_path / name
    path.write_bytes(data)
    before = row_counts()
    with pytest.raises((FileRefused, UnknownFormat)) as err:
        services.reconcile_file(custodian_code="GLOBALCUST", path=path, fmt=fmt, as_of=dt.date(2024, 1, 31),
                                engine="numpy")
    assert name in err.value.message or err.value.detail.get("file") == name
    assert row_counts() == before


EXEC_HEADER = "exec_id,cl_ord_id,last_qty,last_px,transact_time,venue\n"


def test_broken_execution_reports_are_refused_naming_line_and_field_and_change_nothing(desk, active):
    from tests.trading.test_orders import _released_tokyo_block
    from trading import services
    from trading.exceptions import ExecutionImportRejected

    block, _ = _released_tokyo_block(desk)
    ref = block.reference
    good = f"E1,{ref},100,3250,2026-11-24T01:05:00+00:00,XTKS\n"
    broken = {
        "header.csv": ("nonsense\n" + good, 1, "exec_id"),
        "qty.csv": (EXEC_HEADER + good + f"E2,{ref},1e999999,3250,2026-11-24T01:05:00+00:00,X\n", 3, "last_qty"),
        "nan.csv": (EXEC_HEADER + good + f"E2,{ref},NaN,3250,2026-11-24T01:05:00+00:00,X\n", 3, "last_qty"),
        "naive.csv": (EXEC_HEADER + good + f"E2,{ref},1,3250,2026-11-24T01:05:00,X\n", 3, "transact_time"),
        "huge.csv": (EXEC_HEADER + good + f"E2,{ref},1,3250,2026-11-24T01:05:00+00:00,{'V' * 200_000}\n", 3, "row"),
        "unknown.csv": (EXEC_HEADER + good + "E2,'; DROP TABLE trading_fill;--,1,1,2026-11-24T01:05:00+00:00,X\n",
                        3, "cl_ord_id"),
        "overfill.csv": (EXEC_HEADER + good + f"E2,{ref},10000,3250,2026-11-24T01:05:00+00:00,X\n", 3, "last_qty"),
        "dup.csv": (EXEC_HEADER + good + good, 3, "exec_id"),
    }
    before = row_counts()
    for name, (content, line, field) in broken.items():
        with pytest.raises(ExecutionImportRejected) as err:
            services.execution_reports_import(content=content, file=name)
        assert (err.value.detail["file"], err.value.detail["line"], err.value.detail["field"]) == (name, line, field)
        assert row_counts() == before, name


MODEL_HEADER = "model_code,model_name,provider,base_currency,effective_from,line_type,identifier,weight\n"
MODEL_GOOD = ("CORE,Core,Acme AM,USD,2026-12-01,instrument,US0378331005,0.95\n"
              "CORE,Core,Acme AM,USD,2026-12-01,cash,USD,0.05\n")


def test_broken_model_deliveries_are_refused_naming_line_and_field_and_change_nothing(ref, tmp_path):
    from accounts import services
    from accounts.exceptions import ModelFileError

    good = tmp_path / "good.csv"
    good.write_text(MODEL_HEADER + MODEL_GOOD)
    services.model_delivery_load(path=str(good))
    broken = {
        "latin1.csv": ((MODEL_HEADER + MODEL_GOOD.replace("Core,", "Cœur,")).encode("cp1252"), None, None),
        "utf16.csv": ((MODEL_HEADER + MODEL_GOOD).encode("utf-16"), None, None),
        "header.csv": (b"a,b,c\n" + MODEL_GOOD.encode(), 1, "header"),
        "weights.csv": ((MODEL_HEADER + MODEL_GOOD.replace("0.95", "0.90")).encode(), 2, "weight"),
        "huge.csv": ((MODEL_HEADER + MODEL_GOOD.replace("Core,", "C" * 200_000 + ",", 1)).encode(), 2, "row"),
        "columns.csv": ((MODEL_HEADER + MODEL_GOOD.replace("0.05", "0.05,extra")).encode(), 3, "row"),
        "truncated.csv": ((MODEL_HEADER + MODEL_GOOD)[:-25].encode(), 3, None),
        "binary.csv": (bytes(range(256)), None, None),
    }
    before = row_counts()
    for name, (data, line, field) in broken.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ModelFileError) as err:
            services.model_delivery_load(path=str(path))
        assert name in err.value.message, err.value.message
        if line is not None:
            assert err.value.detail["line"] == line, (name, err.value.detail)
        if field is not None:
            assert err.value.detail["field"] == field, (name, err.value.detail)
        assert row_counts() == before, name


def test_broken_sanctions_files_are_refused_naming_file_line_field_and_keep_the_active_list(tmp_path):
    from compliance import services
    from compliance.exceptions import WatchlistFormatError
    from compliance.models import WatchlistEntry, WatchlistSnapshot
    from tests.compliance.conftest import SDN, write_ofac

    active = services.watchlist_import(source="ofac", paths=write_ofac(tmp_path / "good"))
    entries = WatchlistEntry.objects.count()
    real_sdn = (SHARED_DATA / "sanctions" / "ofac" / "sdn.csv")
    cut_real = real_sdn.read_bytes()[:50_000].decode("latin-1") if real_sdn.exists() else SDN[:500]
    cases = {
        "wrong-type": SDN.replace('"individual","SDNT"', '"person","SDNT"'),
        "cut-mid-row": SDN[: SDN.index("NASSER") + 3],
        "cut-real-file": cut_real[: cut_real.rindex(",") + 1],
        "binary": "\x00\x01\x02" * 1000,
        "huge-name": SDN.replace("AEROCARIBBEAN AIRLINES", "A" * 300_000),
    }
    before = row_counts()
    for name, sdn in cases.items():
        with pytest.raises(WatchlistFormatError) as err:
            services.watchlist_import(source="ofac", paths=write_ofac(tmp_path / name, sdn=sdn))
        assert "sdn.csv" in err.value.file and err.value.field, (name, err.value.message)
        assert row_counts() == before, name
    assert list(WatchlistSnapshot.objects.filter(is_active=True)) == [active]
    assert WatchlistEntry.objects.count() == entries


def test_a_broken_rule_pack_directory_loads_nothing(tmp_path):
    from onboarding import services
    from onboarding.exceptions import RulePackError
    from onboarding.models import RulePack
    from onboarding.rules.packs import PACK_DIR

    services.rulepacks_load()
    loaded = RulePack.objects.count()
    assert loaded > 0
    cases = {
        "not-yaml.yaml": b"code: [unclosed\n",
        "binary.yaml": bytes(range(256)),
        "list.yaml": b"- 1\n- 2\n",
        "anchors.yaml": b'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
                        b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
        "python-tag.yaml": b"code: !!python/object/apply:os.system ['echo pwned']\n",
    }
    before = row_counts()
    for name, data in cases.items():
        directory = tmp_path / name.replace(".", "-")
        directory.mkdir()
        for good in sorted(PACK_DIR.glob("*.yaml")):  # the real packs plus one broken file
            (directory / good.name).write_bytes(good.read_bytes())
        (directory / name).write_bytes(data)
        with pytest.raises(RulePackError) as err:
            services.rulepacks_load(directory=directory)
        assert name in err.value.message, err.value.message
        assert row_counts() == before, name


def test_tax_form_capture_refuses_hostile_data_and_writes_nothing(db):
    from compliance.tax import services
    from compliance.tax.exceptions import TaxFormInvalid
    from tests.factories import FirmFactory, PersonFactory

    party = PersonFactory(firm=FirmFactory(home_jurisdiction="GB"))
    before = row_counts()
    for form_type, data in (("W-9; DROP TABLE x", {}), ("../../etc/passwd", {}), ("W-8BEN", ["not", "a", "dict"]),
                            ("W-8BEN", "x" * 100_000), ("CRS_CP", {"name": "x"})):
        with pytest.raises(TaxFormInvalid):
            services.tax_form_capture(party=party, form_type=form_type, data=data, signed_on=dt.date(2026, 1, 1))
        assert row_counts() == before, form_type
