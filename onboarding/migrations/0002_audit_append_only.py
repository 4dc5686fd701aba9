"""The audit trail is append-only in the database itself: UPDATE and DELETE are refused."""
from django.db import migrations

PG_SQL = """
CREATE OR REPLACE FUNCTION meridian_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS onboarding_auditevent_append_only ON onboarding_auditevent;
CREATE TRIGGER onboarding_auditevent_append_only
    BEFORE UPDATE OR DELETE ON onboarding_auditevent
    FOR EACH ROW EXECUTE FUNCTION meridian_refuse_audit_change();
"""
PG_REVERSE = """
DROP TRIGGER IF EXISTS onboarding_auditevent_append_only ON onboarding_auditevent;
DROP FUNCTION IF EXISTS meridian_refuse_audit_change();
"""
SQLITE_SQL = [
    """CREATE TRIGGER IF NOT EXISTS onboarding_auditevent_no_update BEFORE UPDATE ON onboarding_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)'); END;""",
    """CREATE TRIGGER IF NOT EXISTS onboarding_auditevent_no_delete BEFORE DELETE ON onboarding_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only (DELETE refused)'); END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS onboarding_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS onboarding_auditevent_no_delete;",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
