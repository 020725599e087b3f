"""Errors raised by the resilience package (all `BlueprintError`s with a category)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from blueprint_pipeline.errors import (
    BlueprintError,
    DependencyError,
    ErrorCategory,
    InternalError,
    StageTimeoutError,
    TransientError,
)

if TYPE_CHECKING:
    from blueprint_pipeline.resilience.partial import ItemsReport


class TransientHTTPError(TransientError):
    """An HTTP answer worth retrying (408, 425, 429, 5xx); `retry_after_s` from Retry-After."""

    def __init__(self, message: str, status: int, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class RequestRejectedError(DependencyError):
    """The service refused the request (4xx other than 408/425/429); retrying cannot help."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class CircuitOpenError(TransientError):
    """The circuit breaker is open: the call failed fast without reaching the service."""

    def __init__(self, message: str, retry_in_s: float):
        super().__init__(message)
        self.retry_in_s = retry_in_s


class RetryExhaustedError(TransientError):
    """Every attempt within the deadline failed transiently; `last_error` is the final one."""

    def __init__(self, message: str, attempts: int, last_error: BaseException):
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error
        self.status = getattr(last_error, "status", None)


class TaskTimeoutError(StageTimeoutError):
    """A worker task passed its deadline or stopped heartbeating and was killed."""


class WorkerCrashedError(InternalError):
    """A worker process died while running a task (signal, os._exit, out-of-memory kill)."""


class StageFailedError(BlueprintError):
    """Too few items of a stage succeeded (or some failed for an environment reason); carries
    the full per-item report."""

    category = ErrorCategory.BELOW_THRESHOLD

    def __init__(self, message: str, report: ItemsReport):
        super().__init__(message)
        self.report = report

    @property
    def partial(self) -> dict:
        return self.report.summary()
