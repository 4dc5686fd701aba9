"""The portal in a real browser: headless Chromium (Debian's chromium and chromedriver) driven by
Selenium against pytest-django's live server.

- An advisor onboards an entity held through a holding company, takes the passive-NFE path on the
  tax step (controlling persons from the structure confirmed, a director added, their residences
  recorded; CRS and W-8BEN-E consistent) and submits.
- An advisor onboards a politically exposed person; one officer starts the review, views the
  passport inline through the audited download and gives the first approval; a second officer
  approves; the advisor opens the account from the case page, sets it up, funds and subscribes it.
- The account page with holdings and the drift chart.
- An officer signs in with the second factor, claims a case on the desk and approves it.

One Chromium per test; users change by signing out and in. Every page visited is saved in
test-artifacts/screenshots/ (desk pages also at 400 px, new pages at 360 px)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from onboarding.models import CaseState, OnboardingCase
from onboarding.samples import pdf_bytes
from onboarding.services import rulepacks_load
from tests.factories import FirmFactory, UserFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"

# Under CI (CI=true or MERIDIAN_BROWSER_TESTS=1, set by .ci/run) a missing browser is a failure, never a skip.
BROWSER_REQUIRED = os.environ.get("CI") == "true" or os.environ.get("MERIDIAN_BROWSER_TESTS") == "1"
BROWSER_MISSING = not (CHROMIUM.exists() and CHROMEDRIVER.exists())

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(BROWSER_MISSING and not BROWSER_REQUIRED,
                       reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)"),
]
webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    if BROWSER_MISSING:
        pytest.fail("CI needs Debian's chromium and chromium-driver (scripts/system-deps.sh installs them)")
    profile = tempfile.mkdtemp(prefix="meridian-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     f"--user-data-dir={profile}", "--window-size=1366,900", "--lang=en-GB"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """Small helpers over the driver, in the words of the page."""

    def __init__(self, driver, base_url: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.base, self.By, self.ec = driver, base_url, By, ec
        from selenium.common.exceptions import WebDriverException

        # while a page is being replaced, lookups can fail transiently: keep polling until the timeout
        self.wait = WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,))

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def field(self, name: str):
        return self.driver.find_element(self.By.NAME, name)

    def fill(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            element = self.field(name)
            if element.tag_name == "select":
                from selenium.webdriver.support.ui import Select

                Select(element).select_by_value(value)
            elif element.get_attribute("type") == "date":  # typing into a date input depends on the locale
                self.driver.execute_script("arguments[0].value = arguments[1];", element, value)
            else:
                element.clear()
                element.send_keys(value)

    def click_button(self, text: str) -> None:
        button = self.driver.find_element(self.By.XPATH, f"//button[normalize-space()='{text}']")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        button.click()

    def click_link(self, text: str) -> None:
        self.driver.find_element(self.By.LINK_TEXT, text).click()

    def wait_for_text(self, css: str, text: str) -> None:
        from selenium.common.exceptions import TimeoutException

        try:
            self.wait.until(self.ec.text_to_be_present_in_element((self.By.CSS_SELECTOR, css), text))
        except TimeoutException:
            shown = [e.text for e in self.driver.find_elements(self.By.CSS_SELECTOR, ".messages, .form-errors, .errorlist")]
            raise AssertionError(f"{text!r} never appeared in {css}; the page says: {shown}") from None

    def heading(self) -> str:
        return self.driver.find_element(self.By.TAG_NAME, "h1").text

    def text(self) -> str:
        return self.driver.find_element(self.By.TAG_NAME, "body").text

    def fits_width(self, width: int = 400) -> tuple[int, int]:
        """Reload the page at `width` px and return (document width, viewport width)."""
        self.driver.set_window_size(width, 900)
        self.driver.refresh()
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        return (int(self.driver.execute_script("return document.documentElement.scrollWidth")),
                int(self.driver.execute_script("return window.innerWidth")))

    def too_wide(self) -> list[str]:
        """The innermost elements that reach past the viewport's right edge (for the failure message)."""
        return self.driver.execute_script("""
            const w = window.innerWidth, out = [];
            for (const el of document.querySelectorAll('body *')) {
              const r = el.getBoundingClientRect();
              if (r.right > w + 1 && ![...el.children].some(c => c.getBoundingClientRect().right > w + 1))
                out.push(el.tagName.toLowerCase() + '.' + el.className + ' "' + (el.textContent || '').trim().slice(0, 40) + '"');
            }
            return out.slice(0, 8);""")

    def narrow_screenshot(self, name: str, width: int = 400) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, min(max(int(height), 900), 6000))
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1366, 900)
        return path

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1366, min(max(int(height), 900), 6000))
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1366, 900)
        return path


@pytest.mark.django_db(transaction=True)
def test_advisor_onboards_an_entity_with_two_owners_submits_and_sees_what_is_outstanding(
    live_server, audit_cleared_for_flush, browser, tmp_path,
):
    rulepacks_load()
    firm = FirmFactory(name="Thames Wealth Partners", home_jurisdiction="GB")
    UserFactory(firm=firm, username="advisor", first_name="Ada", last_name="Advisor")
    page = Page(browser, live_server.url)

    # Sign in
    page.open("/")
    assert "/accounts/login/" in browser.current_url
    page.screenshot("01-sign-in")
    page.fill({"username": "advisor", "password": "pw"})
    page.click_button("Sign in")
    page.wait.until(lambda d: page.heading() == "Dashboard")

    # Start an entity client
    page.click_link("Onboard a client")
    browser.find_element(page.By.PARTIAL_LINK_TEXT, "An entity").click()
    assert page.heading() == "Onboard a new entity"

    # Live validation: a wrong LEI is reported as soon as the field is left, then corrected
    page.fill({"legal_name": "Borealis Capital Ltd", "client_type": "corporation",
               "date_of_incorporation": "2010-03-04", "country_of_incorporation": "GB"})
    page.fill({"lei": "5493001KJTIIGC8Y1R13"})
    page.field("registration_number").click()  # leaving the LEI field fires the check
    page.wait_for_text("#live-lei", "is not a valid LEI")
    # countries are chosen from a list of names
    assert "United Kingdom" in page.field("country_of_incorporation").text
    assert page.field("lei").get_attribute("aria-describedby").endswith("live-lei")
    page.screenshot("02-party-live-validation")
    page.fill({"lei": "5493001KJTIIGC8Y1R12", "registration_number": "01234567",
               "address_line1": "1 King William Street", "address_city": "London", "address_country": "GB",
               "residence_country": "GB", "email": "ops@borealis.example"})
    page.field("address_city").click()
    page.wait_for_text("#live-lei", "check digits verified")
    page.click_button("Create the case and continue")

    # Step 2: the client is held through a holding company, which two people own
    page.wait.until(lambda d: "Ownership and control" in page.text())
    case = OnboardingCase.objects.get(party__legal_name="Borealis Capital Ltd")
    assert browser.current_url.endswith(f"/cases/{case.pk}/onboarding/ownership/")
    browser.find_element(page.By.CSS_SELECTOR, "input[name='kind'][value='entity']").click()
    page.fill({"role": "shareholder", "percentage": "100", "legal_name": "Borealis Holdings Ltd",
               "client_type": "corporation", "country_of_incorporation": "GB",
               "address_line1": "2 King William Street", "address_city": "London", "address_country": "GB"})
    page.click_button("Add")
    page.wait_for_text(".messages", "Borealis Holdings Ltd added")
    from selenium.webdriver.support.ui import Select

    owners = [
        {"role": "shareholder", "percentage": "60", "given_names": "Ingrid", "family_name": "Nordahl",
         "date_of_birth": "1972-05-14", "nationalities": "NO", "residence_country": "GB",
         "address_line1": "12 Cheyne Walk", "address_city": "London", "address_country": "GB"},
        {"role": "shareholder", "percentage": "40", "given_names": "Tomas", "family_name": "Berg",
         "date_of_birth": "1980-11-02", "nationalities": "SE", "residence_country": "SE",
         "address_line1": "Strandvagen 7", "address_city": "Stockholm", "address_country": "SE"},
    ]
    for owner in owners:
        Select(page.field("owned")).select_by_visible_text("Borealis Holdings Ltd")
        browser.find_element(page.By.CSS_SELECTOR, "input[name='kind'][value='person']").click()
        page.fill(owner)
        page.click_button("Add")
        page.wait_for_text(".messages", f"{owner['given_names']} {owner['family_name']} added")
    page.wait_for_text(".owners-chart", "Tomas Berg")
    chart = page.driver.find_element(page.By.CSS_SELECTOR, ".owners-chart").text
    assert "Borealis Holdings Ltd" in chart and "Ingrid Nordahl" in chart
    table = page.driver.find_element(page.By.XPATH, "//table[caption[contains(., 'beneficial owners')]]").text
    assert "Ingrid Nordahl 60.00" in table and "Tomas Berg 40.00" in table  # effective, through the holding
    page.screenshot("03-ownership")

    # Leave half-way and resume: the draft reopens at the first step with something outstanding
    page.click_link("Dashboard")
    page.wait.until(lambda d: page.heading() == "Dashboard")
    browser.find_element(page.By.XPATH, f"//a[@href='/cases/{case.pk}/onboarding/']").click()
    page.wait.until(lambda d: d.current_url.endswith(f"/cases/{case.pk}/onboarding/ownership/"))

    # Step 3: a document
    page.click_link("Continue to documents")
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(pdf_bytes("certificate of incorporation"))
    page.fill({"doc_type": "certificate_of_incorporation"})
    page.field("file").send_keys(str(pdf))
    page.click_button("Upload")
    page.wait_for_text(".messages", "certificate.pdf uploaded")
    page.screenshot("04-documents")

    # Step 4: tax. The passive NFE's controlling persons are the holding company's owners
    page.click_link("Continue to tax")
    page.fill({"country": "GB", "no_tin_reason": "B", "no_tin_explanation": "UTR applied for; HMRC has not issued it yet."})
    page.click_button("Save tax residence")
    page.wait_for_text(".messages", "Tax residence saved")
    body = page.text()
    for name in ("Ingrid Nordahl", "Tomas Berg"):  # 60% and 40% of the holding, so of the client
        assert f"{name} (controlling person of a legal person: control by ownership)" in body
    page.screenshot("05a-tax-controlling-persons")

    # Someone missing: a director who controls by other means, added on the ownership step
    page.click_link("Add them as an owner or controller on the ownership step")
    page.wait.until(lambda d: "Ownership and control" in page.text())
    Select(page.field("owned")).select_by_visible_text("Borealis Capital Ltd")
    browser.find_element(page.By.CSS_SELECTOR, "input[name='kind'][value='person']").click()
    page.fill({"role": "director", "percentage": "0", "given_names": "Freya", "family_name": "Lund",
               "date_of_birth": "1975-01-20", "nationalities": "DK", "residence_country": "GB",
               "address_line1": "3 Lime Street", "address_city": "London", "address_country": "GB"})
    page.click_button("Add")
    page.wait_for_text(".messages", "Freya Lund added")
    page.open(f"/cases/{case.pk}/onboarding/tax/")
    page.wait.until(lambda d: "Freya Lund (controlling person of a legal person: control by other means)" in page.text())

    # The CRS form names the people without a tax residence; their residences are recorded here
    for name in ("Ingrid Nordahl", "Tomas Berg", "Freya Lund"):
        checkbox = browser.find_element(
            page.By.XPATH, f"//label[contains(., '{name}')]//input[@name='tf-controlling_persons']")
        assert checkbox.is_selected(), f"{name} is offered ticked"
    page.fill({"tf-form_type": "CRS_ENT", "tf-crs_classification": "passive_nfe", "tf-signer_name": "Ingrid Nordahl"})
    page.click_button("Record the form")
    page.wait_for_text(".form-errors", "Ingrid Nordahl: at least one tax residence is required")
    for party, country in (("Ingrid Nordahl (controlling person)", "GB"), ("Tomas Berg (controlling person)", "SE"),
                           ("Freya Lund (controlling person)", "GB")):
        Select(page.field("party")).select_by_visible_text(party)
        page.fill({"country": country, "no_tin_reason": "B", "no_tin_explanation": "Applied for; not yet issued."})
        page.click_button("Save tax residence")
        page.wait_for_text(".messages", f"Tax residence of {party.split(' (')[0]} saved")
    page.fill({"tf-form_type": "CRS_ENT", "tf-crs_classification": "passive_nfe", "tf-signer_name": "Ingrid Nordahl"})
    page.click_button("Record the form")
    page.wait_for_text(".messages", "recorded and valid")
    # and the W-8BEN-E says passive NFFE, consistent with it
    page.fill({"tf-form_type": "W8BENE", "tf-chapter3_status": "corporation", "tf-chapter4_status": "passive_nffe",
               "tf-signer_name": "Ingrid Nordahl"})
    for box in ("tf-foreign_tin_not_required", "tf-no_substantial_us_owners", "tf-certified"):
        if not page.field(box).is_selected():
            page.field(box).click()
    page.click_button("Record the form")
    page.wait_for_text(".messages", "recorded and valid")
    assert "disagree" not in page.text()
    page.screenshot("05-tax")

    # Step 5: review and submit
    page.click_link("Continue to review")
    assert "Outstanding requirements" in page.text()
    page.screenshot("06-review")
    page.click_button("Submit to compliance")
    page.wait_for_text(".messages", "Case submitted to compliance")

    # The case page says what is still needed and why
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED
    page.screenshot("07-case-submitted")
    body = page.text()
    assert "Submitted" in body
    assert "beneficial owner Ingrid Nordahl (60% through Borealis Holdings Ltd) has no proof of identity" in body
    assert "beneficial owner Tomas Berg (40% through Borealis Holdings Ltd) has no proof of address" in body
    # a passive NFE's controlling persons each self-certify (OECD CRS VI(A)(2)(b))
    assert "Freya Lund" in body and "CRS self-certification (controlling person)" in body
    assert "Controlling persons for CRS (passive NFE)" in body
    assert "Submitted to compliance" in body and "case.submitted" not in body  # the audit trail in words

    # And the dashboard lists it with the same reasons
    page.click_link("Dashboard")
    page.wait.until(lambda d: page.heading() == "Dashboard")
    assert "Borealis Capital Ltd" in page.text()
    page.screenshot("08-dashboard")


@pytest.mark.django_db(transaction=True)
def test_account_page_renders_holdings_and_the_drift_chart(live_server, audit_cleared_for_flush, browser):
    from accounts.demo import accounts_demo
    from onboarding.models import Relationship
    from tests.factories import PersonFactory, tax_documented

    firm = FirmFactory(name="Thames Wealth Partners", home_jurisdiction="GB")
    advisor = UserFactory(firm=firm, username="advisor")
    owner = PersonFactory(firm=firm, given_names="Hugo", family_name="Holder", residence_country="CH")
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)
    demo = accounts_demo(firm=firm, owner=owner, actor=advisor)
    page = Page(browser, live_server.url)
    page.open("/accounts/login/")
    page.fill({"username": "advisor", "password": "pw"})
    page.click_button("Sign in")
    page.wait.until(lambda d: page.heading() == "Dashboard")
    page.click_link("Accounts")
    page.click_link("DEMO-001")
    page.open(f"/clients/accounts/{demo.account.pk}/?on=2026-11-23")
    page.wait_for_text("h1", "DEMO-001")
    chart = browser.find_element(page.By.CSS_SELECTOR, "figure.chart svg")
    assert chart.size["width"] > 300 and chart.size["height"] > 100
    assert "Holdings across custodians" in page.text() and "BNY Mellon" in page.text()
    page.screenshot("09-account")


@pytest.mark.django_db(transaction=True)
def test_officer_signs_in_with_the_second_factor_claims_reviews_and_approves_on_the_desk(
    live_server, audit_cleared_for_flush, browser,
):
    import pyotp
    from django.core.management import call_command
    from django.utils import timezone

    from onboarding.models import AuditEvent, User, UserSecondFactor
    from onboarding.security import totp_enrol

    call_command("rulepacks", "load")
    call_command("seed_demo")
    case = OnboardingCase.objects.get(state=CaseState.AWAITING_SECOND_APPROVAL)
    officer = User.objects.filter(role="compliance_officer", is_superuser=False).exclude(pk=case.first_approver_id) \
        .order_by("username").first()
    totp_enrol(user=officer)
    UserSecondFactor.objects.filter(user=officer).update(confirmed_at=timezone.now())
    secret = UserSecondFactor.objects.get(user=officer).secret
    page = Page(browser, live_server.url)

    # Sign in: password, then the second factor
    page.open("/desk/")
    page.fill({"username": officer.username, "password": "meridian-demo"})
    page.click_button("Sign in")
    page.wait.until(lambda d: page.heading() == "Enter your authentication code")
    page.screenshot("10-officer-second-factor")
    page.fill({"code": pyotp.TOTP(secret).now()})
    page.click_button("Verify")
    page.wait.until(lambda d: "/accounts/" not in d.current_url)
    page.open("/desk/")

    # The queue: risk, age, SLA, assignee, outstanding; the case waiting for a second approval
    page.wait_for_text("h1", "Review")
    queue = page.text()
    for column in ("Risk", "Age (days)", "SLA due", "Assignee", "Outstanding"):
        assert column in queue, column
    assert case.party.display_name in queue
    page.screenshot("11-desk-queue")
    wide, viewport = page.fits_width(400)
    assert wide <= viewport, f"the desk scrolls sideways at 400 px ({wide} > {viewport}): {page.too_wide()}"
    page.narrow_screenshot("11b-desk-queue-400px")
    page.driver.set_window_size(1366, 900)

    # Open the case and claim it
    page.open(f"/desk/cases/{case.pk}/")
    page.wait_for_text("h1", case.party.display_name)
    page.fill({"assignee": "me"})
    page.click_button("Assign")
    page.wait_for_text(".messages", f"You have case {case.pk}")
    case.refresh_from_db()
    assert case.assigned_to == officer

    # The checklist, the evidence and the decision in words
    body = page.text()
    assert "Requirements checklist (0 outstanding)" in body
    assert "Every requirement of the pinned policy is met." in body
    for heading in ("Documents", "Screening hits", "Risk rating", "Tax forms", "Ownership and control", "Audit trail"):
        assert heading in body, heading
    assert "First approval given" in body and "case.first_approval" not in body
    assert "Controlling persons for CRS" in body  # the passive NFE's controlling persons, from its structure
    page.screenshot("12-desk-case")
    wide, viewport = page.fits_width(400)
    assert wide <= viewport, f"the case page scrolls sideways at 400 px ({wide} > {viewport}): {page.too_wide()}"
    page.narrow_screenshot("12b-desk-case-400px")
    page.driver.set_window_size(1366, 900)

    # Approve: the rationale is required, then the case is approved and says what comes next
    browser.find_element(page.By.ID, "reason-approve").send_keys("Structure, sources of wealth and both tax forms verified.")
    page.click_button("Give the second approval")
    page.wait_for_text(".messages", "The case is now approved")
    case.refresh_from_db()
    assert case.state == CaseState.APPROVED
    assert AuditEvent.objects.get(event_type="case.approved", subject_id=str(case.pk)).reason \
        == "Structure, sources of wealth and both tax forms verified."
    body = page.text()
    assert "What comes next" in body and "Open an account for the client" in body
    page.screenshot("13-desk-case-approved")


def sign_in(page: Page, username: str, password: str = "pw") -> None:
    """Sign out whoever is signed in, then sign in as `username` through the sign-in page."""
    page.driver.delete_all_cookies()
    page.open("/accounts/login/")
    page.fill({"username": username, "password": password})
    page.click_button("Sign in")
    page.wait.until(lambda d: "/accounts/login/" not in d.current_url)


def check_narrow(page: Page, name: str, width: int = 360) -> None:
    """The page holds at `width` px without scrolling sideways; its screenshot is kept."""
    wide, viewport = page.fits_width(width)
    assert wide <= viewport, f"{name} scrolls sideways at {width} px ({wide} > {viewport}): {page.too_wide()}"
    page.narrow_screenshot(name, width)
    page.driver.set_window_size(1366, 900)


@pytest.mark.django_db(transaction=True)
def test_a_person_is_onboarded_approved_by_two_officers_and_gets_a_funded_account_in_one_sitting(
    live_server, audit_cleared_for_flush, browser, tmp_path,
):
    """The whole day of issue 19 for one client: the advisor onboards a politically exposed
    person (high risk, so four eyes), an officer starts the review, views the passport inline
    through the audited download (the viewing is in the audit trail) and gives the first
    approval; she cannot give the second. A second officer approves. The advisor then opens
    the account from the case page, adds its custody account, activates it (the real gate),
    records the deposit and subscribes it to a model, and sees the account page."""
    import datetime as dt

    from accounts.demo import custodians_demo, model_demo
    from accounts.models import Account, ModelSubscription, Transaction
    from compliance.services import risk_models_load
    from onboarding.models import AuditEvent, Document
    from trading.reference.demo import reference_demo

    rulepacks_load()
    risk_models_load()
    model_demo(ref=reference_demo(price_date=dt.date(2026, 11, 20)), effective_from=dt.date(2026, 11, 20))
    custodians_demo()
    firm = FirmFactory(name="Thames Wealth Partners", home_jurisdiction="GB")
    UserFactory(firm=firm, username="advisor", first_name="Ada", last_name="Advisor")
    UserFactory(firm=None, role="compliance_officer", username="olive", first_name="Olive", last_name="Officer")
    UserFactory(firm=None, role="compliance_officer", username="otto", first_name="Otto", last_name="Second")
    page = Page(browser, live_server.url)

    # --- The advisor onboards a person -------------------------------------------------------
    sign_in(page, "advisor")
    page.click_link("Onboard a client")
    browser.find_element(page.By.PARTIAL_LINK_TEXT, "A person").click()
    page.wait.until(lambda d: page.heading() == "Onboard a new person")
    page.fill({"given_names": "Hugo", "family_name": "Holder", "date_of_birth": "1968-04-09",
               "place_of_birth_country": "CH", "nationalities": "CH", "residence_country": "CH",
               "id_kind": "passport", "id_value": "X1234567", "id_country": "CH",
               "address_line1": "Bahnhofstrasse 1", "address_city": "Zurich", "address_postal_code": "8001",
               "address_country": "CH", "email": "hugo@example.ch",
               "tax_id": "756.9217.0769.85", "tax_id_country": "CH",
               "source_of_wealth": "Sale of a family engineering business in 2019.",
               "source_of_funds": "Proceeds of the sale held at a Swiss bank."})
    page.field("is_pep").click()
    page.screenshot("20-person-party")
    page.click_button("Create the case and continue")
    page.wait.until(lambda d: "/onboarding/documents/" in d.current_url)
    case = OnboardingCase.objects.get(party__family_name="Holder")

    for doc_type, name in (("passport", "passport.pdf"), ("utility_bill", "bill.pdf"),
                           ("source_of_wealth", "sale-agreement.pdf"), ("senior_approval", "approval-memo.pdf")):
        pdf = tmp_path / name
        pdf.write_bytes(pdf_bytes(name))
        page.fill({"doc_type": doc_type})
        page.field("file").send_keys(str(pdf))
        page.click_button("Upload")
        page.wait_for_text(".messages", f"{name} uploaded")
    table = browser.find_element(page.By.CSS_SELECTOR, "table.documents").text
    assert "PDF document" in table and "application/pdf" not in table
    page.screenshot("21-person-documents")

    page.click_link("Continue to tax")
    page.fill({"country": "CH", "tin": "756.9217.0769.85"})
    page.click_button("Save tax residence")
    page.wait_for_text(".messages", "Tax residence saved")
    for form_type in ("W8BEN", "CRS_IND"):
        page.fill({"tf-form_type": form_type})
        assert page.field("tf-foreign_tin").get_attribute("value")  # the TIN entered once is offered again
        if not page.field("tf-certified").is_selected():
            page.field("tf-certified").click()
        page.click_button("Record the form")
        page.wait_for_text(".messages", "recorded and valid")
    page.screenshot("22-person-tax")

    page.click_link("Continue to review")
    page.screenshot("23-person-review")
    page.click_button("Submit to compliance")
    page.wait_for_text(".messages", "Case submitted to compliance")
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED and case.risk_level == "high", case.risk_level
    page.screenshot("24-person-submitted")

    # --- The first officer: starts the review, views the passport, gives the first approval --
    sign_in(page, "olive")
    page.open("/desk/")
    page.wait_for_text("h1", "Review")
    assert "Hugo Holder" in page.text()
    assert "advisor portal" not in browser.find_element(page.By.CSS_SELECTOR, ".site-header").text
    browser.find_element(page.By.LINK_TEXT, "Hugo Holder").click()
    page.wait_for_text("h1", "Hugo Holder")
    browser.find_element(page.By.ID, "reason-start_review").send_keys("Taking the PEP case.")
    page.click_button("Start the review")
    page.wait_for_text(".messages", "The case is now in review")

    passport = Document.objects.get(party=case.party, doc_type="passport")
    link = browser.find_element(page.By.XPATH, f"//a[@href='/documents/{passport.pk}/']")
    assert link.get_attribute("target") == "_blank" and "passport.pdf" in link.text
    link.click()
    page.wait.until(lambda d: len(d.window_handles) == 2)
    browser.switch_to.window(browser.window_handles[1])
    page.wait.until(lambda d: d.current_url.endswith(f"/documents/{passport.pk}/"))
    assert browser.execute_script("return document.contentType") == "application/pdf"  # shown inline
    import time

    time.sleep(1.5)  # the PDF viewer paints after the load event
    browser.save_screenshot(str(SCREENSHOTS / "25-document-inline.png"))
    browser.close()
    browser.switch_to.window(browser.window_handles[0])
    viewed = AuditEvent.objects.get(event_type="document.viewed", actor__username="olive")
    assert viewed.detail == {"document": passport.pk, "doc_type": "passport", "purpose": "view"}
    page.driver.refresh()
    page.wait_for_text("h1", "Hugo Holder")
    assert "Document viewed: Passport" in browser.find_element(page.By.CSS_SELECTOR, "table.audit").text

    browser.find_element(page.By.ID, "reason-approve").send_keys("PEP: wealth from the 2019 sale, evidenced.")
    page.click_button("Give the first approval (a second officer approves after you)")
    page.wait_for_text(".messages", "awaiting")
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_SECOND_APPROVAL and case.first_approver.username == "olive"
    assert "You gave the first approval, so a second officer must approve." in page.text()
    assert not browser.find_elements(page.By.ID, "reason-approve")  # no second approval by the same officer
    page.screenshot("26-desk-first-approval")

    # --- The second officer approves ------------------------------------------------------------
    sign_in(page, "otto")
    page.open(f"/desk/cases/{case.pk}/")
    page.wait_for_text("h1", "Hugo Holder")
    assert "First approval by Olive Officer" in page.text()
    browser.find_element(page.By.ID, "reason-approve").send_keys("Second approval: EDD complete.")
    page.click_button("Give the second approval")
    page.wait_for_text(".messages", "The case is now approved")
    case.refresh_from_db()
    assert case.state == CaseState.APPROVED
    page.screenshot("27-desk-second-approval")

    # --- The advisor opens, sets up, funds and subscribes the account ----------------------------
    sign_in(page, "advisor")
    page.open(f"/cases/{case.pk}/")
    page.wait_for_text("h1", "Hugo Holder")
    assert "What comes next" in page.text()
    page.screenshot("28-case-approved-next-steps")
    page.click_link("Open an account for the client")
    page.wait_for_text("h1", "Open an account for Hugo Holder")
    check_narrow(page, "29b-account-open-360px")
    page.fill({"number": "TW-2001", "base_currency": "GBP", "booking_centre": "offshore"})
    page.screenshot("29-account-open")
    page.click_button("Open the account")
    page.wait_for_text(".messages", "Account TW-2001 opened")
    account = Account.objects.get(number="TW-2001")

    page.fill({"custodian": str(custodians_demo()["CITIGB2L"].pk), "number": "TW-2001-EU"})
    page.screenshot("30-account-pending-setup")
    check_narrow(page, "30b-account-pending-setup-360px")
    page.fill({"custodian": str(custodians_demo()["CITIGB2L"].pk), "number": "TW-2001-EU"})
    page.click_button("Add the custody account")
    page.wait_for_text(".messages", "Custody account TW-2001-EU at Citibank London added")
    page.click_button("Activate the account")
    page.wait_for_text(".messages", "TW-2001 is active")

    page.click_link("Fund it")
    page.wait_for_text("h1", "Record a deposit on TW-2001")
    check_narrow(page, "31b-deposit-360px")
    page.fill({"amount": "250000.00", "value_date": "2026-11-16", "external_ref": "SWIFT-HH-1"})
    page.screenshot("31-deposit")
    page.click_button("Record the deposit")
    page.wait_for_text(".messages", "Deposit of 250,000.00 GBP recorded on TW-2001")
    assert Transaction.objects.filter(account=account, kind="deposit").count() == 1

    page.click_link("Subscribe it to a model portfolio")
    page.wait_for_text("h1", "Subscribe TW-2001 to a model portfolio")
    check_narrow(page, "32b-subscribe-360px")
    Select = __import__("selenium.webdriver.support.ui", fromlist=["Select"]).Select
    Select(page.field("model")).select_by_index(1)
    page.fill({"start_date": "2026-11-20"})
    page.screenshot("32-subscribe")
    page.click_button("Subscribe the account")
    page.wait_for_text(".messages", "TW-2001 follows Global equity (GBP)")
    assert ModelSubscription.objects.filter(account=account, status="active").exists()
    body = page.text()
    assert "Setting the account up" not in body and "Holdings across custodians" in body
    page.screenshot("33-account-funded")
    check_narrow(page, "33b-account-funded-360px")

    # The case page now shows every step done
    page.open(f"/cases/{case.pk}/")
    page.wait_for_text("h1", "Hugo Holder")
    assert page.text().lower().count("done") >= 4
    page.screenshot("34-case-all-steps-done")
