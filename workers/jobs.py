"""Job functions run by RQ workers (or in-process without Redis). Each is idempotent, takes only
ids and plain values (JSON), and has its timeout where it is queued (`PendingJob.timeout`, or the
schedule in `workers.scheduler`)."""

from matchmaker.audit.services import drain_outbox as _drain_outbox


def drain_outbox(limit: int = 500) -> int:
    """Hand pending outbox rows to their handlers, then queue again any email or webhook whose
    job was lost; returns how many outbox rows were processed."""
    from matchmaker.notifications.delivery import due_deliveries
    from matchmaker.notifications.services import queue_deliveries
    from workers.dispatch import commit

    processed = _drain_outbox(limit=limit)
    due = due_deliveries()
    if due:
        queue_deliveries(due)
        commit()
    return processed


def drain_and_repair(limit: int = 500) -> int:
    """The periodic safety net: the drain, then the statistics rows a failed consumer left out
    (an anti-join over all needs: too dear for every commit, cheap once a minute)."""
    from matchmaker.office.facts import repair

    processed = drain_outbox(limit=limit)
    repair()
    return processed


def deliver(delivery_id: int) -> str:
    """Send one email or webhook call unless it was sent already."""
    from matchmaker.notifications.delivery import deliver as _deliver

    return _deliver(delivery_id)


def sweep_claims() -> dict[str, int]:
    """Lapse overdue picks, escalate needs nobody grabbed, expire needs, queue reminders."""
    from matchmaker.claims.services import sweep

    return sweep()


def send_digests() -> int:
    """The managers' daily email of new leads (once per manager and local day)."""
    from matchmaker.notifications.services import queue_digests
    from workers.dispatch import commit

    queued = queue_digests()
    commit()
    return queued
