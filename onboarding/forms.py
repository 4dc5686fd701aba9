"""Forms for the advisor portal. They only coerce types and say what the page asks for; the
services decide what is valid, and their errors (`MeridianError`) are put back next to the
field they name with `add_service_error`."""
from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms
from django.urls import reverse_lazy

from .exceptions import MeridianError
from .models import AddressKind, ClientType, ControlRole, DocumentType, IdentifierKind, PartyKind

ENTITY_TYPES = [(value, label) for value, label in ClientType.choices if value != ClientType.INDIVIDUAL]
PERSON_ID_KINDS = [(IdentifierKind.PASSPORT, "Passport"), (IdentifierKind.NATIONAL_ID, "National identity number")]
COUNTRY_HELP = "Two-letter ISO code, e.g. GB, US, DE"


def date_widget() -> forms.DateInput:
    """A native date picker; its value must be ISO whatever the locale's date format."""
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def country_choices() -> list[tuple[str, str]]:
    """Every ISO 3166-1 country by its name (the value stays the two-letter code)."""
    import pycountry

    return sorted(((c.alpha_2, getattr(c, "common_name", c.name)) for c in pycountry.countries), key=lambda c: c[1])


class CountryField(forms.ChoiceField):
    default_error_messages = {"invalid_choice": "%(value)s is not a country in the list: choose one by its name."}

    def to_python(self, value):
        return super().to_python(value).strip().upper()


def country_field(label: str, *, required: bool = False, **kwargs: Any) -> forms.ChoiceField:
    """A country chosen from a list of names (type the first letters to jump), never a code typed
    by hand."""
    kwargs.pop("attrs", None)
    return CountryField(
        label=label, required=required, help_text=kwargs.pop("help_text", ""),
        choices=lambda: [("", "— choose a country —"), *country_choices()],
        widget=forms.Select(attrs={"class": "country", "autocomplete": "country"}), **kwargs,
    )


class CountriesField(forms.MultipleChoiceField):
    """Several countries from the list of names (nationalities)."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("help_text", "Choose every nationality (hold Ctrl, or Cmd on a Mac, to choose several).")
        super().__init__(choices=country_choices, widget=forms.SelectMultiple(attrs={"size": 5, "class": "countries"}),
                         **kwargs)

    def prepare_value(self, value):
        return split_countries(value) if isinstance(value, str) else value

    def to_python(self, value):
        return split_countries(value if isinstance(value, (list, tuple)) else [value] if value else [])


def live_check(form: forms.Form, name: str, *, check: str = "", check_field: str = "", country_field: str = "") -> None:
    """Ask the server to validate a field when it changes (htmx); the answer lands in the
    field's polite live region. Without JavaScript the form is validated on submit."""
    if name not in form.fields:
        return
    include = [f"[name='{other}']" for other in (check_field, country_field) if other and other in form.fields]
    params = {"field": name, "country_field": country_field, "check": check, "check_field": check_field}
    form.fields[name].widget.attrs.update({
        "hx-get": reverse_lazy("portal:validate"),
        # Run when the field changes, and again when a field it depends on changes, so a message
        # clears as soon as what it asked for is filled in.
        "hx-trigger": ", ".join(["change"] + [f"change from:[name='{other}']" for other in (check_field, country_field)
                                              if other and other in form.fields]),
        "hx-target": f"#live-{name}",
        "hx-include": ", ".join(include) or "this",
        "hx-vals": json.dumps({k: v for k, v in params.items() if v}),
        "hx-sync": "this:replace",
        "aria-describedby": f"id_{name}_helptext id_{name}_error live-{name}",
        "data-live": "1",
    })


def add_service_error(form: forms.Form, exc: MeridianError, aliases: dict[str, str] | None = None) -> None:
    """Attach a service error to the field it is about. Services write messages as
    "field: what is wrong" and put the field in `detail`; `aliases` maps the service's field
    names to this form's. Anything unplaceable becomes a form-wide error."""
    aliases = aliases or {}
    head, sep, rest = exc.message.partition(": ")
    candidates: list[tuple[str, str]] = []
    if sep:
        candidates.append((head, rest))
    if isinstance(exc.detail, dict):
        candidates.extend((key, exc.message) for key in exc.detail)
    for name, message in candidates:
        target = aliases.get(name, name)
        if target in form.fields:
            form.add_error(target, message)
            return
    form.add_error(None, exc.message)


def split_countries(value: str | list[str]) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(part).strip().upper() for part in value if str(part).strip()]
    return [part.strip().upper() for part in (value or "").replace(";", ",").split(",") if part.strip()]


class PartyForm(forms.Form):
    """Step 1: the client's own data, its main address and identifiers. Fields for the other
    kind of party are ignored."""

    # Booking jurisdiction (only when the case is created)
    jurisdiction = country_field("Booking jurisdiction", help_text="Whose rules apply to this case; defaults to your firm's home")
    # Entity
    client_type = forms.ChoiceField(label="Type of entity", choices=ENTITY_TYPES, required=False)
    legal_name = forms.CharField(label="Legal name", required=False, max_length=300)
    date_of_incorporation = forms.DateField(
        label="Date of incorporation", required=False, widget=date_widget()
    )
    country_of_incorporation = country_field("Country of incorporation")
    is_listed = forms.BooleanField(label="Listed on a recognised exchange", required=False)
    is_regulated_fi = forms.BooleanField(label="Regulated financial institution", required=False)
    # Person
    given_names = forms.CharField(label="Given names", required=False, max_length=200)
    family_name = forms.CharField(label="Family name", required=False, max_length=200)
    date_of_birth = forms.DateField(label="Date of birth", required=False, widget=date_widget())
    nationalities = CountriesField(label="Nationalities", required=False)
    place_of_birth_country = country_field("Country of birth")
    is_pep = forms.BooleanField(label="Politically exposed person", required=False)
    us_lawful_permanent_resident = forms.BooleanField(
        label="Holds a US green card", required=False,
        help_text="A US lawful permanent resident is a US person for tax wherever they live (gives a Form W-9)")
    us_substantial_presence = forms.BooleanField(
        label="Meets the US substantial presence test", required=False,
        help_text="183 weighted days in the US over three years (IRC 7701(b)(3)): a US person for tax")
    # Both
    residence_country = country_field("Country of residence")
    email = forms.EmailField(label="E-mail", required=False)
    phone = forms.CharField(label="Phone", required=False, max_length=40)
    source_of_wealth = forms.CharField(label="Source of wealth", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    source_of_funds = forms.CharField(label="Source of funds", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # Main address
    address_line1 = forms.CharField(label="Address line 1", required=False, max_length=200)
    address_line2 = forms.CharField(label="Address line 2", required=False, max_length=200)
    address_city = forms.CharField(label="City", required=False, max_length=100)
    address_region = forms.CharField(label="Region / state", required=False, max_length=10,
                                     help_text="ISO 3166-2, e.g. US-NY (optional)")
    address_postal_code = forms.CharField(label="Postal code", required=False, max_length=20)
    address_country = country_field("Address country")
    # Identifiers
    id_kind = forms.ChoiceField(label="Identity document", choices=PERSON_ID_KINDS, required=False)
    id_value = forms.CharField(label="Number", required=False, max_length=64)
    id_country = country_field("Issuing country")
    registration_number = forms.CharField(label="Company registration number", required=False, max_length=64)
    lei = forms.CharField(label="LEI", required=False, max_length=20,
                          help_text="20-character Legal Entity Identifier (optional)")
    tax_id = forms.CharField(label="Tax identification number", required=False, max_length=64)
    tax_id_country = country_field("Tax id issued by")

    PERSON_FIELDS = ("given_names", "family_name", "date_of_birth", "place_of_birth_country", "is_pep",
                     "us_lawful_permanent_resident", "us_substantial_presence")
    ENTITY_FIELDS = ("legal_name", "date_of_incorporation", "country_of_incorporation", "is_listed", "is_regulated_fi")
    COMMON_FIELDS = ("residence_country", "email", "phone", "source_of_wealth", "source_of_funds")
    # Names services use in their messages -> this form's fields
    ALIASES: ClassVar[dict[str, str | None]] = {
        "address country": "address_country", "address": "address_line1", "region": "address_region",
        "passport": "id_value", "national_id": "id_value", "passport country": "id_country",
        "national_id country": "id_country", "registration": "registration_number",
        "registration country": "country_of_incorporation", "tax_id country": "tax_id_country",
        "jurisdiction": "jurisdiction", "kind": None,
    }

    def __init__(self, *args: Any, kind: str, creating: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if not creating:
            del self.fields["jurisdiction"]
        drop = self.ENTITY_FIELDS + ("client_type", "registration_number", "lei") if kind == PartyKind.PERSON else (
            self.PERSON_FIELDS + ("id_kind", "id_value", "id_country", "nationalities")
        )
        for name in drop:
            self.fields.pop(name, None)
        live_check(self, "lei", check="lei")
        live_check(self, "tax_id", check="tax_id", country_field="tax_id_country")
        live_check(self, "id_value", check_field="id_kind", country_field="id_country")
        live_check(self, "registration_number", check="registration", country_field="country_of_incorporation")

    @property
    def address_kind(self) -> str:
        return AddressKind.RESIDENTIAL if self.kind == PartyKind.PERSON else AddressKind.REGISTERED

    def party_data(self) -> dict[str, Any]:
        """The keyword arguments for party_create / party_update."""
        names = (self.PERSON_FIELDS if self.kind == PartyKind.PERSON else self.ENTITY_FIELDS) + self.COMMON_FIELDS
        data = {name: self.cleaned_data.get(name) for name in names}
        for name in ("date_of_birth", "date_of_incorporation"):
            if name in data and data[name] is None:
                data[name] = None
        if self.kind == PartyKind.PERSON:
            data["nationalities"] = split_countries(self.cleaned_data.get("nationalities", ""))
        for key, value in list(data.items()):
            if isinstance(value, str):
                data[key] = value.strip()
        return data

    def address_data(self) -> dict[str, str] | None:
        if not any(self.cleaned_data.get(f"address_{part}") for part in ("line1", "city", "country")):
            return None
        return {
            "kind": self.address_kind,
            "line1": self.cleaned_data["address_line1"], "line2": self.cleaned_data["address_line2"],
            "city": self.cleaned_data["address_city"], "region": self.cleaned_data["address_region"],
            "postal_code": self.cleaned_data["address_postal_code"], "country": self.cleaned_data["address_country"],
        }

    def identifiers(self) -> list[tuple[str, dict[str, str]]]:
        """(form field, identifier kwargs) for each identifier given."""
        out: list[tuple[str, dict[str, str]]] = []
        data = self.cleaned_data
        own_country = (data.get("residence_country") or data.get("country_of_incorporation") or "").strip()
        if self.kind == PartyKind.PERSON and data.get("id_value"):
            out.append(("id_value", {"kind": data.get("id_kind") or IdentifierKind.PASSPORT,
                                     "value": data["id_value"], "country": data.get("id_country") or own_country}))
        if self.kind == PartyKind.ENTITY:
            if data.get("registration_number"):
                country = data.get("country_of_incorporation") or own_country
                out.append(("registration_number", {"kind": IdentifierKind.REGISTRATION,
                                                     "value": data["registration_number"], "country": country}))
            if data.get("lei"):
                out.append(("lei", {"kind": IdentifierKind.LEI, "value": data["lei"], "country": ""}))
        if data.get("tax_id"):
            out.append(("tax_id", {"kind": IdentifierKind.TAX_ID, "value": data["tax_id"],
                                   "country": data.get("tax_id_country") or own_country}))
        return out


class OwnerForm(forms.Form):
    """Step 2: one owner or controller of an entity in the structure: a party already known to
    the firm, or a new person or entity."""

    owned = forms.TypedChoiceField(label="Owns or controls", coerce=int)
    existing = forms.TypedChoiceField(label="Existing party", coerce=int, required=False, empty_value=None)
    kind = forms.ChoiceField(label="New party is a", choices=PartyKind.choices, initial=PartyKind.PERSON, required=False,
                             widget=forms.RadioSelect)
    given_names = forms.CharField(label="Given names", required=False, max_length=200)
    family_name = forms.CharField(label="Family name", required=False, max_length=200)
    date_of_birth = forms.DateField(label="Date of birth", required=False, widget=date_widget())
    nationalities = CountriesField(label="Nationalities", required=False)
    legal_name = forms.CharField(label="Legal name (entity)", required=False, max_length=300)
    client_type = forms.ChoiceField(label="Type of entity", choices=ENTITY_TYPES, required=False)
    country_of_incorporation = country_field("Country of incorporation (entity)")
    residence_country = country_field("Country of residence (person)")
    address_line1 = forms.CharField(label="Residential address", required=False, max_length=200)
    address_city = forms.CharField(label="City", required=False, max_length=100)
    address_country = country_field("Address country")
    role = forms.ChoiceField(label="Role", choices=ControlRole.choices, initial=ControlRole.SHAREHOLDER)
    percentage = forms.DecimalField(label="Percentage held", required=False, min_value=0, max_value=100,
                                    decimal_places=4, initial=0, widget=forms.NumberInput(attrs={"step": "0.01"}))

    ALIASES: ClassVar[dict[str, str | None]] = {"owner": "existing", "owned": "owned", "address country": "address_country",
               "address": "address_line1", "legal_name": "legal_name"}

    def __init__(self, *args: Any, owned_choices: list[tuple[int, str]], existing_choices: list[tuple[int, str]],
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["owned"].choices = owned_choices
        self.fields["existing"].choices = [("", "— a new party (fill in below) —"), *existing_choices]

    def new_party_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data.get("kind") or PartyKind.PERSON
        if kind == PartyKind.PERSON:
            fields = {
                "given_names": data["given_names"].strip(), "family_name": data["family_name"].strip(),
                "date_of_birth": data["date_of_birth"], "residence_country": data["residence_country"],
                "nationalities": split_countries(data["nationalities"]),
            }
            return {"kind": kind, "client_type": ClientType.INDIVIDUAL, **fields}
        return {"kind": kind, "client_type": data.get("client_type") or ClientType.CORPORATION,
                "legal_name": data["legal_name"].strip(), "country_of_incorporation": data["country_of_incorporation"]}

    def address_data(self) -> dict[str, str] | None:
        data = self.cleaned_data
        if not (data.get("address_line1") or data.get("address_city")):
            return None
        kind = AddressKind.RESIDENTIAL if (data.get("kind") or PartyKind.PERSON) == PartyKind.PERSON else AddressKind.REGISTERED
        return {"kind": kind, "line1": data["address_line1"], "city": data["address_city"],
                "country": data.get("address_country") or data.get("residence_country") or data.get("country_of_incorporation")}


class DocumentForm(forms.Form):
    """Step 3: a document about the client or one of its owners. The service checks the type by
    content and the size."""

    party = forms.TypedChoiceField(label="About", coerce=int)
    doc_type = forms.ChoiceField(label="Type of document", choices=DocumentType.choices)
    file = forms.FileField(label="File", help_text="PDF, PNG or JPEG, up to 10 MB",
                           widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}))
    expires_on = forms.DateField(label="Expires on", required=False, widget=date_widget())

    ALIASES: ClassVar[dict[str, str | None]] = {"file": "file", "doc_type": "doc_type"}

    def __init__(self, *args: Any, party_choices: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["party"].choices = party_choices


class TaxResidenceForm(forms.Form):
    """Step 4: a tax residence of the client, with its TIN or the reason there is none."""

    party = forms.TypedChoiceField(label="Whose tax residence", coerce=int)
    country = country_field("Country of tax residence", required=True)
    tin = forms.CharField(label="TIN", required=False, max_length=64)
    no_tin_reason = forms.ChoiceField(
        label="If there is no TIN, why", required=False,
        choices=[("", "—"), ("A", "A: the country does not issue TINs"), ("B", "B: unable to obtain a TIN"),
                 ("C", "C: no TIN required")],
    )
    no_tin_explanation = forms.CharField(label="Explanation (reason B)", required=False,
                                         widget=forms.Textarea(attrs={"rows": 2}))

    ALIASES: ClassVar[dict[str, str | None]] = {"tax residence": "country", "tin country": "country"}

    def __init__(self, *args: Any, party_choices: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["party"].choices = party_choices
        live_check(self, "tin", check="tax_id", country_field="country")


class WithdrawForm(forms.Form):
    reason = forms.CharField(label="Why is the case withdrawn?", required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _choices(values: list[str]) -> list[tuple[str, str]]:
    from .labels import humanize

    return [("", "—"), *[(value, humanize(value)) for value in values]]


class TaxFormCaptureForm(forms.Form):
    """Step 4: a tax self-certification as the client signed it (W-9, W-8BEN, W-8BEN-E, CRS).
    Fields start from the party's data; the tax service validates what was signed."""

    form_type = forms.ChoiceField(label="Form")
    name = forms.CharField(label="Name on the form", max_length=300)
    address_line1 = forms.CharField(label="Permanent address", required=False, max_length=200)
    address_city = forms.CharField(label="City", required=False, max_length=100)
    address_postal_code = forms.CharField(label="Postal code", required=False, max_length=20)
    address_country = country_field("Address country")
    date_of_birth = forms.DateField(label="Date of birth", required=False, widget=date_widget())
    citizenship = country_field("Citizenship (W-8BEN)")
    country_of_incorporation = country_field("Country of incorporation")
    us_tin = forms.CharField(label="US TIN (W-9)", required=False, max_length=20)
    tax_classification = forms.ChoiceField(
        label="Federal tax classification (W-9)", required=False,
        choices=_choices(["individual", "c_corporation", "s_corporation", "partnership", "trust_estate", "llc"]),
    )
    foreign_tin = forms.CharField(label="Foreign TIN (W-8)", required=False, max_length=64)
    foreign_tin_not_required = forms.BooleanField(label="A foreign TIN is not legally required", required=False)
    chapter3_status = forms.ChoiceField(label="Chapter 3 status (W-8BEN-E)", required=False)
    chapter4_status = forms.ChoiceField(label="Chapter 4 (FATCA) status (W-8BEN-E)", required=False)
    giin = forms.CharField(label="GIIN", required=False, max_length=19)
    no_substantial_us_owners = forms.BooleanField(label="No substantial US owners (passive NFFE)", required=False)
    crs_classification = forms.ChoiceField(label="CRS classification (entity)", required=False)
    controlling_persons = forms.MultipleChoiceField(
        label="Controlling persons on the form (passive NFE)", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="From the ownership step; untick anyone the client's form does not list.",
    )
    signer_name = forms.CharField(label="Signed by", max_length=200)
    signed_on = forms.DateField(label="Signed on", widget=date_widget())
    certified = forms.BooleanField(label="Signed under penalties of perjury (W-9 / W-8)", required=False)

    # The tax service's field names -> this form's
    ALIASES: ClassVar[dict[str, str | None]] = {
        "permanent_address": "address_line1", "residence_address": "address_line1", "address": "address_line1",
        "tin": "us_tin", "tax_residences": None,
    }

    def __init__(self, *args: Any, form_types: list[tuple[str, str]], statuses: dict[str, list[str]],
                 controlling_persons: list[dict[str, Any]] | None = None, **kwargs: Any):
        self.controlling_people = {str(p["party"]): p for p in controlling_persons or []}
        kwargs.setdefault("initial", {})["controlling_persons"] = list(self.controlling_people)
        super().__init__(*args, **kwargs)
        self.fields["controlling_persons"].choices = [
            (key, f"{p['name']} ({p['role_label']})") for key, p in self.controlling_people.items()]
        self.fields["form_type"].choices = form_types
        self.fields["chapter3_status"].choices = _choices(statuses.get("chapter3_beneficial_owner", []))
        self.fields["chapter4_status"].choices = _choices(statuses.get("chapter4", []))
        self.fields["crs_classification"].choices = _choices(statuses.get("crs_entity", []))

    def field_for(self, issue_field: str) -> str | None:
        """The form field a tax validation issue ("permanent_address.line1", "signed_on") is about."""
        head = issue_field.split("[")[0].split(".")[0]
        tail = issue_field.rsplit(".", 1)[-1] if "." in issue_field else ""
        if head in ("permanent_address", "residence_address", "address") and tail in ("city", "country"):
            return f"address_{tail}"
        name = self.ALIASES.get(head, head)
        return name if name in self.fields else None

    def form_data(self, tax_residences: list[dict[str, str]]) -> dict[str, Any]:
        """The form's content in the tax service's shape."""
        d = self.cleaned_data
        address = {"line1": d["address_line1"], "city": d["address_city"], "postal_code": d["address_postal_code"],
                   "country": (d["address_country"] or "").upper()}
        data: dict[str, Any] = {"name": d["name"], "signer_name": d["signer_name"], "certified": d["certified"]}
        form_type = d["form_type"]
        if form_type == "W9":
            data.update({"tax_classification": d["tax_classification"], "address": address, "tin": d["us_tin"]})
        elif form_type in ("W8BEN", "W8BENE"):
            data.update({"permanent_address": address, "foreign_tin": d["foreign_tin"],
                         "foreign_tin_not_required": d["foreign_tin_not_required"]})
            if form_type == "W8BEN":
                data.update({"citizenship": (d["citizenship"] or "").upper(),
                             "date_of_birth": d["date_of_birth"].isoformat() if d["date_of_birth"] else ""})
            else:
                data.update({"country_of_incorporation": (d["country_of_incorporation"] or "").upper(),
                             "chapter3_status": d["chapter3_status"], "chapter4_status": d["chapter4_status"],
                             "giin": d["giin"], "no_substantial_us_owners": d["no_substantial_us_owners"]})
        elif form_type == "CRS_IND":
            data.update({"residence_address": address, "tax_residences": tax_residences,
                         "date_of_birth": d["date_of_birth"].isoformat() if d["date_of_birth"] else ""})
        elif form_type == "CRS_ENT":
            data.update({"address": address, "tax_residences": tax_residences,
                         "crs_classification": d["crs_classification"]})
            if d["crs_classification"] == "passive_nfe":
                data["controlling_persons"] = [
                    {k: v for k, v in self.controlling_people[key].items() if k in ("name", "role", "tax_residences")}
                    for key in d["controlling_persons"] if key in self.controlling_people]
        return data
