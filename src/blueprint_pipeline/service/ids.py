"""Job ids: 32 lowercase hex characters, checked before any id touches a path or a query."""

from __future__ import annotations

import re
import uuid

_JOB_ID = re.compile(r"[0-9a-f]{32}")


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_valid_job_id(job_id: str) -> bool:
    return isinstance(job_id, str) and _JOB_ID.fullmatch(job_id) is not None
