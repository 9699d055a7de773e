"""The coordinator's worklist: open cases, where each one waits and for how long.

Read-only queries over referrals. Filters come from GET parameters (so a filtered list
is a link a coordinator can share) through :class:`WorklistForm`; the queues are the
stuck cases the seed article says practices lose track of.
"""

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.db.models import Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from practices.models import Practice, settings_for

from .choices import CLOSED_STATUSES, OPEN_STATUSES, CaseType, MilestoneKind, Status, Urgency
from .models import MilestoneEvent, Referral, ReferringOffice

# Default thresholds of the queues, in calendar days in the practice's time zone; each
# practice sets its own (PracticeSettings.worklist_*_days, Settings → Referrals).
NO_DECISION_DAYS = 14
CONSULT_NOT_BOOKED_DAYS = 7

PAGE_SIZE = 25


@dataclass(frozen=True)
class StuckThresholds:
    """After how many days a case counts as stuck in a queue."""

    consult_not_booked_days: int = CONSULT_NOT_BOOKED_DAYS
    no_decision_days: int = NO_DECISION_DAYS

    @classmethod
    def of(cls, practice: Practice) -> "StuckThresholds":
        settings = settings_for(practice)
        return cls(
            consult_not_booked_days=settings.worklist_consult_not_booked_days,
            no_decision_days=settings.worklist_no_decision_days,
        )


class Queue:
    """Stuck cases a coordinator works through, one list each."""

    NO_DECISION = "no_decision"
    SURGERY_NOT_BOOKED = "surgery_not_booked"
    CONSULT_NOT_BOOKED = "consult_not_booked"
    NO_SHOW = "no_show"

    values = (NO_DECISION, SURGERY_NOT_BOOKED, CONSULT_NOT_BOOKED, NO_SHOW)

    @staticmethod
    def choices(limits: StuckThresholds = StuckThresholds()) -> list[tuple[str, str]]:
        return [
            (Queue.NO_DECISION, f"Consult done, no decision for {limits.no_decision_days}+ days"),
            (Queue.SURGERY_NOT_BOOKED, "Accepted, surgery not scheduled"),
            (
                Queue.CONSULT_NOT_BOOKED,
                f"Received, consult not scheduled for {limits.consult_not_booked_days}+ days",
            ),
            (Queue.NO_SHOW, "No-show, not rebooked"),
        ]

    @staticmethod
    def flags(limits: StuckThresholds = StuckThresholds()) -> dict[str, str]:
        """The flag on a row, where the stage badge already says the rest."""
        return {
            Queue.NO_DECISION: f"No decision for {limits.no_decision_days}+ days",
            Queue.SURGERY_NOT_BOOKED: "Surgery not scheduled",
            Queue.CONSULT_NOT_BOOKED: (
                f"Consult not scheduled for {limits.consult_not_booked_days}+ days"
            ),
            Queue.NO_SHOW: "Not rebooked",
        }


class Sort:
    WAITING = "waiting"
    NEWEST = "newest"
    URGENCY = "urgency"

    choices = [
        (WAITING, "Longest waiting"),
        (NEWEST, "Newest referrals"),
        (URGENCY, "Most urgent"),
    ]


OPEN = "open"
# The journey's order, for the stage tabs and the stage filter.
STAGE_ORDER = [s for s in Status.values if s in OPEN_STATUSES]
FINISHED_ORDER = [s for s in Status.values if s in CLOSED_STATUSES]


def _start_of_local_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def queue_condition(queue: str, today: dt.date, limits: StuckThresholds = StuckThresholds()) -> Q:
    """The cases in ``queue`` on ``today`` (practice-local), as a filter."""
    if queue == Queue.NO_DECISION:
        # In 'consult completed' since a day at least no_decision_days days ago.
        since = _start_of_local_day(today - dt.timedelta(days=limits.no_decision_days - 1))
        return Q(status=Status.CONSULT_COMPLETED, status_changed_at__lt=since)
    if queue == Queue.SURGERY_NOT_BOOKED:
        return Q(status=Status.TREATMENT_ACCEPTED)
    if queue == Queue.CONSULT_NOT_BOOKED:
        return Q(
            status=Status.RECEIVED,
            received_on__lte=today - dt.timedelta(days=limits.consult_not_booked_days),
        )
    if queue == Queue.NO_SHOW:
        # Rebooking moves a case out of 'no-show', so every no-show case is unbooked.
        return Q(status=Status.NO_SHOW)
    raise ValueError(f"Unknown queue {queue!r}")


class WorklistForm(forms.Form):
    """The worklist's filters, read from the query string. Invalid values are ignored
    (a stale shared link still shows a list), never an error page."""

    q = forms.CharField(
        label="Patient",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": "Name or chart no.", "type": "search", "autocomplete": "off"}
        ),
    )
    stage = forms.ChoiceField(label="Stage", required=False)
    queue = forms.ChoiceField(label="Needs attention", required=False)
    office = forms.ModelChoiceField(
        label="Referring office",
        required=False,
        queryset=ReferringOffice.objects.none(),
        empty_label="All offices",
    )
    case_type = forms.ChoiceField(
        label="Case type", required=False, choices=[("", "All case types"), *CaseType.choices]
    )
    urgency = forms.ChoiceField(
        label="Urgency", required=False, choices=[("", "Any urgency"), *Urgency.choices]
    )
    sort = forms.ChoiceField(label="Sort", required=False, choices=Sort.choices)

    def __init__(self, data=None, limits: StuckThresholds = StuckThresholds()):
        super().__init__(data)
        self.fields["queue"].choices = [("", "Any"), *Queue.choices(limits)]
        # Built here, inside the request's practice scope: only our offices.
        self.fields["office"].queryset = ReferringOffice.objects.order_by("name")
        self.fields["stage"].choices = [
            (OPEN, "All open cases"),
            ("Open", [(s, Status(s).label) for s in STAGE_ORDER]),
            ("Finished", [(s, Status(s).label) for s in FINISHED_ORDER]),
        ]

    @property
    def filters(self) -> dict:
        if not self.is_bound:
            return {}
        if self.is_valid():
            return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}
        # Keep the valid parts of a partly stale link.
        return {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in self.errors and v not in ("", None)
        }


def _search(qs: QuerySet, text: str) -> QuerySet:
    # Each word must match the chart number or a part of the first or last name.
    for word in text.split():
        qs = qs.filter(
            Q(patient__first_name__icontains=word)
            | Q(patient__last_name__icontains=word)
            | Q(patient__chart_number__iexact=word)
        )
    return qs


def base_cases(filters: dict) -> QuerySet:
    """Cases matching the filters that are not stage or queue (the tabs count within these)."""
    qs = Referral.objects.all()
    if filters.get("office"):
        qs = qs.filter(referring_office=filters["office"])
    if filters.get("case_type"):
        qs = qs.filter(case_type=filters["case_type"])
    if filters.get("urgency"):
        qs = qs.filter(urgency=filters["urgency"])
    if filters.get("q"):
        qs = _search(qs, filters["q"])
    return qs


def worklist_cases(
    filters: dict, today: dt.date | None = None, limits: StuckThresholds = StuckThresholds()
) -> QuerySet:
    """The cases to list, with what the table shows fetched in the same query."""
    today = today or timezone.localdate()
    qs = base_cases(filters)
    stage = filters.get("stage") or OPEN
    qs = qs.filter(status__in=OPEN_STATUSES) if stage == OPEN else qs.filter(status=stage)
    if filters.get("queue"):
        qs = qs.filter(queue_condition(filters["queue"], today, limits))
    # The appointment the case waits for (or, after a no-show, the one it missed).
    appointment = (
        MilestoneEvent.objects.filter(
            referral=OuterRef("pk"),
            voided_at__isnull=True,
            kind__in=[MilestoneKind.CONSULT_SCHEDULED, MilestoneKind.SURGERY_SCHEDULED],
        )
        .order_by("-id")
        .values("scheduled_for")[:1]
    )
    qs = qs.select_related("patient", "referring_office", "referring_provider").annotate(
        appointment_at=Subquery(appointment)
    )
    sort = filters.get("sort") or Sort.WAITING
    if sort == Sort.NEWEST:
        return qs.order_by("-received_on", "-id")
    if sort == Sort.URGENCY:
        return qs.order_by(urgency_rank(), "status_changed_at", "id")
    return qs.order_by("status_changed_at", "id")


def urgency_rank() -> Case:
    return Case(
        When(urgency=Urgency.URGENT, then=Value(0)),
        When(urgency=Urgency.SOON, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )


def worklist_counts(
    filters: dict, today: dt.date | None = None, limits: StuckThresholds = StuckThresholds()
) -> dict[str, int]:
    """How many cases each stage and queue holds (within the other filters), in one query."""
    today = today or timezone.localdate()
    aggregates = {OPEN: Count("id", filter=Q(status__in=OPEN_STATUSES))}
    for status in Status.values:
        aggregates[status] = Count("id", filter=Q(status=status))
    for queue in Queue.values:
        aggregates[f"queue_{queue}"] = Count("id", filter=queue_condition(queue, today, limits))
    return base_cases(filters).aggregate(**aggregates)


@dataclass(frozen=True)
class CaseAges:
    days_since_received: int
    days_in_stage: int


def case_ages(referral: Referral, today: dt.date | None = None) -> CaseAges:
    """Ages in calendar days of the practice (the same days the queues count)."""
    today = today or timezone.localdate()
    since_received = (today - referral.received_on).days
    if referral.status == Status.RECEIVED:
        # The first stage began when the referral arrived, which may be days before
        # someone entered it (a fax on Friday typed in on Monday).
        in_stage = since_received
    else:
        in_stage = (today - timezone.localdate(referral.status_changed_at)).days
    return CaseAges(days_since_received=since_received, days_in_stage=in_stage)


def stuck_in(
    referral: Referral, ages: CaseAges, limits: StuckThresholds = StuckThresholds()
) -> str | None:
    """The queue a case sits in, if any, to flag it in the list."""
    if (
        referral.status == Status.CONSULT_COMPLETED
        and ages.days_in_stage >= limits.no_decision_days
    ):
        return Queue.NO_DECISION
    if referral.status == Status.TREATMENT_ACCEPTED:
        return Queue.SURGERY_NOT_BOOKED
    if (
        referral.status == Status.RECEIVED
        and ages.days_since_received >= limits.consult_not_booked_days
    ):
        return Queue.CONSULT_NOT_BOOKED
    if referral.status == Status.NO_SHOW:
        return Queue.NO_SHOW
    return None


@dataclass(frozen=True)
class WorklistRow:
    case: Referral
    ages: CaseAges
    stuck: str | None
    stuck_label: str = ""


def worklist_rows(
    cases, today: dt.date | None = None, limits: StuckThresholds = StuckThresholds()
) -> list[WorklistRow]:
    today = today or timezone.localdate()
    flags = Queue.flags(limits)
    rows = []
    for case in cases:
        ages = case_ages(case, today)
        stuck = stuck_in(case, ages, limits)
        rows.append(WorklistRow(case, ages, stuck, flags.get(stuck, "") if stuck else ""))
    return rows
