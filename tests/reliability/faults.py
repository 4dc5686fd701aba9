"""Helpers for the fault tests: hold a PostgreSQL row lock from a side connection so a task (or a
request) stops at a known point inside its transaction, see it waiting, kill what runs it.

Nothing here touches production code: the task waits on an ordinary row lock (an INSERT with a
foreign key takes KEY SHARE on the referenced row, which our FOR UPDATE blocks)."""
from __future__ import annotations

import os
import signal
import time

import psycopg
from django.db import connection


def side_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                           dbname=db["NAME"], autocommit=False)


class RowLock:
    """SELECT ... FOR UPDATE on one row, held in its own transaction until release()."""

    def __init__(self, model, pk):
        self.conn = side_connection()
        self.conn.execute(f'SELECT 1 FROM "{model._meta.db_table}" WHERE id = %s FOR UPDATE', [pk])
        self.pid = self.conn.info.backend_pid

    def waiters(self) -> list[dict]:
        """Backends of this database waiting on a lock: on ours, or on a backend that waits on ours
        (a redelivered task may wait on the row the killed attempt wrote)."""
        with side_connection() as probe:
            rows = probe.execute(
                "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> %s ORDER BY backend_start", [self.pid]).fetchall()
        return [{"pid": pid, "query": query} for pid, query in rows]

    def wait_for_waiters(self, n: int = 1, timeout: float = 60) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.waiters()
            if len(found) >= n:
                return found
            time.sleep(0.2)
        raise AssertionError(f"expected {n} backend(s) waiting on the row lock within {timeout} s, "
                             f"found {self.waiters()}")

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def active_tasks(app, name: str) -> list[dict]:
    active = app.control.inspect(timeout=2.0).active() or {}
    return [t for tasks in active.values() for t in tasks if t["name"] == name]


def kill_children_running(app, name: str) -> list[int]:
    """SIGKILL the pool processes that execute `name` now (the worker's main process stays and,
    with acks_late + reject_on_worker_lost, puts the message back on the queue)."""
    pids = sorted({t["worker_pid"] for t in active_tasks(app, name)})
    assert pids, f"no worker process is running {name}"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def wait_until(predicate, *, timeout: float = 60, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class CommitGate:
    """Make every transaction that inserted into `table` wait at its COMMIT: a deferred constraint
    trigger (created in the test database only, dropped on release) takes a shared advisory lock
    that this gate holds exclusively. Lets a test kill a worker whose COMMIT is in flight."""

    KEY = 4242

    def __init__(self, table: str):
        self.table = table
        with side_connection() as ddl:
            ddl.execute("CREATE OR REPLACE FUNCTION reliability_commit_gate() RETURNS trigger LANGUAGE plpgsql AS "
                        f"$$ BEGIN PERFORM pg_advisory_xact_lock_shared({self.KEY}); RETURN NULL; END $$")
            ddl.execute(f'DROP TRIGGER IF EXISTS reliability_commit_gate ON "{table}"')
            ddl.execute(f'CREATE CONSTRAINT TRIGGER reliability_commit_gate AFTER INSERT ON "{table}" '
                        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reliability_commit_gate()")
            ddl.commit()
        self.conn = side_connection()
        self.conn.execute("SELECT pg_advisory_lock(%s)", [self.KEY])
        self.pid = self.conn.info.backend_pid

    waiters = RowLock.waiters
    wait_for_waiters = RowLock.wait_for_waiters

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.execute("SELECT pg_advisory_unlock_all()")
            self.conn.commit()
            self.conn.close()

    def drop(self) -> None:
        self.release()
        with side_connection() as ddl:
            ddl.execute(f'DROP TRIGGER IF EXISTS reliability_commit_gate ON "{self.table}"')
            ddl.commit()
