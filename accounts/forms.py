"""Forms of the portal's account pages: open an account, add a custody account, record a deposit,
subscribe to a model. They collect and check input; the services in `accounts.services` decide
(the activation gate, the firm's approval policy, the custodian's markets)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from onboarding.forms import country_field

from .models import Custodian, CustodyAccount, ModelPortfolio


class CurrencyField(forms.CharField):
    """Three letters (ISO 4217), upper-cased."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("min_length", 3)
        kwargs.setdefault("help_text", "Three letters (ISO 4217), e.g. GBP, EUR, USD.")
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        cleaned = str(super().clean(value) or "").strip().upper()
        if cleaned and not cleaned.isalpha():
            raise forms.ValidationError("Use the three letters of the currency, e.g. GBP.")
        return cleaned


class AccountOpenForm(forms.Form):
    number = forms.CharField(label="Account number", max_length=40, help_text="Your firm's number for the account.")
    name = forms.CharField(label="Account name", max_length=200)
    base_currency = CurrencyField(label="Base currency")
    booking_centre = forms.ChoiceField(label="Booking centre", choices=[("onshore", "Onshore"), ("offshore", "Offshore")])
    booking_jurisdiction = country_field("Booked in", required=True)


class CustodyAccountForm(forms.Form):
    custodian = forms.ModelChoiceField(label="Custodian", queryset=Custodian.objects.none(),
                                       empty_label="— choose a custodian —")
    number = forms.CharField(label="Custody account number", max_length=60,
                             help_text="The number the custodian gave the account.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["custodian"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Custodian.objects.filter(is_active=True).order_by("name")
        field.label_from_instance = lambda c: f"{c.name} ({c.country})"


class DepositForm(forms.Form):
    custody_account = forms.ModelChoiceField(label="Paid into", queryset=CustodyAccount.objects.none(),
                                             empty_label=None)
    currency = CurrencyField(label="Currency")
    amount = forms.DecimalField(label="Amount", max_digits=24, decimal_places=2, min_value=Decimal("0.01"),
                                help_text="As received, e.g. 250000.00.")
    value_date = forms.DateField(label="Value date", widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="The day the money is available at the custodian.")
    external_ref = forms.CharField(label="Reference (optional)", max_length=100, required=False,
                                   help_text="The payment's reference, e.g. the client's SWIFT reference.")

    def __init__(self, *args: Any, account: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("currency", account.base_currency)
        kwargs["initial"].setdefault("value_date", timezone.localdate())
        super().__init__(*args, **kwargs)
        field = self.fields["custody_account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = account.custody_accounts.filter(is_active=True).select_related("custodian").order_by("pk")
        field.label_from_instance = lambda c: f"{c.custodian.name}, {c.number}"


class SubscribeForm(forms.Form):
    model = forms.ModelChoiceField(label="Model portfolio", queryset=ModelPortfolio.objects.none(),
                                   empty_label="— choose a model —")
    start_date = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="The rebalancer follows the model from this day.")
    follow_latest = forms.BooleanField(label="Follow the model's new versions as they are published", required=False,
                                       initial=True)

    def __init__(self, *args: Any, models: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("start_date", timezone.localdate())
        super().__init__(*args, **kwargs)
        field = self.fields["model"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = models
        field.label_from_instance = lambda m: f"{m.name} (version {m.version}, {m.provider})"
