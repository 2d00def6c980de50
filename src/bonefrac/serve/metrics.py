"""Prometheus metrics of one app instance (own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """requests, latency histogram, in-flight, queue depth, rejections, model readiness."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bonefrac_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bonefrac_request_duration_seconds",
            "Time from request arrival to answer",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inference_latency = Histogram(
            "bonefrac_inference_duration_seconds",
            "Decoding plus model time of one image",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "bonefrac_requests_in_flight", "Requests being handled", registry=self.registry
        )
        self.inferences_running = Gauge(
            "bonefrac_inferences_running", "Inferences running now", registry=self.registry
        )
        self.queue_depth = Gauge(
            "bonefrac_queue_depth", "Requests waiting for a slot", registry=self.registry
        )
        self.rejections = Counter(
            "bonefrac_rejections", "Requests refused, by reason", ["reason"], registry=self.registry
        )
        self.ready = Gauge(
            "bonefrac_ready", "1 when the model is loaded and warmed up", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
