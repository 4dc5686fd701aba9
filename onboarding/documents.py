"""Uploaded documents: what a file really is (sniffed from its structure, not only its first
bytes), and how its bytes are kept (encrypted at rest with the field keys, onboarding/crypto.py).

Only PDF, PNG and JPEG are accepted. A file passes when
- it starts with the format's magic bytes,
- nothing in its first kilobyte looks like HTML/SVG/XML markup (what a browser would sniff and run),
- it parses as that format: pypdf must find at least one page, Pillow must verify the image,
- a PDF carries no JavaScript or launch actions.
"""
from __future__ import annotations

import io
import re
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from .crypto import decrypt_bytes, encrypt_bytes, rotate_bytes

MAGIC = {  # magic bytes -> content type
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
# Markup a browser's sniffer (WHATWG MIME sniffing, "identify an unknown MIME type") treats as HTML or XML.
MARKUP = re.compile(rb"<(!doctype|html|head|body|script|iframe|svg|\?xml|object|embed|meta|a\s|img|style|title|br|p>|div|table|font|h1|b>)",
                    re.IGNORECASE)
PDF_ACTIVE = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia", b"/XFA")


class UnacceptableFile(ValueError):
    """The file is not what it claims to be (message says why, for the `file` field)."""


def _check_pdf(content: bytes) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        pages = len(reader.pages)
        root = reader.trailer["/Root"]
        names = root.get("/Names") or {}
        active = "/JavaScript" in names or "/OpenAction" in root and "/JS" in str(root.get("/OpenAction"))
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError) as exc:
        raise UnacceptableFile("the PDF cannot be read (it is damaged or not a PDF)") from exc
    if pages < 1:
        raise UnacceptableFile("the PDF has no pages")
    if active or any(marker + suffix in content for marker in PDF_ACTIVE for suffix in (b" ", b"(", b"<", b"/")):
        raise UnacceptableFile("the PDF carries scripts, launch actions or embedded files")


def _check_image(content: bytes, expected: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnacceptableFile("the image cannot be read (it is damaged or not an image)") from exc
    if {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg"}.get(kind or "") != expected:
        raise UnacceptableFile("the image's content does not match its type")


def sniff(content: bytes) -> str:
    """The content type of an acceptable upload, or UnacceptableFile."""
    content_type = next((kind for magic, kind in MAGIC.items() if content.startswith(magic)), None)
    if content_type is None:
        raise UnacceptableFile("only PDF, PNG and JPEG documents are accepted")
    if MARKUP.search(content[:1024]):
        raise UnacceptableFile("the file holds markup (HTML/XML), not a document")
    if content_type == "application/pdf":
        _check_pdf(content)
    else:
        _check_image(content, content_type)
    return content_type


def store(content: bytes) -> ContentFile:
    """The encrypted file to save in a Document's FileField (name carries no content hash)."""
    return ContentFile(encrypt_bytes(content), name=f"{uuid.uuid4().hex}.bin")


def read(document) -> bytes:
    """The plain bytes of a stored document."""
    with default_storage.open(document.file.name, "rb") as handle:
        return decrypt_bytes(handle.read())


def rotate_file(name: str) -> None:
    """Re-encrypt one stored file with the newest key (encrypts a file stored before encryption)."""
    with default_storage.open(name, "rb") as handle:
        blob = handle.read()
    rotated = rotate_bytes(blob)
    if hasattr(default_storage, "path"):
        import os
        import tempfile

        path = default_storage.path(name)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as out:
            out.write(rotated)
        os.replace(tmp, path)  # atomic: a crash leaves the old or the new token, never half
    else:  # pragma: no cover - object storages overwrite in one PUT
        default_storage.delete(name)
        default_storage.save(name, ContentFile(rotated))
