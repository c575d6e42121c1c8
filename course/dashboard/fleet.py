"""Is the grading fleet healthy? Queue depth (Redis), workers (Celery ping), latency (our rows),
and each worker process's warm runtimes (published to Redis by the workers, sandbox.fleet)."""

import json
import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from config.celery import app
from sandbox.fleet import POOL_STATUS_PREFIX
from sandbox.models import Submission

QUEUES = ("grading", "regrade", "interactive")


@dataclass(frozen=True)
class Latency:
    count: int
    median_ms: float | None
    p95_ms: float | None
    wait_median_ms: float | None  # queued → a worker picked it up


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in each queue (None when the broker does not answer)."""
    try:
        with app.connection_for_read() as conn:
            client = conn.default_channel.client
            return {name: int(client.llen(name)) for name in QUEUES}
    except Exception:
        return dict.fromkeys(QUEUES)


def workers(timeout: float = 1.0) -> list[str] | None:
    """Names of the workers that answered a ping, or None when the broker does not answer."""
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception:
        return None
    return sorted(name for reply in replies for name in reply)


def latency(*, window: timedelta = timedelta(hours=1)) -> Latency:
    rows = Submission.objects.filter(
        finished_at__gte=timezone.now() - window, started_at__isnull=False
    ).values_list("queued_at", "started_at", "finished_at")
    totals = sorted((f - q).total_seconds() * 1000 for q, s, f in rows)
    waits = [(s - q).total_seconds() * 1000 for q, s, f in rows]
    if not totals:
        return Latency(0, None, None, None)
    p95 = totals[min(len(totals) - 1, round(0.95 * (len(totals) - 1)))]
    return Latency(len(totals), statistics.median(totals), p95, statistics.median(waits))


def stuck_count() -> int:
    return Submission.objects.filter(
        status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING],
        queued_at__lt=timezone.now() - timedelta(minutes=2),
    ).count()


def recent_isolation() -> list[str]:
    recent = (
        Submission.objects.exclude(isolation="")
        .order_by("-finished_at")
        .values_list("isolation", flat=True)[:50]
    )
    return sorted(set(recent))


def warm_pools() -> list[dict] | None:
    """Each worker process's pool and fork servers, as it last published them (None: no broker)."""
    try:
        with app.connection_for_read() as conn:
            client = conn.default_channel.client
            keys = sorted(client.scan_iter(f"{POOL_STATUS_PREFIX}*", count=100))
            values = client.mget(keys) if keys else []
    except Exception:
        return None
    pools = []
    for raw in values:
        if raw:
            status = json.loads(raw)
            status["age_s"] = max(0, round(timezone.now().timestamp() - status.pop("updated", 0)))
            pools.append(status)
    return pools
