"""Celery tasks: ids in, a service call, safe to run twice.

The daily run reconciles every custodian's files for a date in parallel (a chord: one task
per file, then the finishing task that closes the daily run and renders its report). Files
are found in the inbox `RECON_INBOX/<YYYY-MM-DD>/<CUSTODIAN>/`; a file already received
(same SHA-256) does nothing, so re-running a day is harmless."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from celery import chord, shared_task
from django.conf import settings

from .models import DailyRun, ReconRun

logger = logging.getLogger(__name__)


def inbox_root() -> Path:
    return Path(getattr(settings, "RECON_INBOX", Path(settings.MEDIA_ROOT) / "custodian_inbox"))


def inbox_files(as_of: dt.date) -> list[tuple[str, str, str | None]]:
    """(custodian code, path, format) for every file in the day's inbox. The format comes from the
    custodian's formats on file (`CustodianFormat`, by file pattern); None lets the content tell."""
    from .selectors import format_for_file

    day = inbox_root() / as_of.isoformat()
    out: list[tuple[str, str, str | None]] = []
    if not day.exists():
        return out
    for cdir in sorted(p for p in day.iterdir() if p.is_dir()):
        for f in sorted(p for p in cdir.iterdir() if p.is_file() and not p.name.startswith(".")):
            out.append((cdir.name, str(f), format_for_file(cdir.name, f.name, on=as_of)))
    return out


@shared_task(name="reconciliation.reconcile_custodian_file")
def reconcile_custodian_file(daily_run_id: int, custodian_code: str, path: str, fmt: str | None) -> dict:
    from onboarding.exceptions import MeridianError

    from .services import daily_run_refuse_file, reconcile_file

    daily = DailyRun.objects.get(pk=daily_run_id)
    try:
        outcome = reconcile_file(custodian_code=custodian_code, path=path, fmt=fmt, as_of=daily.as_of,
                                 daily_run=daily)
    except MeridianError as exc:  # refused, unknown format, unknown layout: listed with the reason
        run = daily_run_refuse_file(daily_run=daily, custodian_code=custodian_code, path=path, reason=exc.message,
                                    detail=exc.detail)
        return {"custodian": custodian_code, "run": run.pk, "refused": exc.message}
    except Exception as exc:  # noqa: BLE001 - a file must never leave the day `running`
        logger.exception("reconciliation of %s failed", path)
        run = daily_run_refuse_file(daily_run=daily, custodian_code=custodian_code, path=path,
                                    reason=f"could not be read: {type(exc).__name__}: {exc}"[:500])
        return {"custodian": custodian_code, "run": run.pk, "refused": run.stats["refused"]}
    if outcome.duplicate and outcome.run is not None and outcome.run.daily_run_id is None:
        ReconRun.objects.filter(pk=outcome.run.pk).update(daily_run=daily)
    return {"custodian": custodian_code, "run": outcome.run.pk if outcome.run else None,
            "duplicate": outcome.duplicate}


@shared_task(name="reconciliation.finish_daily_run")
def finish_daily_run(results, daily_run_id: int) -> dict:
    from .reports import render_report
    from .services import daily_run_finish

    run = daily_run_finish(daily_run_id=daily_run_id)
    paths = render_report(daily_run=run)
    for firm_run in run.firm_runs.all():  # each firm's own report: its lines only
        render_report(daily_run=firm_run)
    return {"daily_run": run.pk, "status": run.status, "results": results, **{k: str(v) for k, v in paths.items()}}


@shared_task(name="reconciliation.daily_run")
def daily_run(as_of: str | None = None) -> int:
    """Beat can call it without arguments: the statements of the previous day."""
    from .services import daily_run_start

    date = dt.date.fromisoformat(as_of) if as_of else dt.date.today() - dt.timedelta(days=1)
    run = daily_run_start(as_of=date)
    files = inbox_files(date)
    header = [reconcile_custodian_file.s(run.pk, c, p, f) for c, p, f in files]
    if header:
        chord(header)(finish_daily_run.s(run.pk))
    else:
        finish_daily_run.delay([], run.pk)
    return run.pk
