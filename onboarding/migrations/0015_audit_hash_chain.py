"""The audit hash chain: chain columns on the audit row, the per-firm watermark and the integrity
alert. The append-only triggers are recreated so that the one permitted change is setting an
unchained row's chain columns, once, with every other column unchanged (SQLite's table remake
for the new columns drops its triggers, so they are recreated here in any case)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

PG_SQL = """
CREATE OR REPLACE FUNCTION meridian_audit_update_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.hash = '' AND NEW.hash <> '' AND OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
       AND (to_jsonb(NEW) - 'hash' - 'prev_hash' - 'chain_seq') = (to_jsonb(OLD) - 'hash' - 'prev_hash' - 'chain_seq') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (UPDATE refused)' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS onboarding_auditevent_append_only ON onboarding_auditevent;
CREATE TRIGGER onboarding_auditevent_append_only
    BEFORE DELETE ON onboarding_auditevent
    FOR EACH ROW EXECUTE FUNCTION meridian_refuse_audit_change();
DROP TRIGGER IF EXISTS onboarding_auditevent_update_guard ON onboarding_auditevent;
CREATE TRIGGER onboarding_auditevent_update_guard
    BEFORE UPDATE ON onboarding_auditevent
    FOR EACH ROW EXECUTE FUNCTION meridian_audit_update_guard();
"""
PG_REVERSE = """
DROP TRIGGER IF EXISTS onboarding_auditevent_update_guard ON onboarding_auditevent;
DROP FUNCTION IF EXISTS meridian_audit_update_guard();
DROP TRIGGER IF EXISTS onboarding_auditevent_append_only ON onboarding_auditevent;
CREATE TRIGGER onboarding_auditevent_append_only
    BEFORE UPDATE OR DELETE ON onboarding_auditevent
    FOR EACH ROW EXECUTE FUNCTION meridian_refuse_audit_change();
"""
_CONTENT = ("id", "firm_id", "actor_id", "subject_type", "subject_id", "event_type", "from_state", "to_state",
            "reason", "detail", "created_at")
SQLITE_SQL = [
    "DROP TRIGGER IF EXISTS onboarding_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS onboarding_auditevent_no_delete;",
    f"""CREATE TRIGGER onboarding_auditevent_no_update BEFORE UPDATE ON onboarding_auditevent
       WHEN NOT (OLD.hash = '' AND NEW.hash <> '' AND OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
                 AND {' AND '.join(f'NEW.{c} IS OLD.{c}' for c in _CONTENT)})
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)'); END;""",
    """CREATE TRIGGER onboarding_auditevent_no_delete BEFORE DELETE ON onboarding_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only (DELETE refused)'); END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS onboarding_auditevent_no_update;",
    """CREATE TRIGGER onboarding_auditevent_no_update BEFORE UPDATE ON onboarding_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)'); END;""",
]


def triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement)


def triggers_back(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('onboarding', '0014_merge_0013_audit_no_truncate_0013_merge_20261204_1958'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditChainHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('chain_key', models.BigIntegerField(unique=True)),
                ('last_seq', models.BigIntegerField(default=0)),
                ('last_event_id', models.BigIntegerField(default=0)),
                ('last_hash', models.CharField(blank=True, default='', max_length=64)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name='AuditIntegrityAlert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.BigIntegerField(help_text='The first audit row that does not prove')),
                ('problem', models.CharField(max_length=200)),
                ('expected', models.CharField(blank=True, max_length=64)),
                ('found', models.CharField(blank=True, max_length=64)),
                ('raised_at', models.DateTimeField(auto_now_add=True)),
                ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-raised_at'],
            },
        ),
        migrations.AddField(
            model_name='auditevent',
            name='chain_seq',
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['firm', 'chain_seq'], name='onboarding_audit_chain_idx'),
        ),
        migrations.AddField(
            model_name='auditintegrityalert',
            name='acknowledged_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='auditintegrityalert',
            name='firm',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='onboarding.firm'),
        ),
        migrations.RunPython(triggers, triggers_back),
    ]
