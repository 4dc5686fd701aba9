"""Re-encrypt every sensitive field, and every stored document, with the newest key in FIELD_ENCRYPTION_KEYS."""
from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from onboarding.crypto import rotate
from onboarding.documents import rotate_file
from onboarding.models import Document

COLUMNS = [
    ("onboarding_partyidentifier", "value"),
    ("onboarding_taxresidence", "tin"),
    ("onboarding_party", "date_of_birth"),
]


class Command(BaseCommand):
    help = "Re-encrypt sensitive fields and documents with the newest key (run after adding a key first in the list)."

    def handle(self, *args, **options):
        total = 0
        with transaction.atomic(), connection.cursor() as cursor:
            for table, column in COLUMNS:
                cursor.execute(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> ''")
                rows = [(rotate(value), pk) for pk, value in cursor.fetchall()]
                cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE id = %s", rows)
                total += len(rows)
        files = 0
        for name in Document.objects.exclude(file="").values_list("file", flat=True).iterator():
            rotate_file(name)  # each file replaced atomically; a rerun after a crash finishes the rest
            files += 1
        self.stdout.write(f"re-encrypted {total} value(s) and {files} document(s)")
