"""The journey of each demo referral: its milestone events, as a practice would record them.

Every step goes through :func:`referrals.workflow.apply`, so a generated sequence is always
one the state machine accepts, and the referral's status is the state it ends in. A step
dated today or later is not taken: recent referrals stay open (a consult booked for next
week, a decision pending, a surgery scheduled), as in a real practice.
"""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from .. import workflow
from ..choices import CaseType as C
from ..choices import MilestoneKind as K
from ..choices import Urgency
from . import texts

CONSULT_NO_SHOW = 0.10
CANCELLED_BEFORE_BOOKING = 0.02
CANCELLED_BEFORE_CONSULT = 0.02
CANCELLED_AFTER_ACCEPTANCE = 0.03
SURGERY_NO_SHOW = 0.02
REBOOKED_AFTER_NO_SHOW = 0.55
DECLINED_THEN_ACCEPTED = 0.06

# Chance that treatment is accepted after a consult, by case type; times the office's own
# factor (0.85-1.1). Overall about 0.72, inside the article's 65-80 %.
ACCEPTANCE = {
    C.THIRD_MOLARS: 0.80,
    C.IMPLANTS: 0.62,
    C.EXTRACTIONS: 0.85,
    C.BONE_GRAFT: 0.70,
    C.BIOPSY: 0.95,
    C.ORTHOGNATHIC: 0.55,
    C.TMJ: 0.50,
    C.TRAUMA: 0.95,
    C.OTHER: 0.70,
}
# Production of a completed surgery, in whole dollars (low, high).
PRODUCTION = {
    C.THIRD_MOLARS: (1200, 2600),
    C.IMPLANTS: (2800, 6000),
    C.EXTRACTIONS: (900, 1600),
    C.BONE_GRAFT: (1500, 3500),
    C.BIOPSY: (900, 1400),
    C.ORTHOGNATHIC: (4500, 6000),
    C.TMJ: (1200, 3000),
    C.TRAUMA: (1500, 4500),
    C.OTHER: (900, 2200),
}
# Days from booking a surgery to the surgery itself.
SURGERY_LEAD = {C.IMPLANTS: (14, 60), C.BONE_GRAFT: (14, 45), C.ORTHOGNATHIC: (30, 90)}
# Simple cases are often done right after the patient accepts, at the consult.
SAME_DAY_SURGERY = {C.EXTRACTIONS: 0.35, C.BIOPSY: 0.4, C.TRAUMA: 0.5, C.THIRD_MOLARS: 0.05}
# From the appointment to the step that records it.
LATE = dt.timedelta(minutes=20)  # a no-show is noted once the patient is clearly not coming
VISIT = dt.timedelta(minutes=40)  # a consult
SURGERY = dt.timedelta(minutes=90)
# Cases with a second post-op visit weeks later (osseointegration, graft healing).
LONG_FOLLOW_UP = frozenset({C.IMPLANTS, C.BONE_GRAFT, C.ORTHOGNATHIC, C.TRAUMA})


class Staff:
    """Who records a step: keys into the demo users (see ``demo.practice``)."""

    DESK = "front_desk"
    COORDINATOR = "coordinator"


@dataclass
class EventPlan:
    kind: str
    occurred_at: dt.datetime
    by: str  # Staff.DESK, Staff.COORDINATOR or a surgeon's key
    scheduled_for: dt.datetime | None = None
    note: str = ""
    findings: str = ""
    recommendation: str = ""
    procedure: str = ""
    reason: str = ""
    production: Decimal | None = None


@dataclass
class JourneyPlan:
    events: list[EventPlan]
    status: str
    status_changed_at: dt.datetime


class _Journey:
    def __init__(self, rng: random.Random, tz: ZoneInfo, today: dt.date, received_on: dt.date):
        self.rng, self.tz, self.today = rng, tz, today
        received_at = self.at(received_on)
        self.events = [EventPlan(K.RECEIVED, received_at, Staff.DESK)]
        self.state = workflow.INITIAL
        self.status_changed_at = received_at

    def at(self, day: dt.date, hours: tuple[int, int] = (8, 17)) -> dt.datetime:
        hour = self.rng.randrange(*hours)
        minute = self.rng.choice((0, 15, 30, 45))
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.tz)

    def add(self, kind: str, when: dt.datetime, by: str, **fields) -> EventPlan | None:
        """Record ``kind`` at ``when`` unless that is not in the past yet (then the journey
        stops here: None); ``workflow.apply`` raises if the step could not legally follow."""
        last = self.events[-1].occurred_at
        if when <= last:
            # Keep the events in order when two steps fall on the same day.
            when = last + dt.timedelta(minutes=10)
        if when.date() >= self.today:
            return None
        scheduled_for = fields.get("scheduled_for")
        if scheduled_for is not None and scheduled_for < when + dt.timedelta(minutes=30):
            # Booked for later the same day (an urgent case).
            fields["scheduled_for"] = when + dt.timedelta(hours=1)
        state = workflow.apply(self.state, kind)
        if state.status != self.state.status:
            self.status_changed_at = when
        self.state = state
        event = EventPlan(kind, when, by, **fields)
        self.events.append(event)
        return event

    def result(self) -> JourneyPlan:
        return JourneyPlan(self.events, self.state.status, self.status_changed_at)


def plan_journey(
    rng: random.Random,
    *,
    received_on: dt.date,
    case_type: str,
    urgency: str,
    accept_factor: float,
    surgeon: str,
    tz: ZoneInfo,
    today: dt.date,
) -> JourneyPlan:
    j = _Journey(rng, tz, today, received_on)
    _walk(j, rng, received_on, case_type, urgency, accept_factor, surgeon)
    return j.result()


def _walk(j, rng, received_on, case_type, urgency, accept_factor, surgeon) -> None:
    """The journey, step by step; each part returns None as soon as a step lies ahead."""
    if rng.random() < CANCELLED_BEFORE_BOOKING:
        day = received_on + dt.timedelta(days=rng.randrange(1, 10))
        j.add(K.CANCELLED, j.at(day), Staff.DESK, reason=rng.choice(texts.CANCEL_REASONS))
        return
    consult_at = _consult(j, rng, received_on, case_type, urgency, surgeon)
    if consult_at is None:
        return
    decided_at = _decision(j, rng, consult_at, case_type, accept_factor)
    if decided_at is None:
        return
    surgery_at = _surgery(j, rng, consult_at, decided_at, case_type, surgeon)
    if surgery_at is None:
        return
    # Post-op: a check a week or so later, a second one weeks later for longer healing.
    last = surgery_at.date()
    if rng.random() < 0.92:
        visit = _business_day(last + dt.timedelta(days=rng.randrange(6, 11)))
        if not j.add(K.POSTOP_VISIT, j.at(visit), surgeon, note=rng.choice(texts.POSTOP_NOTES)):
            return
        last = visit
    if case_type in LONG_FOLLOW_UP and rng.random() < 0.7:
        visit = _business_day(surgery_at.date() + dt.timedelta(days=rng.randrange(35, 61)))
        if not j.add(K.POSTOP_VISIT, j.at(visit), surgeon, note=rng.choice(texts.POSTOP_NOTES)):
            return
        last = visit
    day = last + dt.timedelta(days=rng.randrange(0, 11))
    j.add(K.CLOSED, j.at(day), Staff.COORDINATOR, note=texts.CLOSED_NOTE)


def _consult(j, rng, received_on, case_type, urgency, surgeon) -> dt.datetime | None:
    """Booked, maybe missed and rebooked, then seen; returns when it happened."""
    if urgency == Urgency.URGENT and rng.random() < 0.5:
        seen_at = j.at(received_on)  # seen the same day, without booking
    else:
        booked = _business_day(received_on + dt.timedelta(days=rng.randrange(3)))
        for attempt in range(3):
            appointment = _business_day(booked + dt.timedelta(days=_consult_lead(rng, urgency)))
            event = j.add(
                K.CONSULT_SCHEDULED,
                j.at(booked),
                Staff.DESK,
                scheduled_for=j.at(appointment, (8, 16)),
            )
            if event is None:
                return None
            seen_at = event.scheduled_for
            if rng.random() < CANCELLED_BEFORE_CONSULT:
                days = max(1, (seen_at.date() - booked).days)
                day = booked + dt.timedelta(days=rng.randrange(days))
                j.add(K.CANCELLED, j.at(day), Staff.DESK, reason=rng.choice(texts.CANCEL_REASONS))
                return None
            if seen_at.date() >= j.today:
                return None  # an upcoming consult
            if rng.random() >= CONSULT_NO_SHOW:
                break
            j.add(K.NO_SHOW, seen_at + LATE, Staff.DESK, note=texts.NO_SHOW_NOTE)
            if attempt == 2 or rng.random() >= REBOOKED_AFTER_NO_SHOW:
                day = seen_at.date() + dt.timedelta(days=rng.randrange(30, 46))
                j.add(K.CLOSED, j.at(day), Staff.COORDINATOR, note=texts.UNREACHABLE_NOTE)
                return None
            booked = _business_day(seen_at.date() + dt.timedelta(days=rng.randrange(1, 6)))
    findings, recommendation = rng.choice(texts.CONSULT[case_type])
    event = j.add(
        K.CONSULT_COMPLETED,
        seen_at + VISIT,
        surgeon,
        findings=findings,
        recommendation=recommendation,
    )
    return event and event.occurred_at


def _decision(j, rng, consult_at, case_type, accept_factor) -> dt.datetime | None:
    """Accepted (returns when) or declined; often at the consult, sometimes after the
    patient thinks it over, and now and then a patient who declined comes back."""
    if rng.random() < 0.6:
        decided_at = consult_at + dt.timedelta(minutes=15)
    else:
        decided_at = j.at(consult_at.date() + dt.timedelta(days=rng.randrange(2, 22)))
    if rng.random() >= min(0.98, ACCEPTANCE[case_type] * accept_factor):
        reason = rng.choice(texts.DECLINE_REASONS)
        if not j.add(K.TREATMENT_DECLINED, decided_at, Staff.COORDINATOR, reason=reason):
            return None
        if rng.random() >= DECLINED_THEN_ACCEPTED:
            # The coordinator closes the case once follow-up calls are done.
            day = decided_at.date() + dt.timedelta(days=rng.randrange(14, 61))
            j.add(K.CLOSED, j.at(day), Staff.COORDINATOR)
            return None
        decided_at = j.at(decided_at.date() + dt.timedelta(days=rng.randrange(30, 121)))
    event = j.add(K.TREATMENT_ACCEPTED, decided_at, Staff.COORDINATOR)
    if event is None:
        return None
    if rng.random() < CANCELLED_AFTER_ACCEPTANCE:
        day = decided_at.date() + dt.timedelta(days=rng.randrange(3, 31))
        j.add(K.CANCELLED, j.at(day), Staff.DESK, reason=rng.choice(texts.CANCEL_REASONS))
        return None
    return event.occurred_at


def _surgery(j, rng, consult_at, decided_at, case_type, surgeon) -> dt.datetime | None:
    """Same day for simple cases, otherwise booked (and rarely missed once)."""
    same_day = decided_at.date() == consult_at.date()
    if same_day and rng.random() < SAME_DAY_SURGERY.get(case_type, 0):
        operated_at = decided_at
    else:
        booked = _business_day(decided_at.date() + dt.timedelta(days=rng.randrange(4)))
        for attempt in range(2):
            low, high = SURGERY_LEAD.get(case_type, (7, 35))
            appointment = _business_day(booked + dt.timedelta(days=rng.randrange(low, high)))
            event = j.add(
                K.SURGERY_SCHEDULED,
                j.at(booked),
                Staff.DESK,
                scheduled_for=j.at(appointment, (7, 15)),
            )
            if event is None:
                return None
            operated_at = event.scheduled_for
            if operated_at.date() >= j.today:
                return None  # an upcoming surgery
            if attempt == 1 or rng.random() >= SURGERY_NO_SHOW:
                break
            j.add(K.NO_SHOW, operated_at + LATE, Staff.DESK, note=texts.NO_SHOW_NOTE)
            booked = _business_day(operated_at.date() + dt.timedelta(days=rng.randrange(1, 6)))
    low, high = PRODUCTION[case_type]
    event = j.add(
        K.SURGERY_COMPLETED,
        operated_at + SURGERY,
        surgeon,
        procedure=rng.choice(texts.PROCEDURES[case_type]),
        production=Decimal(rng.randrange(low, high + 1, 5)).quantize(Decimal("0.01")),
    )
    return event and event.occurred_at


def _consult_lead(rng: random.Random, urgency: str) -> int:
    if urgency == Urgency.URGENT:
        return rng.randrange(0, 3)
    if urgency == Urgency.SOON:
        return rng.randrange(2, 11)
    return rng.randrange(5, 22)


def _business_day(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day
