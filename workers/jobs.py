"""Job functions run by RQ workers (or in-process without Redis). Each is idempotent."""

from matchmaker.audit.services import drain_outbox as _drain_outbox


def drain_outbox(limit: int = 500) -> int:
    """Hand pending outbox rows to their handlers; returns how many were processed."""
    return _drain_outbox(limit=limit)


def sweep_claims() -> dict[str, int]:
    """Lapse overdue picks, escalate needs nobody grabbed, expire needs, queue reminders."""
    from matchmaker.claims.services import sweep

    return sweep()
