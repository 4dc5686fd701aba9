"""Small, real sample documents (for demo data and tests): a one-page PDF made by pypdf."""
from __future__ import annotations

import io


def pdf_bytes(title: str = "Meridian sample document") -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
