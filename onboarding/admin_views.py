"""Admin pages beyond the model admins: the officer's work queues."""
from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse

from .requirements import work_queues


def work_queues_view(request):
    queues = [provider(request.user) for _name, provider in sorted(work_queues().items())]
    context = {**admin.site.each_context(request), "title": "Work queues", "queues": queues,
               "total": sum(q.count for q in queues)}
    return TemplateResponse(request, "admin/work_queues.html", context)
