"""The Celery task and the small commands."""
from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from compliance.tax import rulefiles, services
from compliance.tax.models import TaxForm, TaxFormStatus, TreatyRate
from compliance.tax.tasks import tax_expiry_sweep

from .factories import PersonFactory
from .samples import form

pytestmark = pytest.mark.django_db


def test_the_daily_task_expires_forms_and_is_safe_to_run_twice():
    party = PersonFactory()
    f = services.tax_form_capture(party=party, form_type="W8BEN", data=form("W8BEN"), signed_on=dt.date(2022, 3, 1),
                                  today=dt.date(2022, 4, 1))
    first = tax_expiry_sweep.delay("2026-01-01").get()
    assert first["expired"] == [f.pk]
    assert tax_expiry_sweep.delay("2026-01-01").get()["expired"] == []
    assert TaxForm.objects.get(pk=f.pk).status == TaxFormStatus.EXPIRED


def test_load_tax_rules_prints_json_counts():
    out = StringIO()
    call_command("load_tax_rules", "--json", stdout=out)
    counts = json.loads(out.getvalue())
    assert counts["treaty_rates"] == TreatyRate.objects.count() == len(rulefiles.treaties()["rows"])


def test_load_tax_rules_rejects_a_bad_file_and_changes_nothing(monkeypatch, tmp_path):
    bad = tmp_path / "treaties.yaml"
    bad.write_text("rows:\n  - {country: GB, income_type: dividends, article: '10', rate: abc, source: s, "
                   "effective_from: 2020-01-01}\n")
    monkeypatch.setattr(rulefiles, "treaties", lambda: rulefiles.load_treaties(bad))
    monkeypatch.setattr(rulefiles.treaties, "cache_clear", lambda: None, raising=False)
    with pytest.raises(CommandError, match="treaties.yaml: row 1: 'rate' is not a number"):
        call_command("load_tax_rules")
    assert not TreatyRate.objects.exists()


def test_expiry_sweep_command_prints_counts():
    out = StringIO()
    call_command("tax_expiry_sweep", "--today", "2026-01-01", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"expired": 0, "expiring": 0, "default_withholding_parties": 0}
    with pytest.raises(CommandError):
        call_command("tax_expiry_sweep", "--today", "yesterday")


def test_the_benchmark_prints_one_json_object_with_a_schema_valid_report(shared_data):
    out = StringIO()
    call_command("tax_benchmark", "--accounts", "40", "--xsd-dir", str(shared_data / "crs-xsd"), stdout=out)
    result = json.loads(out.getvalue())
    assert result["accounts"] == 40 and result["crs_schema_errors"] == 0 and result["crs_reported"] > 0
