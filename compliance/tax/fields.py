"""An encrypted JSON field for tax form data (TINs, dates of birth, addresses), using the
project's field encryption (onboarding.crypto, Fernet with key rotation)."""
from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from onboarding.crypto import PREFIX, decrypt, encrypt


class EncryptedJSONField(models.TextField):
    """A JSON value stored encrypted. Not queryable by content."""

    # what django-stubs should take the attribute to hold (the decoded JSON, not the column's text)
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value, expression, connection):
        return self._load(value)

    def to_python(self, value):
        if isinstance(value, str):
            return self._load(value)
        return value

    def get_prep_value(self, value: Any):
        if value is None:
            return None
        return encrypt(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))

    def value_to_string(self, obj) -> str:
        return json.dumps(self.value_from_object(obj), cls=DjangoJSONEncoder)

    @staticmethod
    def _load(value):
        if value in (None, ""):
            return {} if value == "" else None
        text = decrypt(value) if value.startswith(PREFIX) else value  # rows from before encryption
        return json.loads(text)
