"""Task lifecycle lines and Prometheus metrics, fed by the task domain's events and the HTTP layer.

Counters and histograms count what this process did; the gauges of queued and running tasks are read
from the database at each scrape, so every server sharing one database reports the same queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

from taxiway.tasks.events import TaskEvent, TaskEventKind
from taxiway.tasks.state import TaskStatus

log = logging.getLogger("taxiway.tasks")

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Generation takes from a tenth of a second (an image offline) to many minutes (a video on a GPU).
RUN_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)
HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
QUEUED = (TaskStatus.PENDING, TaskStatus.THROTTLED)


class Telemetry:
    """One per app: its own registry, so several apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        process_collector.ProcessCollector(registry=registry)
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
        self.created = Counter(
            "taxiway_tasks_created", "Tasks accepted", ["endpoint", "model"], registry=registry
        )
        self.finished = Counter(
            "taxiway_tasks_finished",
            "Tasks that reached a terminal status",
            ["endpoint", "model", "status"],
            registry=registry,
        )
        self.failures = Counter(
            "taxiway_task_failures", "Failed tasks by failure code", ["model", "code"], registry=registry
        )
        self.requeued = Counter(
            "taxiway_tasks_requeued", "Interrupted runs queued again at start-up", ["model"],
            registry=registry,
        )  # fmt: skip
        self.credits = Counter(
            "taxiway_credits_spent", "Credits charged for finished tasks (refunds excluded)", ["model"],
            registry=registry,
        )  # fmt: skip
        self.run_seconds = Histogram(
            "taxiway_task_run_seconds",
            "Time from start to a terminal status",
            ["model", "engine", "status"],
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.queue_seconds = Histogram(
            "taxiway_task_queue_seconds",
            "Time from creation to start",
            ["model"],
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.active = Gauge(
            "taxiway_tasks", "Tasks queued or running, from the database", ["model", "status"],
            registry=registry,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "taxiway_queue_depth", "Tasks waiting to start (PENDING and THROTTLED)", registry=registry
        )
        self.busy_workers = Gauge(
            "taxiway_engine_workers_busy", "Engine workers running a task in this process", registry=registry
        )
        self.workers = Gauge("taxiway_engine_workers", "Engine workers in this process", registry=registry)
        self.http_requests = Counter(
            "taxiway_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_seconds = Histogram(
            "taxiway_http_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )

    def record(self, event: TaskEvent) -> None:
        """The task observer: one log line per event and the matching counters. Never raises: it is
        called after the change is committed, where an error would misreport the request."""
        try:
            self._record(event)
        except Exception:
            log.exception("could not record task event %s", event)

    def _record(self, event: TaskEvent) -> None:
        kind, model = event.kind, event.model
        engine = event.engine or "-"
        fields = {
            "event": f"task.{kind.value}",
            "task_id": event.task_id,
            "organization_id": event.organization_id,
            "endpoint": event.endpoint,
            "model": model,
            "engine": event.engine,
            "credits": event.credits,
            "seconds": round(event.seconds, 3) if event.seconds is not None else None,
            "attempt": event.attempt,
            "failure_code": event.failure_code,
        }
        if kind is TaskEventKind.CREATED:
            self.created.labels(event.endpoint, model).inc()
            log.info(
                "task %s created: %s %s on %s, %d credits reserved",
                event.task_id, event.endpoint, model, engine, event.credits, extra=fields,
            )  # fmt: skip
            return
        if kind is TaskEventKind.STARTED:
            if event.seconds is not None:
                self.queue_seconds.labels(model).observe(event.seconds)
            log.info(
                "task %s started: %s on %s, attempt %d, queued %s",
                event.task_id, model, engine, event.attempt, _seconds(event.seconds), extra=fields,
            )  # fmt: skip
            return
        if kind is TaskEventKind.REQUEUED:
            self.requeued.labels(model).inc()
            log.info(
                "task %s was interrupted after %d runs: queued again",
                event.task_id, event.attempt, extra=fields,
            )  # fmt: skip
            return
        status = {
            TaskEventKind.SUCCEEDED: TaskStatus.SUCCEEDED,
            TaskEventKind.FAILED: TaskStatus.FAILED,
            TaskEventKind.CANCELLED: TaskStatus.CANCELLED,
        }[kind]
        self.finished.labels(event.endpoint, model, status.value).inc()
        if event.credits:
            self.credits.labels(model).inc(event.credits)
        if event.seconds is not None:
            self.run_seconds.labels(model, engine, status.value).observe(event.seconds)
        ran = f"after {_seconds(event.seconds)}" if event.seconds is not None else "before it started"
        if kind is TaskEventKind.FAILED:
            code = event.failure_code or "INTERNAL"
            self.failures.labels(model, code).inc()
            level = logging.WARNING if code.startswith("INTERNAL") else logging.INFO
            log.log(
                level,
                "task %s failed (%s): %s on %s %s, %d credits charged",
                event.task_id, code, model, engine, ran, event.credits, extra=fields,
            )  # fmt: skip
        elif kind is TaskEventKind.SUCCEEDED:
            log.info(
                "task %s succeeded: %s on %s in %s, %d credits",
                event.task_id, model, engine, _seconds(event.seconds), event.credits, extra=fields,
            )  # fmt: skip
        else:
            log.info(
                "task %s cancelled: %s on %s %s, %d credits charged",
                event.task_id, model, engine, ran, event.credits, extra=fields,
            )  # fmt: skip

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_seconds.labels(method, route).observe(seconds)

    def exposition(self, active: Iterable[tuple[str, str, int]], busy_workers: int, workers: int) -> bytes:
        """The text format, after setting the gauges from `active`: (model, status, count) rows."""
        self.active.clear()
        waiting = 0
        for model, status, count in active:
            self.active.labels(model, status).set(count)
            if status in QUEUED:
                waiting += count
        self.queue_depth.set(waiting)
        self.busy_workers.set(busy_workers)
        self.workers.set(workers)
        return generate_latest(self.registry)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
