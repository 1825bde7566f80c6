"""Prometheus metrics, one registry per app (tests build many apps in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _QueueDepth(Collector):
    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "autofine_review_queue_depth", "Cases waiting for a human decision", labels=["violation_type"]
        )
        try:
            for violation_type, count in sorted(self._read().items()):
                family.add_metric([violation_type], count)
        except Exception:  # a scrape must not fail because the DB is briefly unavailable
            pass
        yield family


class Metrics:
    def __init__(self, queue_depth: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.intake = Counter(
            "autofine_intake_total", "Violation posts by outcome", ["outcome"], registry=self.registry
        )
        self.decisions = Counter(
            "autofine_decisions_total", "Reviewer decisions by action", ["action"], registry=self.registry
        )
        self.decision_latency = Histogram(
            "autofine_decision_latency_seconds",
            "Time from claiming a case to deciding it",
            buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=self.registry,
        )
        self.errors = Counter(
            "autofine_http_errors_total",
            "Responses with status >= 400 by status",
            ["status"],
            registry=self.registry,
        )
        self.registry.register(_QueueDepth(queue_depth))
