"""Encryption at rest for sensitive fields (tax ids, passport and national id numbers, dates of
birth), with key rotation, and masking for display.

Keys come from `FIELD_ENCRYPTION_KEYS` (comma-separated Fernet keys, newest first). Values are
encrypted with the first key and decrypted with any, so rotation is: put a new key first, run
`manage.py rotate_field_keys`, then drop the old key. A keyed hash (HMAC-SHA256 with
`FIELD_HASH_KEY`) gives equality look-ups and uniqueness without decrypting.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc:"


def _derive(secret: str, label: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(f"{label}:{secret}".encode()).digest())


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key ({exc})") from exc


def _keys() -> tuple[str, ...]:
    keys = tuple(getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) or ())
    if keys:
        return keys
    if not settings.SECRET_KEY:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS or SECRET_KEY is needed to encrypt sensitive fields")
    return (_derive(settings.SECRET_KEY, "field-encryption").decode(),)


def encrypt(value: str) -> str:
    return PREFIX + _fernet(_keys()).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    if not token.startswith(PREFIX):
        return token  # a value written before encryption was switched on
    try:
        return _fernet(_keys()).decrypt(token[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("a sensitive field cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    if not token.startswith(PREFIX):
        return encrypt(token)
    return PREFIX + _fernet(_keys()).rotate(token[len(PREFIX):].encode()).decode()


def blind_index(value: str) -> str:
    key = getattr(settings, "FIELD_HASH_KEY", "") or settings.SECRET_KEY
    return hmac.new(key.encode(), value.strip().upper().encode(), hashlib.sha256).hexdigest()


def mask(value: str | None, *, visible: int = 4) -> str:
    """'536904399' -> '•••••4399'; short values are masked whole."""
    if not value:
        return ""
    text = str(value)
    if len(text) <= visible + 2:
        return "•" * len(text)
    return "•" * (len(text) - visible) + text[-visible:]


class EncryptedTextField(models.TextField):
    """A string stored encrypted. Not queryable by value: use a blind-index column beside it."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def to_python(self, value):
        if value is None or not isinstance(value, str):
            return value
        return decrypt(value) if value.startswith(PREFIX) else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(str(value))


class EncryptedDateField(models.TextField):
    """A date stored encrypted; reads back as `datetime.date`."""

    # what django-stubs should take the attribute to hold (a date, not the column's text)
    _pyi_private_set_type: dt.date | str | None
    _pyi_private_get_type: dt.date | None

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return None
        return dt.date.fromisoformat(decrypt(value))

    def to_python(self, value):
        if value in (None, "") or isinstance(value, dt.date):
            return value or None
        text = decrypt(value) if value.startswith(PREFIX) else value
        return dt.date.fromisoformat(text)

    def get_prep_value(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        return encrypt(value.isoformat())

    def formfield(self, **kwargs):
        from django import forms

        return forms.DateField(**{"required": not self.blank, **kwargs})


# --- Files -----------------------------------------------------------------------------------
# Uploaded documents are stored as a Fernet token of their bytes, behind this marker, with the
# same keys as the fields (so `rotate_field_keys` rotates them too). A file without the marker
# was written before encryption at rest and is read as it is (rotation encrypts it).

FILE_PREFIX = b"MERIDIAN-ENC1\n"


def encrypt_bytes(content: bytes) -> bytes:
    return FILE_PREFIX + _fernet(_keys()).encrypt(content)


def is_encrypted_bytes(blob: bytes) -> bool:
    return blob.startswith(FILE_PREFIX)


def decrypt_bytes(blob: bytes) -> bytes:
    if not blob.startswith(FILE_PREFIX):
        return blob
    try:
        return _fernet(_keys()).decrypt(blob[len(FILE_PREFIX):])
    except InvalidToken as exc:
        raise ImproperlyConfigured("a stored document cannot be decrypted with the configured keys") from exc


def rotate_bytes(blob: bytes) -> bytes:
    if not blob.startswith(FILE_PREFIX):
        return encrypt_bytes(blob)
    return FILE_PREFIX + _fernet(_keys()).rotate(blob[len(FILE_PREFIX):])


def check_keys(keys) -> list[str]:
    """Problems with a list of Fernet keys (empty when every key is usable)."""
    problems = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode() if isinstance(key, str) else key)
        except (ValueError, TypeError) as exc:
            problems.append(f"key {position} is not a Fernet key ({exc})")
    return problems
