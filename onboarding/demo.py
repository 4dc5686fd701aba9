"""Demo data for `make run`: firms, users of each role, clients in several jurisdictions at
different stages. Other apps add theirs by registering a seed step and/or an after-approval
step with `register_demo` in their AppConfig.ready() (onboarding never imports them); the
`seed_demo` command runs onboarding's seed, then every registered seed, approves the cases,
then runs every registered after-approval step, all in registration (INSTALLED_APPS) order."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from . import services
from .models import Firm, Party, Role, User
from .samples import pdf_bytes

DEMO_PASSWORD = "meridian-demo"
PDF = pdf_bytes("Meridian demo document")


@dataclass
class DemoContext:
    firms: dict[str, Firm] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    parties: dict[str, Party] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoStep:
    """One app's demo data: `seed(context)` runs before the cases are approved,
    `after_approval(context)` after (and on every later run: it must find its own rows)."""

    app: str
    seed: Callable[[DemoContext], None] | None = None
    after_approval: Callable[[DemoContext], None] | None = None


_DEMO_STEPS: dict[str, DemoStep] = {}


def register_demo(app: str, *, seed: Callable[[DemoContext], None] | None = None,
                  after_approval: Callable[[DemoContext], None] | None = None) -> None:
    """Called by an upper app's AppConfig.ready(): its demo steps (registering again replaces them)."""
    if seed is None and after_approval is None:
        raise ValueError(f"{app}: a demo registration needs a seed or an after_approval step")
    _DEMO_STEPS[app] = DemoStep(app=app, seed=seed, after_approval=after_approval)


def demo_steps() -> list[DemoStep]:
    """The registered steps in registration order (AppConfig.ready() runs in INSTALLED_APPS order)."""
    return list(_DEMO_STEPS.values())


def _user(username: str, *, firm: Firm | None, role: str, staff: bool = False, superuser: bool = False) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"firm": firm, "role": role, "is_staff": staff or superuser,
                                     "is_superuser": superuser, "email": f"{username}@example.com"}
    )
    if created:
        user.password = _demo_password_hash()
        user.save()
    return user


_HASHED: list[str] = []


def _demo_password_hash() -> str:
    """The published demo password hashed once for every demo user (a hash costs about a second)."""
    if not _HASHED:
        from django.contrib.auth.hashers import make_password

        _HASHED.append(make_password(DEMO_PASSWORD))
    return _HASHED[0]


def _docs(party: Party, actor: User, *types: str) -> None:
    for doc_type in types:
        services.document_add(party=party, actor=actor, doc_type=doc_type, content=PDF, original_name=f"{doc_type}.pdf")


def _person(firm: Firm, actor: User, *, given: str, family: str, country: str, dob: str, tin: str | None = None,
            passport: str = "P1234567", complete: bool = True, **extra: Any) -> Party:
    party = services.party_create(firm=firm, actor=actor, kind="person", given_names=given, family_name=family,
                                  date_of_birth=dob, residence_country=country, nationalities=[country], **extra)
    if not complete:
        return party
    services.party_add_address(party=party, actor=actor, kind="residential", line1="1 Demo Street", city="Capital",
                               country=country)
    services.party_add_identifier(party=party, actor=actor, kind="passport", country=country, value=passport)
    if tin:
        services.party_add_identifier(party=party, actor=actor, kind="tax_id", country=country, value=tin)
        services.party_set_tax_residence(party=party, actor=actor, country=country, tin=tin)
    else:
        services.party_set_tax_residence(party=party, actor=actor, country=country, no_tin_reason="A")
    _docs(party, actor, "passport", "utility_bill")
    return party


def _approve_later(ctx: DemoContext, case, officer: User) -> None:
    """Approvals wait until every app has added its data (tax forms, screening)."""
    ctx.extra.setdefault("approve", []).append((case.pk, officer.pk))


def finish(ctx: DemoContext) -> list[str]:
    """Approve the cases meant to be approved; report any that still lack something."""
    from .exceptions import MeridianError
    from .models import OnboardingCase

    problems = []
    for case_id, officer_id in ctx.extra.get("approve", []):
        case = OnboardingCase.objects.get(pk=case_id)
        try:
            services.case_approve(case=case, actor=User.objects.get(pk=officer_id))
        except MeridianError as exc:
            problems.append(f"case {case_id} ({case.party}): {exc.message}: "
                            + "; ".join(item.get("reason", "") for item in (exc.detail or []) if isinstance(item, dict)))
    return problems


@transaction.atomic
def seed(context: DemoContext | None = None) -> DemoContext:
    ctx = context or DemoContext()
    if Firm.objects.filter(name="Thames Wealth Partners").exists():
        ctx.extra["already_seeded"] = True
        return ctx
    thames = Firm.objects.create(name="Thames Wealth Partners", kind="ria", home_jurisdiction="GB")
    alpen = Firm.objects.create(name="Alpenrose Family Office", kind="family_office", home_jurisdiction="CH")
    hudson = Firm.objects.create(name="Hudson Brokerage", kind="broker_dealer", home_jurisdiction="US")
    ctx.firms.update(thames=thames, alpen=alpen, hudson=hudson)
    ctx.users["admin"] = _user("admin", firm=None, role=Role.COMPLIANCE_OFFICER, superuser=True)
    officer = ctx.users["officer"] = _user("officer", firm=None, role=Role.COMPLIANCE_OFFICER, staff=True)
    officer2 = ctx.users["officer2"] = _user("officer2", firm=None, role=Role.COMPLIANCE_OFFICER, staff=True)
    for key, firm in ctx.firms.items():
        for role in (Role.ADVISOR, Role.FIRM_ADMIN, Role.OPERATIONS):
            ctx.users[f"{key}_{role}"] = _user(f"{key}-{role.replace('_', '-')}", firm=firm, role=role)

    adv = ctx.users["thames_advisor"]
    # Approved UK individual.
    alice = _person(thames, adv, given="Alice", family="Carter", country="GB", dob="1975-04-12", tin="1955839661")
    case = services.case_create(firm=thames, party=alice, actor=adv)
    case = services.case_start_review(case=services.case_submit(case=case, actor=adv), actor=officer)
    _approve_later(ctx, case, officer)
    ctx.parties["alice"] = alice
    # German individual in review.
    bernd = _person(thames, adv, given="Bernd", family="Schmidt", country="DE", dob="1968-09-30", tin="36574261809")
    case = services.case_create(firm=thames, party=bernd, actor=adv, jurisdiction="DE")
    services.case_start_review(case=services.case_submit(case=case, actor=adv), actor=officer)
    ctx.parties["bernd"] = bernd
    # A UK company with an indirect owner, still missing documents (draft).
    holding = services.party_create(firm=thames, actor=adv, kind="entity", client_type="corporation",
                                    legal_name="Acme Holdings Ltd", date_of_incorporation="2004-06-01",
                                    country_of_incorporation="GB")
    client_co = services.party_create(firm=thames, actor=adv, kind="entity", client_type="corporation",
                                      legal_name="Carter Ventures Ltd", date_of_incorporation="2012-03-15",
                                      country_of_incorporation="GB")
    jane = _person(thames, adv, given="Jane", family="Doe", country="GB", dob="1982-01-20", complete=False)
    services.ownership_link_add(owner=holding, owned=client_co, actor=adv, percentage=80)
    services.ownership_link_add(owner=jane, owned=holding, actor=adv, percentage=40)
    services.case_create(firm=thames, party=client_co, actor=adv)
    ctx.parties["carter_ventures"] = client_co

    # Swiss family office: a Cayman company awaiting its second approval, a Singapore client submitted.
    fo_adv = ctx.users["alpen_advisor"]
    fo_vehicle = services.party_create(firm=alpen, actor=fo_adv, kind="entity", client_type="family_office_vehicle",
                                      legal_name="Edelweiss Holdings (Cayman) Ltd", date_of_incorporation="2015-02-02",
                                      country_of_incorporation="KY")
    services.party_add_address(party=fo_vehicle, actor=fo_adv, kind="registered", line1="PO Box 309, Ugland House",
                               city="George Town", country="KY")
    services.party_add_identifier(party=fo_vehicle, actor=fo_adv, kind="registration", country="KY", value="CR-301234")
    services.party_set_tax_residence(party=fo_vehicle, actor=fo_adv, country="KY", no_tin_reason="A")
    _docs(fo_vehicle, fo_adv, "certificate_of_incorporation", "register_of_members")
    heidi = _person(alpen, fo_adv, given="Heidi", family="Brunner", country="CH", dob="1960-07-07",
                    tin="756.9217.0769.85")
    services.ownership_link_add(owner=heidi, owned=fo_vehicle, actor=fo_adv, percentage=100)
    services.ownership_link_add(owner=heidi, owned=fo_vehicle, actor=fo_adv, role="director")
    case = services.case_create(firm=alpen, party=fo_vehicle, actor=fo_adv, jurisdiction="KY")
    case = services.case_start_review(case=services.case_submit(case=case, actor=fo_adv), actor=officer)
    _approve_later(ctx, case, officer)  # four-eyes: the first approval; it then awaits officer2
    ctx.parties["edelweiss"] = fo_vehicle
    mei = _person(alpen, fo_adv, given="Mei Ling", family="Tan", country="SG", dob="1979-11-11", passport="K1234567")
    services.case_submit(case=services.case_create(firm=alpen, party=mei, actor=fo_adv, jurisdiction="SG"), actor=fo_adv)
    ctx.parties["mei"] = mei

    # US broker-dealer: an approved US person, a rejected application, a withdrawn one.
    bd_adv = ctx.users["hudson_advisor"]
    bob = _person(hudson, bd_adv, given="Robert", family="Miller", country="US", dob="1970-05-05", tin="536-90-4399",
                  passport="567890123")
    case = services.case_create(firm=hudson, party=bob, actor=bd_adv, jurisdiction="US")
    case = services.case_start_review(case=services.case_submit(case=case, actor=bd_adv), actor=officer2)
    _approve_later(ctx, case, officer2)
    ctx.parties["bob"] = bob
    omar = _person(hudson, bd_adv, given="Omar", family="Haddad", country="AE", dob="1985-03-03", passport="AB1234567")
    case = services.case_create(firm=hudson, party=omar, actor=bd_adv, jurisdiction="US")
    case = services.case_start_review(case=services.case_submit(case=case, actor=bd_adv), actor=officer)
    services.case_reject(case=case, actor=officer, reason="Source of funds could not be evidenced")
    hk = _person(hudson, bd_adv, given="Wing", family="Chan", country="HK", dob="1990-12-12", complete=False)
    services.case_withdraw(case=services.case_create(firm=hudson, party=hk, actor=bd_adv, jurisdiction="US"),
                           actor=bd_adv, reason="Client went elsewhere")
    return ctx
