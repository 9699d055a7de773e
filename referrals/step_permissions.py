"""Which action of the role table (``practices.access``) recording each milestone needs.

Anyone in the practice may record the scheduling steps (consult or surgery booked,
no-show, cancelled); the clinical steps need ``RECORD_CLINICAL``. The timeline and the
API both read this, so a step is allowed or refused the same way on either.
"""

from practices.access import Action

from .choices import MilestoneKind as K

STEP_PERMISSION: dict[str, Action] = {
    K.CONSULT_SCHEDULED: Action.RECORD_SCHEDULING,
    K.SURGERY_SCHEDULED: Action.RECORD_SCHEDULING,
    K.NO_SHOW: Action.RECORD_SCHEDULING,
    K.CANCELLED: Action.RECORD_SCHEDULING,
    K.CONSULT_COMPLETED: Action.RECORD_CLINICAL,
    K.TREATMENT_ACCEPTED: Action.RECORD_CLINICAL,
    K.TREATMENT_DECLINED: Action.RECORD_CLINICAL,
    K.SURGERY_COMPLETED: Action.RECORD_CLINICAL,
    K.POSTOP_VISIT: Action.RECORD_CLINICAL,
    K.CLOSED: Action.RECORD_CLINICAL,
}


def action_for_step(kind: str) -> Action | None:
    """The action recording ``kind`` needs; None for a kind no one records by hand."""
    return STEP_PERMISSION.get(kind)
