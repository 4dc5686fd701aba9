"""The daily run report as an HTML page and a PDF (WeasyPrint), from one template."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string

from . import selectors
from .models import DailyRun


def report_html(*, daily_run: DailyRun, user=None) -> str:
    """The report as `user` may see it (their firm only); without a user, the whole platform's."""
    return render_to_string("reconciliation/run_report.html", {"report": selectors.run_report(daily_run, user=user)})


def render_report(*, daily_run: DailyRun) -> dict[str, Path]:
    from weasyprint import HTML

    html = report_html(daily_run=daily_run)
    folder = Path(settings.MEDIA_ROOT) / "recon_reports"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"recon-{daily_run.as_of}" + (f"-firm-{daily_run.firm_id}" if daily_run.firm_id else "")
    html_path = folder / f"{stem}.html"
    pdf_path = folder / f"{stem}.pdf"
    html_path.write_text(html)
    HTML(string=html).write_pdf(pdf_path)
    return {"html": html_path, "pdf": pdf_path}
