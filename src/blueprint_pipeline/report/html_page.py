"""The self-contained report page: inline CSS, images as base64 data URIs, no scripts.

Every string that did not come from this module (manifest names, descriptions, task text,
failure reasons, file contents) goes through `esc` (html.escape, quotes included).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from typing import Any

MAX_TABLE_ROWS = 200

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#222;line-height:1.4;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:.85em;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#176f2c;font-weight:600}.fail{color:#b00020;font-weight:600}.skip{color:#8a6d00;font-weight:600}
img{max-width:100%;border:1px solid #eee}.muted{color:#666;font-size:.85em}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    headers = list(headers)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers) if any(headers) else ""
    body, total = [], 0
    for row in rows:
        total += 1
        if total > MAX_TABLE_ROWS:
            continue
        cells = "".join(f'<td class="num">{esc(v)}</td>' if i in numeric else f"<td>{esc(v)}</td>"
                        for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    more = f'<p class="muted">and {total - MAX_TABLE_ROWS} more rows</p>' if total > MAX_TABLE_ROWS else ""
    head_row = f"<tr>{head}</tr>" if head else ""
    return f"<table>{head_row}{''.join(body)}</table>{more}"


def verdict(passed: bool | None) -> str:
    if passed is True:
        return '<span class="pass">pass</span>'
    if passed is False:
        return '<span class="fail">FAIL</span>'
    return '<span class="skip">not run</span>'


def page(title: str, sections: list[tuple[str, str]]) -> str:
    """`sections` are (heading, body HTML already escaped) pairs."""
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>"]
    for heading, body in sections:
        parts.append(f"<section><h2>{esc(heading)}</h2>{body}</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
