"""Every page works: the site's own 403/404/500 pages outside /api/, JSON inside it, and the API
docs under the CSP without inline scripts."""
import pytest

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_the_sites_404_and_an_api_miss_is_json(signed_in):
    page = signed_in.get("/no-such-page/")
    assert page.status_code == 404
    text = page.content.decode()
    assert "We cannot find that page" in text and "portal.css" in text and "Go to the dashboard" in text
    api = signed_in.get("/api/v1/no-such-resource/")
    assert api.status_code == 404 and api["Content-Type"].startswith("application/json")
    assert api.json()["code"] == "not_found"


def test_another_firms_case_is_a_styled_404(signed_in, other_advisor):
    from onboarding import services
    from tests.factories import PersonFactory

    party = PersonFactory(firm=other_advisor.firm)
    case = services.case_create(firm=other_advisor.firm, party=party, actor=other_advisor)
    page = signed_in.get(f"/cases/{case.pk}/")
    assert page.status_code == 404 and "We cannot find that page" in page.content.decode()


def test_the_reconciliation_report_refuses_an_advisor_with_the_sites_403(signed_in):
    page = signed_in.get("/reconciliation/runs/2026-11-23/report/")
    assert page.status_code == 403
    text = page.content.decode()
    assert "This page is not open to you" in text and "Reconciliation reports are for operations" in text
    assert "portal.css" in text


def test_a_server_error_is_the_sites_500_page(rf):
    from onboarding.error_views import server_error

    request = rf.get("/clients/new/")
    response = server_error(request)
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    api = server_error(rf.get("/api/v1/cases/"))
    assert api.status_code == 500 and api["Content-Type"].startswith("application/json")


def test_the_api_docs_load_their_start_up_script_from_the_site_under_the_csp(signed_in):
    import re

    page = signed_in.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    inline = [s for s in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S) if s[1].strip()]
    assert inline == []  # every script is a file from this site
    sources = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert sources and all(src.startswith("/") for src in sources)
    init = signed_in.get([s for s in sources if "script" in s][0].replace("&amp;", "&"))
    assert init.status_code == 200 and "SwaggerUIBundle" in init.content.decode()
