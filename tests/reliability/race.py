"""Run one action from N threads released together by a barrier (each thread its own connection)."""
from __future__ import annotations

import threading

from django.db import close_old_connections, connection


def race(n: int, action, *, refused: tuple[type[BaseException], ...] = ()) -> list[str]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(i):
        close_old_connections()
        try:
            barrier.wait()
            action(i)
            result = "ok"
        except refused:
            result = "refused"
        except Exception as exc:  # noqa: BLE001 - recorded and asserted by the caller
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes
