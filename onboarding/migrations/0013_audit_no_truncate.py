"""TRUNCATE of the audit trail is refused by a statement trigger (PostgreSQL; SQLite has no TRUNCATE)."""
from django.db import migrations

PG_SQL = """
DROP TRIGGER IF EXISTS onboarding_auditevent_no_truncate ON onboarding_auditevent;
CREATE TRIGGER onboarding_auditevent_no_truncate
    BEFORE TRUNCATE ON onboarding_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION meridian_refuse_audit_change();
"""
PG_REVERSE = "DROP TRIGGER IF EXISTS onboarding_auditevent_no_truncate ON onboarding_auditevent;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0012_merge_20261204_1900")]
    operations = [migrations.RunPython(forwards, backwards)]
