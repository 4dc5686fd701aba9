"""`Idempotency-Key` on POST: the first request's response is stored and replayed for a retry
with the same key and body; the same key with a different body is refused (422)."""
from __future__ import annotations

import hashlib
import json
from functools import wraps

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from rest_framework.response import Response

from ..models import IdempotencyRecord
from .errors import error_body

HEADER = "HTTP_IDEMPOTENCY_KEY"


def _file_digest(upload) -> str:
    """An uploaded file stands in the request hash by its content's SHA-256 (not its name), so the
    same key with a different file is refused instead of replaying the first document."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return f"file:sha256:{digest.hexdigest()}:{upload.size}"


def _request_hash(request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # a multipart QueryDict: keep every value, files by their content
        data = {key: [_file_digest(v) if isinstance(v, UploadedFile) else v for v in values]
                for key, values in data.lists()}
    try:
        body = json.dumps(data, sort_keys=True, default=str)
    except TypeError:
        body = repr(data)
    return hashlib.sha256(f"{request.method} {request.path} {body}".encode()).hexdigest()


def idempotent(view_method):
    """Wrap a DRF view method (create or a POST action)."""

    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.META.get(HEADER)
        if not key or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 255:
            return error_body("idempotency_key_invalid", "Idempotency-Key is longer than 255 characters")
        digest = _request_hash(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        user=request.user, key=key, method=request.method, path=request.path[:500], request_hash=digest
                    )
            except IntegrityError:
                record = IdempotencyRecord.objects.select_for_update().get(user=request.user, key=key)
                if record.request_hash != digest:
                    return error_body("idempotency_key_reused",
                                      "this Idempotency-Key was used with a different request", status_code=422)
                if record.status_code is None:
                    return error_body("idempotency_in_progress", "the first request with this key is still running",
                                      status_code=409)
                response = Response(record.response_body, status=record.status_code)
                response["Idempotent-Replayed"] = "true"
                return response
            response = view_method(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                record.status_code = response.status_code
                record.response_body = response.data
                record.save(update_fields=["status_code", "response_body"])
            else:
                record.delete()  # an error is not remembered: the client may fix and retry
            return response

    wrapper.idempotent = True  # the schema documents Idempotency-Key here (onboarding.api.schema.AutoSchema)
    return wrapper
