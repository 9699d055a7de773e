"""The journey of a referral as a state machine, in one place.

A referral's status is the result of folding its (non-void) milestone events through
:data:`TRANSITIONS`. Nothing else decides which step may follow which: the timeline's
buttons, the API and the CSV import all ask :func:`allowed_next` and :func:`apply`.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from .choices import MilestoneKind as K
from .choices import Status as S


class IllegalTransition(Exception):
    """A step that may not follow the referral's current status."""

    def __init__(self, status: str, kind: str, allowed: Iterable[str]):
        self.status = status
        self.kind = kind
        self.allowed = list(allowed)
        allowed_labels = ", ".join(K(a).label for a in self.allowed) or "none (the case is over)"
        super().__init__(
            f"Cannot record '{K(kind).label}' while the referral is '{S(status).label}'. "
            f"Allowed next steps: {allowed_labels}."
        )


# kind -> (statuses it may follow, status it leads to; None keeps the status)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    # Rescheduling is the same step again; a consult can be rebooked after a no-show.
    K.CONSULT_SCHEDULED: (frozenset({S.RECEIVED, S.CONSULT_SCHEDULED}), S.CONSULT_SCHEDULED),
    # A same-day (walk-in) consult may be recorded without booking it first.
    K.CONSULT_COMPLETED: (frozenset({S.RECEIVED, S.CONSULT_SCHEDULED}), S.CONSULT_COMPLETED),
    # A patient who declined may come back and accept.
    K.TREATMENT_ACCEPTED: (
        frozenset({S.CONSULT_COMPLETED, S.TREATMENT_DECLINED}),
        S.TREATMENT_ACCEPTED,
    ),
    K.TREATMENT_DECLINED: (frozenset({S.CONSULT_COMPLETED}), S.TREATMENT_DECLINED),
    K.SURGERY_SCHEDULED: (
        frozenset({S.TREATMENT_ACCEPTED, S.SURGERY_SCHEDULED}),
        S.SURGERY_SCHEDULED,
    ),
    # Same-day surgery right after acceptance happens (e.g. extractions).
    K.SURGERY_COMPLETED: (
        frozenset({S.TREATMENT_ACCEPTED, S.SURGERY_SCHEDULED}),
        S.SURGERY_COMPLETED,
    ),
    K.POSTOP_VISIT: (frozenset({S.SURGERY_COMPLETED}), None),
    K.NO_SHOW: (frozenset({S.CONSULT_SCHEDULED, S.SURGERY_SCHEDULED}), S.NO_SHOW),
    K.CLOSED: (
        frozenset({S.SURGERY_COMPLETED, S.TREATMENT_DECLINED, S.NO_SHOW}),
        S.CLOSED,
    ),
    K.CANCELLED: (
        frozenset(
            {
                S.RECEIVED,
                S.CONSULT_SCHEDULED,
                S.CONSULT_COMPLETED,
                S.TREATMENT_ACCEPTED,
                S.TREATMENT_DECLINED,
                S.SURGERY_SCHEDULED,
                S.NO_SHOW,
            }
        ),
        S.CANCELLED,
    ),
}

# After a no-show the patient is rebooked for the appointment they missed.
REBOOK_AFTER_NO_SHOW = {
    S.CONSULT_SCHEDULED: K.CONSULT_SCHEDULED,
    S.SURGERY_SCHEDULED: K.SURGERY_SCHEDULED,
}

# The order in which the timeline offers steps.
KIND_ORDER = [
    K.CONSULT_SCHEDULED,
    K.CONSULT_COMPLETED,
    K.TREATMENT_ACCEPTED,
    K.TREATMENT_DECLINED,
    K.SURGERY_SCHEDULED,
    K.SURGERY_COMPLETED,
    K.POSTOP_VISIT,
    K.NO_SHOW,
    K.CLOSED,
    K.CANCELLED,
]


@dataclass(frozen=True)
class JourneyState:
    status: str
    # The status a no-show interrupted, so we know what to rebook.
    missed: str | None = None


INITIAL = JourneyState(S.RECEIVED)


def allowed_next(state: JourneyState) -> list[str]:
    allowed = [kind for kind in KIND_ORDER if state.status in TRANSITIONS[kind][0]]
    if state.status == S.NO_SHOW and state.missed in REBOOK_AFTER_NO_SHOW:
        allowed.insert(0, REBOOK_AFTER_NO_SHOW[state.missed])
    return allowed


def apply(state: JourneyState, kind: str) -> JourneyState:
    """The state after ``kind``; raises :class:`IllegalTransition` if it may not follow."""
    if kind == K.RECEIVED:
        raise IllegalTransition(state.status, kind, allowed_next(state))
    if kind not in allowed_next(state):
        raise IllegalTransition(state.status, kind, allowed_next(state))
    target = TRANSITIONS[kind][1]
    if target is None:
        return state
    if target == S.NO_SHOW:
        return JourneyState(S.NO_SHOW, missed=state.status)
    return JourneyState(target)


def replay(kinds: Iterable[str]) -> JourneyState:
    """Fold a case's event kinds (oldest first, starting with 'received') into its state."""
    kinds = list(kinds)
    if not kinds or kinds[0] != K.RECEIVED:
        raise ValueError("A referral's journey starts with its 'received' event.")
    state = INITIAL
    for kind in kinds[1:]:
        state = apply(state, kind)
    return state
