"""Pagination of the partner API: `?page=` and `?page_size=` (default 50, at most MAX_PAGE_SIZE) on every
list, and a cursor (`?cursor=`) on the lists that grow without bound, where page numbers would drift and
deep pages would be slow. A `page_size` that is not a whole number from 1 to MAX_PAGE_SIZE is refused
(400 validation_failed), not silently replaced by the default."""
from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination

from ..exceptions import ValidationFailed

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
PAGE_SIZE_HELP = f"Results per page: a whole number from 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."


class _StrictPageSize:
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    page_size_query_description = PAGE_SIZE_HELP
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            message = f"page_size: {PAGE_SIZE_HELP[18:]}"
            raise ValidationFailed(message, detail={"page_size": [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
            if parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"].update({"minimum": 1})
        return parameters


class PageNumber(_StrictPageSize, PageNumberPagination):
    pass


class Cursor(_StrictPageSize, CursorPagination):
    """Newest first by id; follow `next` (an opaque cursor) until it is null."""

    ordering = "-id"
