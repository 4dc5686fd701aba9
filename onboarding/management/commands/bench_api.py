"""Load benchmark: start the service under gunicorn on the configured database (PostgreSQL),
drive it from a second process on 127.0.0.1 for a bounded time, print one JSON object keyed
by path with rps, p50_ms, p99_ms and errors.

    python manage.py bench_api --json [--seconds 10] [--connections 8] [--workers 4]
"""
from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from onboarding.machine import machine

PATHS = ("case_status", "requirements", "dashboard", "case_create")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(pct / 100 * (len(ordered) - 1)))))
    return ordered[index]


def _drive(port: int, plan: dict, seconds: float, connections: int, queue) -> None:
    """Runs in a separate process: `connections` keep-alive clients for `seconds`."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = [0]

    def next_request():
        with lock:
            i = counter[0]
            counter[0] += 1
        if i >= len(plan["requests"]) and not plan.get("cycle", True):
            return None  # each request may be made once (a case per fresh party): the plan is spent
        return plan["requests"][i % len(plan["requests"])]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local, bad = [], 0
        while time.perf_counter() < deadline:
            request = next_request()
            if request is None:
                break
            method, path, body, headers = request
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            local.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            latencies.extend(local)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    queue.put({
        "requests": len(latencies), "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(_percentile(latencies, 99), 2), "errors": errors[0],
    })


class Command(BaseCommand):
    help = "Benchmark the API and the advisor dashboard under gunicorn (prints JSON)."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=10.0, help="per path")
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
        parser.add_argument("--parties", type=int, default=10000, help="fresh parties for case_create (more than it can create in the time)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_api measures the PostgreSQL path: set DATABASE_URL to a PostgreSQL database")
        from onboarding.api.auth import api_token_create
        from onboarding.bench import seed_bench_firm

        self.stderr.write("seeding the benchmark firm ...")
        bench = seed_bench_firm(parties=options["parties"])
        _, token = api_token_create(user=bench.advisor, name=f"bench-{secrets.token_hex(3)}")
        port = _free_port()
        # Production settings refuse a weak key: the server gets its own; the field keys and the blind-index
        # key are passed explicitly so that it reads what this process wrote.
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.prod",
                   SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="127.0.0.1,localhost",
                   FIELD_HASH_KEY=settings.FIELD_HASH_KEY or settings.SECRET_KEY,
                   FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS) or "",
                   SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", LOG_LEVEL="WARNING",
                   API_RATE_LIMIT="off")  # rate limits are off for the benchmark
        if not env["FIELD_ENCRYPTION_KEYS"]:
            from onboarding.crypto import _keys

            env["FIELD_ENCRYPTION_KEYS"] = ",".join(_keys())
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(options["workers"]), "-b", f"127.0.0.1:{port}",
             "--log-level", "warning", "--keep-alive", "30"],
            cwd=settings.BASE_DIR, env=env,
        )
        try:
            self._wait(port)
            session_cookie = self._login(port, bench.advisor.username, bench.password)
            auth = {"Authorization": f"Token {token}", "Accept": "application/json"}
            cases = bench.case_ids
            plans = {
                "case_status": [("GET", f"/api/v1/cases/{c}/", None, auth) for c in cases],
                "requirements": [("GET", f"/api/v1/cases/{c}/requirements/", None, auth) for c in cases],
                "dashboard": [("GET", "/", None, {"Cookie": session_cookie})],
                "case_create": [
                    ("POST", "/api/v1/cases/", json.dumps({"party": p}), {**auth, "Content-Type": "application/json"})
                    for p in bench.fresh_party_ids
                ],
            }
            results = {}
            for name in PATHS:
                queue = multiprocessing.get_context("spawn").Queue()
                proc = multiprocessing.get_context("spawn").Process(
                    target=_drive, args=(port, {"requests": plans[name], "cycle": name != "case_create"}, options["seconds"],
                                      options["connections"], queue))
                proc.start()
                results[name] = queue.get(timeout=options["seconds"] + 120)
                proc.join()
            results["_meta"] = {"workers": options["workers"], "connections": options["connections"],
                                "seconds_per_path": options["seconds"], "database": "postgresql",
                                "cases": len(cases), **machine()}
            self.stdout.write(json.dumps(results, indent=None if options["json"] else 2))
        finally:
            server.terminate()
            server.wait(timeout=30)

    def _wait(self, port: int) -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/accounts/login/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise CommandError("gunicorn did not start within 60 s")

    def _login(self, port: int, username: str, password: str) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/accounts/login/")
        response = conn.getresponse()
        response.read()
        cookies = response.headers.get_all("Set-Cookie") or []
        csrf = next(c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("csrftoken="))
        body = f"username={username}&password={password}&csrfmiddlewaretoken={csrf}"
        conn.request("POST", "/accounts/login/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}",
            "Referer": f"http://127.0.0.1:{port}/accounts/login/"})
        response = conn.getresponse()
        response.read()
        session = [c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [] if c.startswith("sessionid=")]
        if response.status != 302 or not session:
            raise CommandError(f"could not sign in for the dashboard (HTTP {response.status})")
        return "; ".join([session[0], f"csrftoken={csrf}"])

