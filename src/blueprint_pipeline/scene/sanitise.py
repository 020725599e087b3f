"""Sanitisation rules for manifest text, ids, asset paths and free-form values.

Text is checked, never rewritten: "A red mug, ceramic" and "Café au lait" pass unchanged, and
`<script>` in a name is kept as written (whoever writes text into HTML or a shell escapes it
there). What is rejected is what no honest manifest contains: control characters, bidirectional
overrides, lone surrogates, absurd lengths, asset paths that leave the asset root.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterator
from typing import Any

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

NAME_MAX_CHARS = 256
CATEGORY_MAX_CHARS = 128
DESCRIPTION_MAX_CHARS = 1024
TAG_MAX_CHARS = 128
FREE_TEXT_MAX_CHARS = 65_536  # any string inside free-form values (hints, params, metadata, extras)
FREE_FORM_MAX_DEPTH = 32
FREE_FORM_MAX_ITEMS = 10_000
ASSET_PATH_MAX_CHARS = 1024

# C0/C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates, lone surrogates.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Descriptions may be multi-line: tab and newline are allowed there, nothing else.
_DESCRIPTION_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# The same rules as patterns that pydantic-core checks natively (no Python call per field); the
# Python checks above phrase the error when one fails.
TEXT_PATTERN = "^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
DESCRIPTION_PATTERN = "^[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
ID_PATTERN = ID_RE.pattern


def explain_pattern_failure(pattern: str, value: object) -> str | None:
    """The message for a value that failed one of the patterns above, or None if not ours."""
    if not isinstance(value, str):
        return None
    try:
        if pattern == ID_PATTERN:
            check_id(value)
        elif pattern == TEXT_PATTERN:
            _check_text(value, len(value), _CONTROL_RE)
        elif pattern == DESCRIPTION_PATTERN:
            _check_text(value, len(value), _DESCRIPTION_CONTROL_RE)
        else:
            return None
    except ValueError as exc:
        return str(exc)
    return None


_AFFORDANCE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]{0,63}$")
_WINDOWS_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

# Object stores the storage layer can read (the `cloud` extra); anything else with a scheme is refused.
ASSET_URL_SCHEMES = frozenset({"gs", "gcs", "s3"})


def check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise ValueError("must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'")
    return value


def _check_text(value: str, max_chars: int, pattern: re.Pattern[str]) -> str:
    if len(value) > max_chars:
        raise ValueError(f"is too long ({len(value)} characters; at most {max_chars})")
    bad = pattern.search(value)
    if bad:
        raise ValueError(f"contains a control character (U+{ord(bad.group()):04X} at position {bad.start()})")
    return value


def check_name(value: str) -> str:
    return _check_text(value, NAME_MAX_CHARS, _CONTROL_RE)


def check_category(value: str) -> str:
    return _check_text(value, CATEGORY_MAX_CHARS, _CONTROL_RE)


def check_description(value: str) -> str:
    return _check_text(value, DESCRIPTION_MAX_CHARS, _DESCRIPTION_CONTROL_RE)


def check_tag(value: str) -> str:
    return _check_text(value, TAG_MAX_CHARS, _CONTROL_RE)


@functools.lru_cache(maxsize=1024)
def normalise_affordance_type(value: str) -> str:
    """'graspable', 'Graspable', 'can_open' -> 'Graspable', 'Graspable', 'CanOpen'."""
    if not _AFFORDANCE_RE.match(value):
        raise ValueError("affordance type must start with a letter and hold only letters, digits, '_', '-' or spaces (at most 64)")
    parts = re.split(r"[_\- ]+", value.strip())
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def check_asset_path(value: str) -> str:
    """A path relative to the asset root that cannot leave it, or a gs:// / s3:// URL."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > ASSET_PATH_MAX_CHARS:
        raise ValueError(f"is too long ({len(value)} characters; at most {ASSET_PATH_MAX_CHARS})")
    if _CONTROL_RE.search(value):
        raise ValueError("contains a control character")
    scheme = _SCHEME_RE.match(value)
    if scheme:
        if scheme.group(1).lower() not in ASSET_URL_SCHEMES:
            raise ValueError(f"URL scheme {scheme.group(1)!r} is not allowed (only {', '.join(sorted(ASSET_URL_SCHEMES))})")
        rest = value[scheme.end():]
    else:
        if "\\" in value:
            raise ValueError("must use '/' as separator (no backslashes)")
        if value.startswith("/") or _WINDOWS_DRIVE_RE.match(value):
            raise ValueError("must be relative to the asset root, not absolute")
        if ":" in value.split("/", 1)[0]:
            raise ValueError("must be a relative path (looks like a URL)")
        rest = value
    if ".." in rest.split("/"):
        raise ValueError("must not contain '..'")
    return value


def resolve_asset_path(asset_root: str, relative: str) -> str:
    """Join a checked relative asset path to its root; refuses anything that would escape it."""
    check_asset_path(relative)
    if _SCHEME_RE.match(relative):
        return relative
    joined = posixpath.normpath(posixpath.join(asset_root.rstrip("/") or ".", relative))
    root = posixpath.normpath(asset_root.rstrip("/") or ".")
    if root != "." and joined != root and not joined.startswith(root + "/"):
        raise ValueError(f"asset path {relative!r} leaves the asset root")
    return joined


def free_form_problems(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Problems in an arbitrary JSON value kept as-is (hints, params, metadata, extras): nesting
    depth, item count, string length and control characters in keys. Iterative, so a hostile
    depth cannot exhaust the Python stack."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    items = 0
    while stack:
        v, p, depth = stack.pop()
        items += 1
        if items > FREE_FORM_MAX_ITEMS:
            yield path, f"holds more than {FREE_FORM_MAX_ITEMS} values"
            return
        if isinstance(v, str):
            if len(v) > FREE_TEXT_MAX_CHARS:
                yield p, f"string is too long ({len(v)} characters; at most {FREE_TEXT_MAX_CHARS})"
            elif _DESCRIPTION_CONTROL_RE.search(v):
                yield p, "string contains a control character"
        elif isinstance(v, dict):
            if depth >= FREE_FORM_MAX_DEPTH:
                yield p, f"is nested more than {FREE_FORM_MAX_DEPTH} levels deep"
                continue
            for k, sub in v.items():
                if len(k) > NAME_MAX_CHARS or _CONTROL_RE.search(k):
                    yield p, "has a key that is too long or contains control characters"
                    continue
                stack.append((sub, f"{p}.{k}", depth + 1))
        elif isinstance(v, list):
            if depth >= FREE_FORM_MAX_DEPTH:
                yield p, f"is nested more than {FREE_FORM_MAX_DEPTH} levels deep"
                continue
            stack.extend((sub, f"{p}[{i}]", depth + 1) for i, sub in enumerate(v))
