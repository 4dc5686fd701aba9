"""The one way to read an uploaded document: a permission-checked, audited download.

`onboarding:document-download` serves the decrypted bytes inline (PDF and images open in the
browser's viewer) to the document's firm users and to platform officers; everyone else gets 404.
The admin and the officers' review desk link here; nothing is served from /media/."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from . import services
from .exceptions import NotFound, PermissionDenied
from .models import Document


@require_GET
@login_required
def document_download(request, document_id: int):
    document = Document.objects.select_related("firm", "party").filter(pk=document_id).first()
    if document is None or not document.file:
        raise Http404("not found")
    try:
        content = services.document_open(document=document, actor=request.user,
                                         purpose="download" if request.GET.get("download") else "view")
    except (NotFound, PermissionDenied) as exc:
        raise Http404("not found") from exc  # never confirm another firm's document exists
    response = HttpResponse(content, content_type=document.content_type or "application/octet-stream")
    name = document.original_name or f"document-{document.pk}"
    response["Content-Disposition"] = content_disposition_header(bool(request.GET.get("download")), name)
    response["Content-Length"] = str(len(content))
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    # Shown inside the admin or the review desk (same origin only); the document itself runs nothing.
    response["X-Frame-Options"] = "SAMEORIGIN"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; " \
                                          "frame-ancestors 'self'; object-src 'self'"
    return response
