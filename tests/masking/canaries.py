"""Canary secrets and every form a leak of one may take, computed here independently of datakit.

A canary holds the characters that encodings change (`+ / = & " < >`, a space, non-ASCII) and a unique
part, so a form found anywhere can only come from the test that planted it.
"""

from __future__ import annotations

import base64
import html
import json
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus


def canary(prefix: str, *, ascii_only: bool = False) -> str:
    """A fresh secret value with every troublesome character (HTTP headers take ASCII only)."""
    accent = "" if ascii_only else "é"
    return f'{prefix}+/=&"<> {accent}{uuid.uuid4().hex[:12]}'


def leak_forms(value: str, *, user: str | None = None) -> dict[str, str]:
    """Name -> the text of each form `value` may take in output."""
    data = value.encode()
    found = {
        "raw": value,
        "quote": quote(value),
        "quote_nosafe": quote(value, safe=""),
        "quote_plus": quote_plus(value),
        "json_ascii": json.dumps(value)[1:-1],
        "json_unicode": json.dumps(value, ensure_ascii=False)[1:-1],
        "html": html.escape(value),
        "b64": base64.b64encode(data).decode(),
        "b64_nopad": base64.b64encode(data).decode().rstrip("="),
        "b64_url": base64.urlsafe_b64encode(data).decode(),
        "b64_url_nopad": base64.urlsafe_b64encode(data).decode().rstrip("="),
    }
    if user is not None:
        found["basic"] = base64.b64encode(f"{user}:{value}".encode()).decode()
    return found


def leaks(text: str, forms: dict[str, str]) -> list[str]:
    """The names of the forms found in `text`."""
    return [name for name, form in forms.items() if form in text]


def file_leaks(root: Path, forms: dict[str, str]) -> dict[str, list[str]]:
    """File (relative to `root`) -> the forms found in its bytes, for every file under `root`."""
    found: dict[str, list[str]] = {}
    encoded = {name: form.encode() for name, form in forms.items()}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        names = [name for name, form in encoded.items() if form in data]
        if names:
            found[str(path.relative_to(root))] = names
    return found
