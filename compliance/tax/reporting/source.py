"""Where the report builders' dataclasses come from.

- `holder_from_party` maps an onboarding party (addresses, tax residences, controlling persons,
  its tax forms) to the book's Person / Organisation.
- Balances and payments come from `AccountFigures` rows: by default from the accounts app's
  ledger (`figures_from_accounts_app`, the one function that reads it), or from a JSON file
  (`--figures`), or a whole book is read from `--book`.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db.models import Prefetch, Sum

from onboarding.exceptions import MeridianError
from onboarding.models import Address, Party, PartyKind

from ..exceptions import ReportError
from ..models import ReportingInstitution, TaxForm, TaxFormStatus
from ..selectors import controlling_persons
from .book import Account, ExceptionRow, Organisation, Payment, Person, PostalAddress, ReportingFI, Residence


@dataclass(frozen=True)
class AccountFigures:
    number: str
    party_id: int
    balance: Decimal
    currency: str
    closed: bool = False
    payments: tuple[Payment, ...] = field(default_factory=tuple)
    us_person: bool = False  # the ledger's own flag (accounts.Account.is_us_person)


def fi_from_institution(inst: ReportingInstitution) -> ReportingFI:
    return ReportingFI(code=inst.code, name=inst.name, country=inst.country, city=inst.city, tin=inst.tin,
                       giin=inst.giin, street=inst.address_line, post_code=inst.postal_code)


def institution(ref: str) -> ReportingInstitution:
    qs = ReportingInstitution.objects.all()
    found = qs.filter(code=ref).first() or (qs.filter(pk=int(ref)).first() if ref.isdigit() else None)
    if found is None:
        raise ReportError(f"no reporting institution {ref!r}", detail={"reporting_fi": ref})
    return found


ADDRESS_PREFERENCE = ["residential", "registered", "business", "mailing"]


def _address(party: Party) -> PostalAddress:
    addresses = sorted(party.addresses.all(), key=lambda a: ADDRESS_PREFERENCE.index(a.kind)
                       if a.kind in ADDRESS_PREFERENCE else 9)
    if not addresses:
        return PostalAddress(country=party.residence_country or party.country_of_incorporation)
    a: Address = addresses[0]
    street = ", ".join(x for x in (a.line1, a.line2) if x)
    return PostalAddress(country=a.country, city=a.city, street=street, post_code=a.postal_code)


def _residences(party: Party) -> tuple[Residence, ...]:
    rows = tuple(Residence(country=t.country, tin=t.tin, no_tin_reason=t.no_tin_reason,
                           explanation=t.no_tin_explanation) for t in party.tax_residences.all())
    if rows:
        return rows
    country = party.residence_country or party.country_of_incorporation
    return (Residence(country=country),) if country else ()


def _person(party: Party, role: str = "") -> Person:
    us_tin = next((t.tin for t in party.tax_residences.all() if t.country == "US" and t.tin), "")
    return Person(first_name=party.given_names, last_name=party.family_name, residences=_residences(party),
                  address=_address(party), birth_date=party.date_of_birth,
                  birth_country=party.place_of_birth_country, nationalities=tuple(party.nationalities or ()),
                  us_tin=us_tin, role=role)


def _current_form(party: Party, form_types: set[str]) -> TaxForm | None:
    forms = [f for f in party.tax_forms.all() if f.form_type in form_types and f.status == TaxFormStatus.VALID]
    return max(forms, key=lambda f: (f.signed_on or dt.date.min, f.pk)) if forms else None


def holder_from_party(party: Party) -> tuple[Person | Organisation, str, bool]:
    """(holder, US form on file, documented as a US person)."""
    us_form = _current_form(party, {"W9", "W8BEN", "W8BENE", "W8IMY", "W8ECI"})
    form_type = us_form.form_type if us_form else ""
    if party.kind == PartyKind.PERSON:
        return _person(party), form_type, form_type == "W9"
    crs_form = _current_form(party, {"CRS_ENT"})
    classification = (crs_form.data.get("crs_classification") if crs_form else "") or "active_nfe"
    owners = []
    if us_form and us_form.form_type == "W8BENE":
        owners = [Person(first_name=o.get("name", "").split(" ")[0], last_name=o.get("name", "").split(" ")[-1],
                         residences=(Residence(country="US", tin=o.get("tin", "")),),
                         address=PostalAddress(country="US", free=str(o.get("address", "")) or "United States"),
                         us_tin=o.get("tin", ""))
                  for o in us_form.data.get("substantial_us_owners", [])]
    org = Organisation(
        name=party.legal_name, residences=_residences(party), address=_address(party),
        crs_classification=classification, chapter4_status=us_form.chapter4_status if us_form else "",
        giin=str((us_form.data if us_form else {}).get("giin", "")),
        controlling_persons=tuple(_person(p, role) for p, role in controlling_persons(party)),
        substantial_us_owners=tuple(owners),
    )
    return org, form_type, form_type == "W9"


def book_from_figures(figures: list[AccountFigures]) -> list[Account]:
    parties = {
        p.pk: p
        for p in Party.objects.filter(pk__in={f.party_id for f in figures}).prefetch_related(
            "addresses", "tax_residences", Prefetch("tax_forms", queryset=TaxForm.objects.all()))
    }
    accounts = []
    for f in figures:
        party = parties.get(f.party_id)
        if party is None:
            raise ReportError(f"account {f.number}: no party {f.party_id}", detail={"account": f.number})
        holder, us_form, us_person = holder_from_party(party)
        accounts.append(Account(number=f.number, holder=holder, balance=f.balance, currency=f.currency,
                                payments=f.payments, closed=f.closed, us_person=us_person or f.us_person,
                                us_form=us_form, undocumented=not us_form))
    return accounts


def load_figures(path: Path) -> list[AccountFigures]:
    """A JSON list of {account_number, party_id, balance, currency, closed?, payments?}; a bad
    file is rejected whole, naming the row and field."""
    name = Path(path).name
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{name}: cannot read: {exc}", detail={"file": name}) from exc
    if not isinstance(rows, list):
        raise ReportError(f"{name}: must be a list of accounts", detail={"file": name})
    figures = []
    for i, row in enumerate(rows):
        where = f"[{i}]"
        try:
            payments = tuple(
                Payment(type=p["type"], amount=Decimal(str(p["amount"])), currency=p["currency"],
                        withheld=Decimal(str(p.get("withheld", "0"))),
                        withholding_rate=Decimal(str(p["withholding_rate"])) if "withholding_rate" in p else None)
                for p in row.get("payments", [])
            )
            figures.append(AccountFigures(number=str(row["account_number"]), party_id=int(row["party_id"]),
                                          balance=Decimal(str(row["balance"])), currency=str(row["currency"]).upper(),
                                          closed=bool(row.get("closed", False)), payments=payments))
        except KeyError as exc:
            raise ReportError(f"{name}: {where}: missing field {exc.args[0]!r}", detail={"file": name, "where": where}) from exc
        except (InvalidOperation, ValueError, TypeError) as exc:
            raise ReportError(f"{name}: {where}: bad value ({exc})", detail={"file": name, "where": where}) from exc
    return figures


def figures_from_accounts_app(*, year: int, institution: ReportingInstitution
                              ) -> tuple[list[AccountFigures], list[ExceptionRow]]:
    """ADAPTER to the accounts app (the one place this app reads it): accounts booked in the
    institution's jurisdiction (and, when the institution names firms, of those firms) that were
    open at some time in `year`; the balance at year end (or at closure) valued in the account's
    base currency by `accounts.selectors.valuation`; the year's payments from the cash ledger in
    one grouped query: dividends (CRS501, with withholding), interest (CRS502), gross proceeds
    of sales (CRS503). An account that cannot be valued goes to the exceptions report."""
    from accounts import selectors as account_selectors
    from accounts.models import Account as LedgerAccount
    from accounts.models import CashPurpose, LegType, Movement, TransactionKind

    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    qs = LedgerAccount.objects.filter(booking_jurisdiction=institution.country).exclude(status="pending")
    qs = qs.exclude(opened_at__date__gt=end).exclude(closed_at__date__lt=start)
    firm_ids = list(institution.firms.values_list("pk", flat=True))
    if firm_ids:
        qs = qs.filter(firm_id__in=firm_ids)
    accounts = list(qs.order_by("number"))
    ids = [a.pk for a in accounts]
    income: dict[int, dict[tuple[str, str], Decimal]] = {}
    for row in (Movement.objects.filter(account_id__in=ids, leg=LegType.CASH, trade_date__range=(start, end),
                                        cash_purpose__in=[CashPurpose.DIVIDEND, CashPurpose.WITHHOLDING,
                                                          CashPurpose.INTEREST])
                .values("account_id", "currency", "cash_purpose").annotate(total=Sum("amount")).order_by()):
        income.setdefault(row["account_id"], {})[(row["cash_purpose"], row["currency"])] = row["total"]
    for row in (Movement.objects.filter(account_id__in=ids, leg=LegType.CASH, trade_date__range=(start, end),
                                        cash_purpose=CashPurpose.PRINCIPAL, amount__gt=0,
                                        transaction__kind__in=[TransactionKind.SELL, TransactionKind.SELL_SHORT])
                .values("account_id", "currency").annotate(total=Sum("amount")).order_by()):
        income.setdefault(row["account_id"], {})[("proceeds", row["currency"])] = row["total"]

    figures, problems = [], []
    for account in accounts:
        closed = bool(account.closed_at and account.closed_at.date() <= end)
        on = account.closed_at.date() if closed else end
        try:
            balance = account_selectors.valuation(account=account, on=on).total_base
        except MeridianError as exc:
            problems.append(ExceptionRow(account.number, str(account.owner), "valuation_failed",
                                         f"cannot value the account on {on}: {exc.message}"))
            continue
        totals = income.get(account.pk, {})
        payments = []
        for (purpose, ccy), amount in sorted(totals.items()):
            if purpose == CashPurpose.DIVIDEND:
                withheld = -totals.get((CashPurpose.WITHHOLDING, ccy), Decimal(0))
                rate = (withheld / amount * 100).quantize(Decimal("0.01")) if amount else None
                payments.append(Payment("CRS501", amount, ccy, withheld=withheld, withholding_rate=rate))
            elif purpose == CashPurpose.INTEREST and amount > 0:
                payments.append(Payment("CRS502", amount, ccy))
            elif purpose == "proceeds":
                payments.append(Payment("CRS503", amount, ccy))
        figures.append(AccountFigures(number=account.number, party_id=account.owner_id, balance=balance,
                                      currency=account.base_currency, closed=closed, payments=tuple(payments),
                                      us_person=account.is_us_person))
    return figures, problems
