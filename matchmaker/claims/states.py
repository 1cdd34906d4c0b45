"""The one state machine of needs and claims. Every status change goes through `move()`.

Claim (one bank's grab of one need):

    claimed ──pick──▶ selected ──contact──▶ contacted ──credit──▶ credit_approved ──▶ disbursed
       │                 │  ╲                   │                       │
       │                 │   ╲──decline──────────┴───────────────────────┴──▶ declined
       ▼                 ▼
    not_selected ◀──▶ claimed   (back in the running when the pick lapses or is cancelled)
    any live claim ──▶ cancelled (the need is withdrawn or expires, or the pick is cancelled)
    selected ──▶ lapsed (no contact within the deadline)

Need: draft → open → claimed → selected → contacted → credit_approved → disbursed, with the side
exits of DESIGN section 3: escalated (→ assigned → selected), declined, withdrawn, expired.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from matchmaker.enums import CLAIM_STATUSES, NEED_STATUSES
from matchmaker.errors import Conflict

if TYPE_CHECKING:
    from matchmaker.claims.models import Claim
    from matchmaker.needs.models import Need

CLAIM_TRANSITIONS: dict[str, frozenset[str]] = {
    "claimed": frozenset({"selected", "not_selected", "cancelled"}),
    "not_selected": frozenset({"claimed", "cancelled"}),
    "selected": frozenset({"contacted", "declined", "lapsed", "cancelled"}),
    "contacted": frozenset({"credit_approved", "declined", "cancelled"}),
    "credit_approved": frozenset({"disbursed", "declined"}),
    "disbursed": frozenset(),
    "declined": frozenset(),
    "lapsed": frozenset(),
    "cancelled": frozenset(),
}

NEED_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"open", "withdrawn"}),
    "open": frozenset({"claimed", "escalated", "assigned", "withdrawn", "expired"}),
    "claimed": frozenset({"selected", "assigned", "withdrawn", "expired"}),
    "escalated": frozenset({"claimed", "assigned", "withdrawn", "expired"}),
    "assigned": frozenset({"selected", "withdrawn", "expired"}),
    "selected": frozenset({"contacted", "claimed", "escalated", "declined", "withdrawn"}),
    "contacted": frozenset({"credit_approved", "claimed", "escalated", "declined", "withdrawn"}),
    "credit_approved": frozenset({"disbursed", "claimed", "escalated", "declined"}),
    "disbursed": frozenset(),
    "declined": frozenset(),
    "withdrawn": frozenset(),
    "expired": frozenset(),
}

# The bank records these on its picked claim; each moves the claim and the need alike.
EVENT_TYPES = ("contacted", "credit_approved", "disbursed", "declined")
# Claims still taking part; the others are final.
LIVE_CLAIM = frozenset(s for s, nxt in CLAIM_TRANSITIONS.items() if nxt)
# The claim the enterprise picked and that is still being worked on.
PICKED_CLAIM = frozenset({"selected", "contacted", "credit_approved"})
# Claims the enterprise may pick (again, after a lapse or a cancelled pick).
PICKABLE_CLAIM = frozenset({"claimed", "not_selected"})
# Needs banks may grab, and needs the enterprise may pick a bank for.
GRABBABLE_NEED = frozenset({"open", "claimed", "escalated"})
PICKING_NEED = frozenset({"claimed", "assigned"})
# Needs the office may assign to a bank (派单).
ASSIGNABLE_NEED = frozenset({"open", "claimed", "escalated"})
CLOSED_NEED = frozenset(s for s, nxt in NEED_TRANSITIONS.items() if not nxt)

assert set(CLAIM_TRANSITIONS) == set(CLAIM_STATUSES)
assert set(NEED_TRANSITIONS) == set(NEED_STATUSES)


def can_move(table: dict[str, frozenset[str]], current: str, target: str) -> bool:
    return target in table.get(current, frozenset())


def move(obj, target: str) -> str:
    """Set `obj.status` (a Need or a Claim) to `target`, or raise 409 if the move is illegal."""
    from matchmaker.claims.models import Claim

    is_claim = isinstance(obj, Claim)
    table = CLAIM_TRANSITIONS if is_claim else NEED_TRANSITIONS
    labels = CLAIM_STATUSES if is_claim else NEED_STATUSES
    current = obj.status
    if not can_move(table, current, target):
        what = "抢单记录" if is_claim else "融资需求"
        now, then = labels.get(current, current), labels.get(target, target)
        raise Conflict(f"{what}当前为「{now}」，不能变为「{then}」", {"status": [now]})
    obj.status = target
    return current


def cancel_live_claims(need: Need, reason: str, now: datetime) -> list[Claim]:
    """Claims still taking part end when the need ends (withdrawn, expired)."""
    cancelled = []
    for claim in need.claims:
        if can_move(CLAIM_TRANSITIONS, claim.status, "cancelled"):
            move(claim, "cancelled")
            claim.cancelled_at = now
            claim.cancel_reason = reason
            cancelled.append(claim)
    return cancelled
