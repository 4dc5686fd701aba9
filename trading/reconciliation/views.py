"""The daily run report as a page and as a PDF, for operations and compliance staff."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseForbidden

from .models import DailyRun
from .reports import report_html

REPORT_ROLES = {"operations", "compliance_officer"}


@login_required
def run_report_view(request, as_of: str):
    if not (request.user.is_staff or request.user.role in REPORT_ROLES):
        return HttpResponseForbidden("reconciliation reports are for operations and compliance")
    try:
        day = dt.date.fromisoformat(as_of)
    except ValueError:
        raise Http404("not a date") from None
    from .selectors import sees_all_firms

    day_runs = DailyRun.objects.filter(as_of=day)
    platform = day_runs.filter(firm__isnull=True).first()
    # a firm user reads their firm's own run for the day (its lines only); platform staff the whole run
    daily = platform if sees_all_firms(request.user) else (
        day_runs.filter(firm_id=request.user.firm_id).first() or platform)
    if daily is None:
        raise Http404("no daily run for this date")
    html = report_html(daily_run=daily, user=request.user)  # the user's firm only, page and PDF alike
    if request.GET.get("format") == "pdf":
        from weasyprint import HTML

        response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="recon-{day}.pdf"'
        return response
    return HttpResponse(html)
