"""More ledger invariants held by the database, across rows:

- A movement belongs to the same account as its transaction and as its custody account
  (PostgreSQL and SQLite).
- A transaction has at least one movement when its database transaction commits (PostgreSQL: a
  deferred constraint trigger, as django-hordak keeps its ledger balanced).
"""
from django.db import migrations

PG_SQL = """
CREATE OR REPLACE FUNCTION accounts_movement_same_account() RETURNS trigger AS $$
BEGIN
    IF NEW.account_id <> (SELECT account_id FROM accounts_transaction WHERE id = NEW.transaction_id)
       OR NEW.account_id <> (SELECT account_id FROM accounts_custodyaccount WHERE id = NEW.custody_account_id) THEN
        RAISE EXCEPTION 'movement account % differs from its transaction''s or custody account''s', NEW.account_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION accounts_transaction_has_legs() RETURNS trigger AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM accounts_movement WHERE transaction_id = NEW.id) THEN
        RAISE EXCEPTION 'transaction % has no movements', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS accounts_movement_same_account ON accounts_movement;
CREATE TRIGGER accounts_movement_same_account BEFORE INSERT ON accounts_movement
    FOR EACH ROW EXECUTE FUNCTION accounts_movement_same_account();
DROP TRIGGER IF EXISTS accounts_transaction_has_legs ON accounts_transaction;
CREATE CONSTRAINT TRIGGER accounts_transaction_has_legs AFTER INSERT ON accounts_transaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION accounts_transaction_has_legs();
"""
PG_REVERSE = """
DROP TRIGGER IF EXISTS accounts_movement_same_account ON accounts_movement;
DROP TRIGGER IF EXISTS accounts_transaction_has_legs ON accounts_transaction;
DROP FUNCTION IF EXISTS accounts_movement_same_account();
DROP FUNCTION IF EXISTS accounts_transaction_has_legs();
"""
SQLITE_SQL = [
    """CREATE TRIGGER IF NOT EXISTS accounts_movement_same_account BEFORE INSERT ON accounts_movement
       BEGIN
         SELECT RAISE(ABORT, 'movement account differs from its transaction''s or custody account''s')
          WHERE NEW.account_id <> (SELECT account_id FROM accounts_transaction WHERE id = NEW.transaction_id)
             OR NEW.account_id <> (SELECT account_id FROM accounts_custodyaccount WHERE id = NEW.custody_account_id);
       END;"""
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS accounts_movement_same_account;"]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_custody_cash_accounts")]
    operations = [migrations.RunPython(forwards, backwards)]
