"""Identifiers are checked with python-stdnum before they are stored."""
import pytest
from django.core.exceptions import ValidationError

from trading.reference.identifiers import is_valid, validate_bic, validate_isin, validate_sedol


def test_valid_identifiers_pass():
    assert is_valid("ISIN", "US0378331005")
    assert is_valid("CUSIP", "037833100")
    assert is_valid("SEDOL", "0263494")
    assert is_valid("FIGI", "BBG000B9XRY4")
    assert is_valid("BIC", "IRVTUS3N")


def test_an_isin_with_a_bad_check_digit_is_refused():
    with pytest.raises(ValidationError):
        validate_isin("US0378331006")


def test_lowercase_or_spaced_identifiers_are_refused_not_normalised():
    with pytest.raises(ValidationError):
        validate_sedol("026 3494")
    with pytest.raises(ValidationError):
        validate_bic("irvtus3n")
