"""Where a user may be sent after logging in: only to a path on this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """`target` when it is a relative path on this site, else None.

    Refused: anything with a scheme or host (`https://evil`, `//evil`), backslashes (browsers
    read `/\\evil` as `//evil`), and control characters or spaces (browsers drop tabs and new
    lines, so `/\\t/evil` would become `//evil`).
    """
    if not target or not isinstance(target, str) or len(target) > 2000:
        return None
    if "\\" in target or any(ord(ch) < 33 or ord(ch) == 127 for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
