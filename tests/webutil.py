"""Helpers for tests of the server-rendered pages: real forms, real CSRF tokens."""

from __future__ import annotations

import html
import re

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token of the client's session, read from a page that has a form."""
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no csrf_token on {path}"
    return match.group(1) or match.group(2)


def submit(client, path: str, data: dict, form_page: str | None = None, **kwargs):
    """POST `data` to `path` like a browser would: with the token of the form's page."""
    token = csrf_token(client, form_page or path)
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def input_value(response, name: str) -> str | None:
    """The value an <input name=…> is rendered with (None when it has none)."""
    page = response.get_data(as_text=True)
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    assert tag, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else None


def selected(response, name: str) -> str | None:
    page = response.get_data(as_text=True)
    select = re.search(rf'<select[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    option = re.search(r'<option[^>]*\bselected[^>]*value="([^"]*)"|<option[^>]*value="([^"]*)"'
                       r'[^>]*\bselected', select.group(1))
    return (option.group(1) or option.group(2)) if option else None


def field_errors(response, field_id: str) -> list[str]:
    """The messages shown beside a field (its invalid-feedback block)."""
    page = response.get_data(as_text=True)
    block = re.search(rf'id="{re.escape(field_id)}-errors">((?:<div>.*?</div>)*)</div>', page)
    if not block:
        return []
    return [html.unescape(m) for m in re.findall(r"<div>(.*?)</div>", block.group(1))]


def is_logged_in(client) -> bool:
    response = client.get("/account/password")
    return response.status_code == 200
