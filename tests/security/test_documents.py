"""Documents: content sniffed beyond the magic bytes, encrypted at rest with the field keys (and
rotated by rotate_field_keys), served only through the permission-checked, audited download, and
idempotent uploads compare the file's content."""
from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from onboarding import services
from onboarding.api.auth import api_token_create
from onboarding.audit import events_for
from onboarding.exceptions import ValidationFailed
from onboarding.models import Document
from onboarding.samples import pdf_bytes
from tests.factories import FirmFactory, OfficerFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db
PDF = pdf_bytes("passport scan")


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def firm():
    return FirmFactory()


@pytest.fixture
def advisor(firm):
    return UserFactory(firm=firm, role="advisor")


@pytest.mark.parametrize("content", [
    b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>",       # HTML behind the PDF magic
    b"%PDF-1.7\n" + b" " * 600 + b"<!DOCTYPE html><body onload=alert(1)>",   # markup further in
    b"%PDF-1.4\n% not really a pdf\n",                                         # no PDF structure at all
    b"\x89PNG\r\n\x1a\n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    b"\xff\xd8\xff\xe0 this is no jpeg",
])
def test_files_that_only_start_like_a_document_are_refused(firm, advisor, content):
    party = PersonFactory(firm=firm)
    with pytest.raises(ValidationFailed) as refused:
        services.document_add(party=party, actor=advisor, doc_type="passport", content=content)
    assert "file" in refused.value.detail
    assert not Document.objects.exists()


def test_a_pdf_with_javascript_is_refused(firm, advisor):
    from pypdf import PdfWriter
    from pypdf.actions import JavaScript

    writer = PdfWriter()
    writer.add_blank_page(width=72, height=72)
    writer.add_open_action(JavaScript("app.alert('x');"))
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ValidationFailed, match="scripts"):
        services.document_add(party=PersonFactory(firm=firm), actor=advisor, doc_type="passport",
                              content=out.getvalue())


def test_real_pdfs_and_images_are_accepted_and_typed_by_content(firm, advisor):
    party = PersonFactory(firm=firm)
    pdf = services.document_add(party=party, actor=advisor, doc_type="passport", content=PDF, original_name="a.png")
    png = services.document_add(party=party, actor=advisor, doc_type="utility_bill", content=png_bytes(),
                                original_name="b.pdf")
    assert (pdf.content_type, png.content_type) == ("application/pdf", "image/png")


def test_documents_are_encrypted_at_rest_and_rotated_with_the_field_keys(firm, advisor, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    document = services.document_add(party=PersonFactory(firm=firm), actor=advisor, doc_type="passport", content=PDF)
    with default_storage.open(document.file.name, "rb") as handle:
        stored = handle.read()
    assert PDF not in stored and b"%PDF" not in stored
    assert Fernet(old.encode()).decrypt(stored.split(b"\n", 1)[1]) == PDF  # Fernet with the field key, checked by its own library

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone: the file must still open
    with default_storage.open(document.file.name, "rb") as handle:
        assert Fernet(new.encode()).decrypt(handle.read().split(b"\n", 1)[1]) == PDF
    assert services.document_open(document=document, actor=advisor) == PDF


def test_download_is_inline_permission_checked_and_audited(firm, advisor):
    party = PersonFactory(firm=firm)
    document = services.document_add(party=party, actor=advisor, doc_type="passport", content=PDF,
                                     original_name="passport \"scan\".pdf")
    url = reverse("onboarding:document-download", args=[document.pk])
    assert url == f"/documents/{document.pk}/"

    officer = OfficerFactory()
    for user in (advisor, UserFactory(firm=firm, role="operations"), officer):
        client = Client()
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, user.role
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("inline;")
        assert response["Cache-Control"] == "private, no-store"
        assert b"".join(response) == PDF
    attachment = client.get(url, {"download": "1"})
    assert attachment["Content-Disposition"].startswith("attachment;")
    viewed = events_for(party).filter(event_type="document.viewed")
    assert viewed.count() == 4 and {e.actor_id for e in viewed} == {advisor.pk, officer.pk} | {
        e.actor_id for e in viewed if e.actor.role == "operations"}

    other_firm = Client()
    other_firm.force_login(UserFactory(firm=FirmFactory(), role="firm_admin"))
    assert other_firm.get(url).status_code == 404
    assert other_firm.get(f"/documents/{document.pk + 999}/").status_code == 404  # same answer as missing
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert events_for(party).filter(event_type="document.viewed").count() == 4


def test_media_urls_serve_nothing(firm, advisor):
    document = services.document_add(party=PersonFactory(firm=firm), actor=advisor, doc_type="passport", content=PDF)
    client = Client()
    client.force_login(advisor)
    assert client.get(f"/media/{document.file.name}").status_code == 404


def test_the_admin_links_to_the_audited_download_not_media(firm, advisor):
    document = services.document_add(party=PersonFactory(firm=firm), actor=advisor, doc_type="passport", content=PDF)
    client = Client()
    client.force_login(OfficerFactory())
    page = client.get(f"/admin/onboarding/document/{document.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'src="/documents/{document.pk}/"' in html and "/media/" not in html
    party_page = client.get(f"/admin/onboarding/party/{document.party_id}/change/").content.decode()
    assert f'href="/documents/{document.pk}/"' in party_page and "/media/" not in party_page


def test_same_idempotency_key_with_a_different_file_is_refused(firm, advisor):
    party = PersonFactory(firm=firm)
    _, token = api_token_create(user=advisor, name="t", scopes=["read", "write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}", HTTP_IDEMPOTENCY_KEY="upload-1")

    def upload(content):
        return api.post("/api/v1/documents/", {"party": party.pk, "doc_type": "passport",
                        "file": SimpleUploadedFile("scan.pdf", content, content_type="application/pdf")},
                        format="multipart")

    first = upload(PDF)
    assert first.status_code == 201
    replay = upload(PDF)
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
    assert replay["Idempotent-Replayed"] == "true"
    other = upload(pdf_bytes("a different scan"))
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Document.objects.count() == 1


@override_settings(FIELD_ENCRYPTION_KEYS=[])
def test_documents_stored_before_encryption_still_open_and_get_encrypted_by_rotation(firm, advisor):
    from django.core.files.base import ContentFile

    party = PersonFactory(firm=firm)
    document = Document(firm=firm, party=party, doc_type="passport", content_type="application/pdf", size=len(PDF))
    document.file.save("legacy.pdf", ContentFile(PDF), save=True)
    assert services.document_open(document=document, actor=advisor) == PDF
    call_command("rotate_field_keys")
    with default_storage.open(document.file.name, "rb") as handle:
        assert PDF not in handle.read()
    assert services.document_open(document=document, actor=advisor) == PDF
