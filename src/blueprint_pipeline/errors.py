"""The project's exception hierarchy.

Every error the pipeline raises on purpose is a `BlueprintError` with a category. The category
decides the exit code (invalid input -> 2, everything else -> 1) and the recommendations written
into failure markers.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from enum import StrEnum


class ErrorCategory(StrEnum):
    INVALID_INPUT = "invalid_input"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    DEPENDENCY = "dependency"
    # The machine, not the work: disk full, permission denied, a worker killed, an interrupt.
    # Items that failed so are never final results: the next run retries them.
    ENVIRONMENT = "environment"
    # The stage ran, but fewer of its items succeeded than its threshold asks for.
    BELOW_THRESHOLD = "below_threshold"
    INTERNAL = "internal"


# OS errors that say something about the machine rather than the item being worked on.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS,
                                errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EIO})
_ERRNO_TEXT = re.compile(r"\[Errno (\d+)\]")


def is_environment_failure(exc: BaseException | None = None, *, error_type: str | None = None,
                           message: str = "") -> bool:
    """True for a failure of the machine (see ENVIRONMENT_ERRNOS, interrupts, out of memory, a
    worker killed from outside: `resilience.pool` reports that as WorkerKilledError).

    Takes an exception, or, for one that crossed a process boundary as text, its type name and
    message (an OSError's text starts with `[Errno N]`)."""
    if exc is not None:
        if isinstance(exc, (KeyboardInterrupt, MemoryError)):
            return True
        if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
            return True
        error_type, message = type(exc).__name__, str(exc)
    if error_type in ("KeyboardInterrupt", "MemoryError", "WorkerKilledError"):
        return True
    m = _ERRNO_TEXT.search(message or "")
    return bool(m) and int(m.group(1)) in ENVIRONMENT_ERRNOS


EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2


@dataclass(frozen=True)
class Problem:
    """One problem found in an input, located by a path such as `objects[17].transform.scale.y`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class BlueprintError(Exception):
    category: ErrorCategory = ErrorCategory.INTERNAL

    @property
    def exit_code(self) -> int:
        return EXIT_INVALID if self.category is ErrorCategory.INVALID_INPUT else EXIT_FAILURE


class InvalidInputError(BlueprintError):
    """Bad input: carries every problem found (the list is capped by whoever builds it)."""

    category = ErrorCategory.INVALID_INPUT

    def __init__(self, message: str, problems: list[Problem] | None = None, omitted: int = 0):
        super().__init__(message)
        self.problems = list(problems or [])
        self.omitted = omitted

    def __str__(self) -> str:
        head = self.args[0] if self.args else "invalid input"
        if not self.problems:
            return head
        lines = [head] + [f"  {p}" for p in self.problems]
        if self.omitted:
            lines.append(f"  ... and {self.omitted} more problems")
        return "\n".join(lines)


class TransientError(BlueprintError):
    """A failure that may go away on retry (network, 5xx, 429)."""

    category = ErrorCategory.TRANSIENT


class EnvironmentFailureError(BlueprintError):
    """Items failed for a reason of the machine (disk full, permission, killed); rerun after
    fixing it: finished items are kept and the failed ones run again."""

    category = ErrorCategory.ENVIRONMENT


class StageTimeoutError(BlueprintError):
    category = ErrorCategory.TIMEOUT


class DependencyError(BlueprintError):
    """A required external dependency (package, service, secret) is missing or refused us."""

    category = ErrorCategory.DEPENDENCY


class InternalError(BlueprintError):
    category = ErrorCategory.INTERNAL
