"""Reading a manifest's JSON: the header (every top-level key but `objects`) and the objects one
by one, from a file of any size.

Files up to `stream_threshold_bytes` are parsed with `json.loads`; larger ones are streamed with
ijson (yajl2_c backend, floats as float) in two passes over the bytes:
1. a scan with bytes methods checks UTF-8 and the nesting depth of the whole file and finds the
   top-level `objects` array; everything else (the header, small) is parsed by ijson with the
   array replaced by `[]` (depth is bounded before any prefix-based ijson parse touches the data:
   ijson's prefixes grow with depth squared);
2. the objects: `ijson.items(f, "objects.item")` yields one dict at a time; or, with worker
   processes, each worker parses one span of the array (`spans`: the scan cuts the array
   between elements every `CHUNK_BYTES`) with `parse_span`.
Peak memory is one object (or a few spans) plus the header. Files the scan does not handle (no `objects` array,
a header over 1 MB, a string over 1 MB, any error) and every error go through the older two-pass
reader, which walks the objects array as ijson events while reading the header and phrases each
error. Both paths give the same dicts; when `json.loads` objects to anything (syntax, NaN,
duplicate keys, huge numbers, depth) the streaming path reruns on the same bytes to produce the
error, so the two paths also give the same errors.

Decisions: a UTF-8 byte-order mark is rejected (RFC 8259: JSON text is UTF-8 without one; a BOM
usually means an editor re-encoded the file), as are UTF-16/32 files, invalid UTF-8, NaN/Infinity
literals, numbers that overflow a float or a 64-bit integer, duplicate keys and nesting deeper
than `MAX_DEPTH`.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import itertools
import json
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ijson

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError, Problem

DEFAULT_STREAM_THRESHOLD_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64  # open containers at once, the top-level object counting as one
_READ_CHUNK = 1 << 16
_MAX_INT = 2**63 - 1

_DEPTH_DELTA = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1,
                "map_key": 0, "string": 0, "number": 0, "boolean": 0, "null": 0, "integer": 0, "double": 0}


def _syntax_error(path: str, message: str) -> InvalidInputError:
    return InvalidInputError("manifest is not valid JSON", [Problem(path, message)])


class _DuplicateKeys:
    """A dict type for ijson's builder that notes duplicate keys instead of silently keeping the
    last value (json and ijson both do that by default). ijson calls __setitem__ per key, so this
    is Python code on the hot path; it costs about a third of the streaming parse time.

    ijson builds a whole read buffer of objects before yielding the first, so a note says which
    dict it came from and `take(obj)` returns only the notes for dicts inside `obj`."""

    def __init__(self) -> None:
        found: list[tuple[dict[str, Any], str]] = []
        self.found = found

        class DupDict(dict):  # type: ignore[type-arg]
            __slots__ = ()

            def __setitem__(self, key: str, value: Any, _has=dict.__contains__, _set=dict.__setitem__,
                            _note=found.append) -> None:
                if _has(self, key):
                    _note((self, key))
                _set(self, key, value)

        self.map_type = DupDict

    def take(self, obj: Any) -> list[str]:
        if not self.found:
            return []
        inside: set[int] = set()
        stack = [obj]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                inside.add(id(v))
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)
        mine = [key for d, key in self.found if id(d) in inside]
        self.found[:] = [(d, key) for d, key in self.found if id(d) not in inside]
        return mine


# A \uD800-\uDFFF escape not part of a high+low pair decodes to no Unicode character: json
# keeps it as a lone surrogate, yajl emits bytes that are not UTF-8. Both paths refuse it here.
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)(?:\\\\)*"  # an escaping backslash: preceded by an even number of backslashes
    rb"(\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"  # high without low
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})"  # low without high
)
_SURROGATE_CONTEXT = 24  # bytes kept between chunks so that pairs split by a chunk are seen whole


def _lone_surrogate(buf: bytes, final: bool) -> int | None:
    """Offset in `buf` of a lone surrogate escape; a high one at the very end of a non-final
    chunk waits for the next chunk."""
    if not _SURROGATE_HINT.search(buf):
        return None
    for m in _LONE_SURROGATE.finditer(buf):
        is_high = m.group(1)[3:4] in b"89abAB"
        if final or not is_high or m.end() + 6 <= len(buf):  # a high one may meet its low next chunk
            return m.start(1)
    return None


class _CheckedReader(io.RawIOBase):
    """Passes bytes through to ijson while checking UTF-8 and escapes incrementally and hashing them."""

    def __init__(self, raw: IO[bytes], hash_it: bool) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._sha = hashlib.sha256() if hash_it else None
        self._tail = b""
        self.offset = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) to tell bytes from text
            return b""
        chunk = self._raw.read(size if size and size > 0 else _READ_CHUNK)
        try:
            self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise _syntax_error("", f"not valid UTF-8 (byte {self.offset + exc.start})") from None
        buf = self._tail + chunk
        lone = _lone_surrogate(buf, final=not chunk)
        if lone is not None:
            at = self.offset - len(self._tail) + lone
            raise _syntax_error("", f"a string holds a lone UTF-16 surrogate escape, which is not Unicode (byte {at})")
        self._tail = buf[-_SURROGATE_CONTEXT:]
        if self._sha is not None:
            self._sha.update(chunk)
        self.offset += len(chunk)
        return chunk

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def sha256(self) -> str | None:
        return self._sha.hexdigest() if self._sha is not None else None


_YAJL_MESSAGES = [
    ("premature EOF", "the file ends in the middle of the JSON document (truncated?)"),
    ("trailing garbage", "unexpected data after the end of the JSON document"),
    ("numeric (floating point) overflow", "a number is too large for a finite float (e.g. 1e400)"),
    ("integer overflow", "an integer is too large (more than 64 bits)"),
    ("invalid bytes in UTF8 string", "not valid UTF-8"),
]


def _explain_yajl(exc: Exception) -> str:
    text = str(exc)
    lines = text.splitlines()
    near = ""
    if len(lines) >= 3 and "^" in lines[2]:
        caret = lines[2].index("^")
        snippet = lines[1]
        # yajl's caret points at or just after the offending character.
        token = re.search(r"-?(NaN|Infinity)", snippet[max(0, caret - 10):caret + 10])
        if token:
            return f"{token.group()} is not a JSON number (NaN and Infinity are not allowed)"
        near = re.sub(r"[\x00-\x1f\x7f]", " ", snippet.strip())[:60]
    for needle, message in _YAJL_MESSAGES:
        if needle in text:
            return message + (f", near: {near}" if near and needle != "premature EOF" else "")
    head = lines[0] if lines else type(exc).__name__
    return f"{head}" + (f", near: {near}" if near else "")


def _check_start(data_head: bytes) -> None:
    if data_head.startswith(codecs.BOM_UTF8):
        raise _syntax_error("", "starts with a UTF-8 byte-order mark; save the file as UTF-8 without BOM")
    if data_head[:4] in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE) or data_head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise _syntax_error("", "is UTF-16/UTF-32 encoded; manifests must be UTF-8")
    if not data_head.strip():
        raise _syntax_error("", "the file is empty")


_TYPE_NAMES = {"start_array": "an array", "string": "a string", "number": "a number", "integer": "a number",
               "double": "a number", "boolean": "a boolean", "null": "null", "start_map": "an object"}


@dataclass
class RawManifest:
    """A manifest's JSON: `header` (top-level members except `objects`, in file order), the
    problems found while parsing it that do not stop reading (duplicate keys), and the objects
    as an iterator of (index, dict, duplicate keys found in it)."""

    header: dict[str, Any]
    has_objects: bool
    sha256: str | None
    streamed: bool
    header_problems: list[Problem] = field(default_factory=list)
    _objects: Any = None
    # Streamed files the fast scan read: the objects array's body cut between elements (file
    # byte spans) and how to reopen the bytes, so pieces can be parsed by worker processes.
    spans: list[tuple[int, int]] | None = None
    open_bytes: Any = None

    def objects(self) -> Iterator[tuple[int, Any, list[str]]]:
        return self._objects()


def parse_span(data: bytes) -> Iterator[tuple[Any, list[str]]]:
    """The elements in one span of the objects array (whose bytes the scan has checked: UTF-8,
    escapes, depth), with the duplicate keys found in each. Raises ijson's error on a syntax
    error: the caller rereads the file with the two-pass reader to phrase it."""
    dups = _DuplicateKeys()
    for obj in ijson.items(b"[" + data + b"]", "item", use_float=True, map_type=dups.map_type):
        yield obj, dups.take(obj)


def raise_stream_error(open_bytes: Any, exc: BaseException, index: int) -> None:
    """Phrase an error met while parsing the objects (see _iter_objects_streaming); always raises."""
    _open_streaming_two_pass(open_bytes)
    if isinstance(exc, InvalidInputError):
        raise exc
    if isinstance(exc, UnicodeDecodeError):
        raise _syntax_error(f"objects[{index}]", "a string is not valid Unicode") from None
    raise _syntax_error(f"objects[{index}]", _explain_yajl(exc)) from None


# ---------------------------------------------------------------------------------------------
# Streaming path


def _read_header_streaming(f: _CheckedReader) -> tuple[dict[str, Any], bool, list[Problem]]:
    events = ijson.basic_parse(f, use_float=True)
    problems: list[Problem] = []
    header: dict[str, Any] = {}
    seen: set[str] = set()
    has_objects = False
    key = ""
    try:
        first = next(events, None)
        if first is None:
            raise _syntax_error("", "the file is empty")
        if first[0] != "start_map":
            raise InvalidInputError("manifest has the wrong shape",
                                    [Problem("", f"the top level must be a JSON object, got {_TYPE_NAMES.get(first[0], first[0])}")])
        dups = _DuplicateKeys()
        for ev, value in events:
            if ev == "end_map":
                key = ""
                break
            key = value  # ev is map_key at depth 1
            if key in seen:
                raise InvalidInputError("manifest has a duplicate key",
                                        [Problem(key, "duplicate key at the top level")])
            seen.add(key)
            if key == "objects":
                has_objects = True
                ev2, _ = next(events)
                if ev2 != "start_array":
                    raise InvalidInputError("manifest has the wrong shape",
                                            [Problem("objects", f"must be an array, got {_TYPE_NAMES.get(ev2, ev2)}")])
                # Skip the array in C: running depth from 2 (root + array) until it is back at 1
                # (end of the array) or passes MAX_DEPTH.
                stop = {1: "end", MAX_DEPTH + 1: "deep"}
                depths = itertools.accumulate(map(_DEPTH_DELTA.__getitem__, map(operator.itemgetter(0), events)), initial=2)
                outcome = next(filter(None, map(stop.get, depths)), None)
                if outcome == "deep":
                    raise InvalidInputError("manifest is nested too deeply",
                                            [Problem("objects", f"nested more than {MAX_DEPTH} levels deep")])
                continue
            builder = ijson.ObjectBuilder(map_type=dups.map_type)
            depth = 0
            for ev2, value2 in events:
                builder.event(ev2, value2)
                if ev2 in ("start_map", "start_array"):
                    depth += 1
                    if depth + 1 > MAX_DEPTH:
                        raise InvalidInputError("manifest is nested too deeply",
                                                [Problem(key, f"nested more than {MAX_DEPTH} levels deep")])
                elif ev2 in ("end_map", "end_array"):
                    depth -= 1
                if depth == 0:
                    break
            header[key] = builder.value
            for d in dups.take(builder.value):
                problems.append(Problem(key, f"duplicate key {d!r} in one JSON object"))
        # Drain: yajl reports trailing garbage only when it reads on.
        for _ in events:
            raise _syntax_error("", "unexpected data after the end of the JSON document")
    except ijson.JSONError as exc:
        raise _syntax_error(key, _explain_yajl(exc)) from None
    except UnicodeDecodeError:
        raise _syntax_error(key, "a string is not valid Unicode") from None
    return header, has_objects, problems


def _iter_objects_streaming(open_bytes: Any) -> Iterator[tuple[int, Any, list[str]]]:
    dups = _DuplicateKeys()
    index = 0
    with open_bytes() as raw:
        f = _CheckedReader(raw, hash_it=False)
        try:
            for obj in ijson.items(f, "objects.item", use_float=True, map_type=dups.map_type):
                yield index, obj, dups.take(obj)
                index += 1
        except (ijson.JSONError, UnicodeDecodeError, InvalidInputError) as exc:
            # The fast scan checks nesting only: the two-pass reader phrases the error exactly as
            # it always has (it raises; if it does not, the file changed while being read).
            raise_stream_error(open_bytes, exc, index)


def _open_streaming_two_pass(open_bytes: Any) -> RawManifest:
    """The reference reader: every check made by ijson while reading the header (slower; used
    to phrase every error, and for files the fast scan does not handle)."""
    with open_bytes() as raw:
        _check_start(raw.read(4096))
    with open_bytes() as raw:
        f = _CheckedReader(raw, hash_it=True)
        header, has_objects, problems = _read_header_streaming(f)
        while f.read(_READ_CHUNK):  # hash whatever yajl did not need to read
            pass
        sha = f.sha256()
    return RawManifest(header, has_objects, sha, True, problems, lambda: _iter_objects_streaming(open_bytes))


# Fast header scan. Walking the objects array through ijson events only to skip it cost as much
# as building the objects; this scan does it with bytes methods and one small regex per chunk:
# it checks the nesting depth of the whole file (so prefix-based ijson parsing is safe), finds
# the byte span of the top-level `objects` array and hands the rest (the header, small) to the
# ijson header reader with the array replaced by `[]`. Anything unusual (no `objects` array, too
# deep, a string longer than _SCAN_MAX_CARRY, a large header, any error) falls back to the
# two-pass reader, which phrases every error exactly as before.
_SCAN_TOKEN = re.compile(rb'("[^"\\]*(?:\\.[^"\\]*)*")(\s*:)?|[\[{]|[\]}]', re.DOTALL)
_ARRAY_OPEN = re.compile(rb"\s*\[")
_QUOTED = re.compile(rb'"[^"]*"')
_NOT_QUOTE_OR_BRACKET = bytes(b for b in range(256) if b not in b'"[]{}')
_BRACKET_DELTA = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))
_SCAN_MAX_HEADER = 1 << 20  # bytes before plus after the array (rescanned per chunk)
_SCAN_MAX_CARRY = 1 << 20
_ELEMENT_END = re.compile(rb"\}\s*,")
CHUNK_BYTES = 1 << 19  # objects-array bytes per piece handed to one ingest worker


class _Unusual(Exception):
    """The fast scan leaves this file to the two-pass reader."""


def _string_start_at_end(buf: bytes) -> int:
    """Offset of the opening quote of a string left open at the end of `buf`, else len(buf)."""
    if (buf.replace(b"\\\\", b"").replace(b'\\"', b"").count(b'"') % 2) == 0:
        return len(buf)
    q = len(buf)
    while True:
        q = buf.rfind(b'"', 0, q)
        if q < 0:
            raise _Unusual
        run = q - len(buf[:q].rstrip(b"\\"))
        if run % 2 == 0:  # not escaped
            return q


def _depths(part: bytes, depth: int) -> list[int]:
    """Running nesting depth after each bracket of `part` (which starts and ends outside strings)."""
    reduced = part.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_QUOTE_OR_BRACKET)
    brackets = _QUOTED.sub(b"", reduced)
    return list(itertools.accumulate(map(_BRACKET_DELTA.__getitem__, brackets), initial=depth))


def _scan_tokens(buf: bytes, depth: int, start: int = 0) -> Iterator[tuple[re.Match[bytes], int]]:
    """Exact tokens (strings, keys, brackets) of `buf` from `start` with the depth after each."""
    for m in _SCAN_TOKEN.finditer(buf, start):
        c = m.group()[:1]
        if c in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _Unusual
        elif c in b"]}":
            depth -= 1
        yield m, depth


def _boundary(part: bytes, depth: int, start: int) -> int | None:
    """Offset in `part` (which starts outside strings at `depth`) of a comma between two elements
    of the objects array, at or after `start`, or None. Candidates are the first `},` from
    `start`; checking one (not inside a string, back at the array's depth) reads the prefix."""
    for tries, m in enumerate(_ELEMENT_END.finditer(part, start)):
        if tries == 8:
            return None
        prefix = part[: m.start() + 1]
        if _string_start_at_end(prefix) == len(prefix) and _depths(prefix, depth)[-1] == 2:
            return m.end() - 1
    return None


def _scan(raw: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> tuple[bytes, str | None, list[tuple[int, int]]]:
    """The manifest without its objects (`"objects": []`), the file's sha256 and the byte spans
    of the objects array's body cut between elements into pieces of about `chunk_bytes` (each
    span is a comma-separated run of whole elements; one span per chunk, so the list is tiny
    next to the file). Raises _Unusual."""
    f = _CheckedReader(raw, hash_it=True)
    head = b""
    start = -1
    while start < 0:  # 1. up to the `[` of the top-level `objects`
        chunk = f.read(_READ_CHUNK)
        if not chunk or len(head) > _SCAN_MAX_HEADER:
            raise _Unusual
        head += chunk
        tokens = _scan_tokens(head, 0)
        first = next(tokens, None)
        if first is None:
            continue
        if first[0].group() != b"{":
            raise _Unusual
        for m, depth in tokens:
            if depth == 1 and m.group(2) and m.group(1) == b'"objects"':
                opened = _ARRAY_OPEN.match(head, m.end())
                if opened is None:
                    if head[m.end():].strip():
                        raise _Unusual
                    break  # read on
                start = opened.end() - 1
                break
            if depth <= 0:
                raise _Unusual
    buf, head, depth = head[start + 1:], head[:start], 2
    buf_at = span_start = start + 1  # file offsets of buf[0] and of the current span
    spans: list[tuple[int, int]] = []
    tail: bytes | None = None
    while tail is None:  # 2. through the array, at bytes-method speed
        cut = _string_start_at_end(buf)
        if len(buf) - cut > _SCAN_MAX_CARRY:
            raise _Unusual
        part, buf = buf[:cut], buf[cut:]
        run = _depths(part, depth)
        if max(run) > MAX_DEPTH:
            raise _Unusual
        if min(run) > 1:
            if min(run) == 2:  # the part touches the array's own depth: it may hold a cut
                while buf_at + len(part) - span_start > chunk_bytes:
                    comma = _boundary(part, depth, max(0, span_start + chunk_bytes - buf_at))
                    if comma is None:
                        break
                    spans.append((span_start, buf_at + comma))
                    span_start = buf_at + comma + 1
            depth = run[-1]
            buf_at += len(part)
            chunk = f.read(_READ_CHUNK)
            if not chunk:
                raise _Unusual
            buf += chunk
            continue
        for m, d in _scan_tokens(part, depth):  # the array ends in this part: find where exactly
            if d == 1:
                spans.append((span_start, buf_at + m.start()))
                tail = part[m.end():] + buf
                break
        else:
            raise _Unusual
    parts = [tail]
    size = len(head) + len(tail)
    while chunk := f.read(_READ_CHUNK):  # 3. the rest of the file (header members after the array)
        parts.append(chunk)
        size += len(chunk)
        if size > _SCAN_MAX_HEADER:
            raise _Unusual
    tail = b"".join(parts)
    for _ in _scan_tokens(tail, 1):  # depth check
        pass
    return head + b"[]" + tail, f.sha256(), spans


def _open_streaming(open_bytes: Any, chunk_bytes: int = CHUNK_BYTES) -> RawManifest:
    try:
        with open_bytes() as raw:
            _check_start(raw.read(4096))
        with open_bytes() as raw:
            rest, sha, spans = _scan(raw, chunk_bytes)
        header, has_objects, problems = _read_header_streaming(_CheckedReader(io.BytesIO(rest), hash_it=False))
    except (_Unusual, InvalidInputError):
        return _open_streaming_two_pass(open_bytes)
    return RawManifest(header, has_objects, sha, True, problems, lambda: _iter_objects_streaming(open_bytes),
                       spans=spans, open_bytes=open_bytes)


# ---------------------------------------------------------------------------------------------
# In-memory path


class _Refused(Exception):
    """json.loads met something the streaming path phrases as an error."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _Refused
    return d


def _refuse_constant(name: str) -> Any:
    raise _Refused


def _checked_int(text: str) -> int:
    v = int(text)
    if not -_MAX_INT - 1 <= v <= _MAX_INT:
        raise _Refused
    return v


def _checked_float(text: str) -> float:
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise _Refused
    return v


def _depth_ok(value: Any) -> bool:
    """Iterative depth check (json.loads has built it already, so no stack at risk here)."""
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            if d > MAX_DEPTH:
                return False
            stack.extend((s, d + 1) for s in v.values())
        elif isinstance(v, list):
            if d > MAX_DEPTH:
                return False
            stack.extend((s, d + 1) for s in v)
    return True


def _open_in_memory(data: bytes) -> RawManifest:
    _check_start(data[:4096])
    if _SURROGATE_HINT.search(data) and _lone_surrogate(data, final=True) is not None:
        return _open_streaming(lambda: io.BytesIO(data))
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_pairs, parse_constant=_refuse_constant,
                         parse_int=_checked_int, parse_float=_checked_float)
        ok = isinstance(doc, dict) and isinstance(doc.get("objects", []), list) and _depth_ok(doc)
    except (_Refused, ValueError, RecursionError, UnicodeDecodeError):
        ok = False
    if not ok:
        # Let the streaming reader find and phrase the problem, so both paths say the same.
        return _open_streaming(lambda: io.BytesIO(data))
    objects = doc.pop("objects", None)
    has_objects = objects is not None
    items = objects or []

    def iter_objects() -> Iterator[tuple[int, Any, list[str]]]:
        for i, o in enumerate(items):
            yield i, o, []

    return RawManifest(doc, has_objects, hashlib.sha256(data).hexdigest(), False, [], iter_objects)


def open_manifest(url: str, stream_threshold_bytes: int = DEFAULT_STREAM_THRESHOLD_BYTES,
                  chunk_bytes: int = CHUNK_BYTES) -> RawManifest:
    """Open a manifest for reading; files above `stream_threshold_bytes` are streamed (and cut
    into spans of about `chunk_bytes` for worker processes)."""
    try:
        fs_size = _size(url)
    except FileNotFoundError:
        raise InvalidInputError(f"manifest not found: {url}") from None
    if fs_size > stream_threshold_bytes:
        return _open_streaming(lambda: storage.open_read(url, "rb"), chunk_bytes)
    return _open_in_memory(storage.read_bytes(url))


def _size(url: str) -> int:
    fs, path = storage.filesystem(str(url))  # with the storage options (endpoint, credentials)
    if not fs.exists(path):
        raise FileNotFoundError(url)
    if fs.isdir(path):
        raise InvalidInputError(f"manifest is a folder, not a file: {url}")
    return int(fs.size(path))
