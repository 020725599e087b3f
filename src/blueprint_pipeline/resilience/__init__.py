"""Resilience: call policies (rate limit -> circuit breaker -> retry), a process worker pool with
deadlines and heartbeats, and a partial-failure item runner with a resumable journal."""

from blueprint_pipeline.resilience.breaker import CircuitBreaker
from blueprint_pipeline.resilience.errors import (
    CircuitOpenError,
    RequestRejectedError,
    RetryExhaustedError,
    StageFailedError,
    TransientHTTPError,
)
from blueprint_pipeline.resilience.limiter import RateLimiter, RateLimitWaitError
from blueprint_pipeline.resilience.policy import CallPolicy, is_transient, parse_retry_after

__all__ = [
    "CallPolicy",
    "CircuitBreaker",
    "CircuitOpenError",
    "RateLimitWaitError",
    "RateLimiter",
    "RequestRejectedError",
    "RetryExhaustedError",
    "StageFailedError",
    "TransientHTTPError",
    "is_transient",
    "parse_retry_after",
]
