"""Helpers for the real-Chromium journeys (the fixtures `browser`, `page`, `live_server` and
`strict_app` are in conftest.py)."""

from __future__ import annotations

from matchmaker.web.security import CONTENT_SECURITY_POLICY

# What the app sends (nothing inline, nothing from elsewhere; matchmaker.web.security). The
# `strict_app` fixture sets it explicitly as well.
STRICT_CSP = CONTENT_SECURITY_POLICY


def watch(page) -> list[str]:
    """Console errors and page errors (CSP violations show up there), minus expected 422s."""
    seen: list[str] = []
    page.on("console", lambda m: m.type == "error" and "status of 422" not in m.text
            and seen.append(m.text))
    page.on("pageerror", lambda e: seen.append(str(e)))
    return seen


def log_in(page, live_server: str, account) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("电子邮箱").fill(account.email)
    page.get_by_label("密码").fill(account.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")


def chosen(page, select: str) -> list[str]:
    return page.eval_on_selector(
        select, "s => Array.from(s.selectedOptions).map(o => o.value)")
