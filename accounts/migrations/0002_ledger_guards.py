"""The ledger guards itself in the database.

- Transactions and movements are append-only: UPDATE and DELETE are refused (corrections are
  reversing transactions).
- A security leg that takes quantity out (sell, transfer out, ratio change) may not take a long
  position below zero: only legs flagged `is_short` (short sale, cover) may. On PostgreSQL the
  check takes a transaction-scoped advisory lock on (custody account, instrument) so two
  concurrent sells cannot both pass.
"""
from django.db import migrations

PG_SQL = """
CREATE OR REPLACE FUNCTION accounts_refuse_ledger_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only (% on % refused)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION accounts_refuse_negative_long() RETURNS trigger AS $$
DECLARE
    held numeric;
BEGIN
    IF NEW.leg = 'security' AND NEW.quantity < 0 AND NOT NEW.is_short THEN
        PERFORM pg_advisory_xact_lock(hashtext('accounts_position'), hashtext(NEW.custody_account_id::text || ':' || NEW.instrument_id::text));
        SELECT COALESCE(SUM(quantity), 0) INTO held
          FROM accounts_movement
         WHERE custody_account_id = NEW.custody_account_id
           AND instrument_id = NEW.instrument_id
           AND sleeve_id IS NOT DISTINCT FROM NEW.sleeve_id
           AND leg = 'security'
           AND NOT is_short;
        IF held + NEW.quantity < 0 THEN
            RAISE EXCEPTION 'position would go negative: custody account %, instrument %, held %, movement %',
                NEW.custody_account_id, NEW.instrument_id, held, NEW.quantity
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS accounts_transaction_append_only ON accounts_transaction;
CREATE TRIGGER accounts_transaction_append_only BEFORE UPDATE OR DELETE ON accounts_transaction
    FOR EACH ROW EXECUTE FUNCTION accounts_refuse_ledger_change();
DROP TRIGGER IF EXISTS accounts_movement_append_only ON accounts_movement;
CREATE TRIGGER accounts_movement_append_only BEFORE UPDATE OR DELETE ON accounts_movement
    FOR EACH ROW EXECUTE FUNCTION accounts_refuse_ledger_change();
DROP TRIGGER IF EXISTS accounts_movement_no_negative_long ON accounts_movement;
CREATE TRIGGER accounts_movement_no_negative_long BEFORE INSERT ON accounts_movement
    FOR EACH ROW EXECUTE FUNCTION accounts_refuse_negative_long();
"""
PG_REVERSE = """
DROP TRIGGER IF EXISTS accounts_transaction_append_only ON accounts_transaction;
DROP TRIGGER IF EXISTS accounts_movement_append_only ON accounts_movement;
DROP TRIGGER IF EXISTS accounts_movement_no_negative_long ON accounts_movement;
DROP FUNCTION IF EXISTS accounts_refuse_ledger_change();
DROP FUNCTION IF EXISTS accounts_refuse_negative_long();
"""
SQLITE_SQL = [
    f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table}
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only ({op} on {table} refused)'); END;"""
    for table in ("accounts_transaction", "accounts_movement")
    for op in ("UPDATE", "DELETE")
] + [
    """CREATE TRIGGER IF NOT EXISTS accounts_movement_no_negative_long BEFORE INSERT ON accounts_movement
       WHEN NEW.leg = 'security' AND NEW.quantity < 0 AND NOT NEW.is_short
       BEGIN
         SELECT RAISE(ABORT, 'position would go negative')
          WHERE (SELECT COALESCE(SUM(quantity), 0) FROM accounts_movement
                  WHERE custody_account_id = NEW.custody_account_id
                    AND instrument_id = NEW.instrument_id
                    AND sleeve_id IS NEW.sleeve_id
                    AND leg = 'security' AND NOT is_short) + NEW.quantity < -0.000000001;
       END;"""
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {table}_no_{op.lower()};"
    for table in ("accounts_transaction", "accounts_movement")
    for op in ("UPDATE", "DELETE")
] + ["DROP TRIGGER IF EXISTS accounts_movement_no_negative_long;"]


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
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
