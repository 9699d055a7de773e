"""Loop closure: did every letter a case's milestones called for reach the referring GP?

Decisions (issue 5):
- A letter is *due* once its due_at has passed. Letters whose milestone was undone, and
  post-op updates of a cancelled case, were never owed: they do not count at all.
- *Sent* means sent by email or printed/faxed. A letter skipped for want of an address
  (or skipped by a person) is NOT a closed loop: it counts as due and not sent, and the
  pages say why.
- An office's loop-closure rate: among its referrals of the last 12 months with at least
  one due letter, the share whose due letters all went out within
  PracticeSettings.loop_closure_days of their due time.
- Overdue: due more than loop_closure_days ago and still not sent.

Read-only queries; every one runs inside the caller's practice scope.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from practices.models import Practice, settings_for
from referrals.models import MilestoneEvent

from .delivery import CANCELLED_REASON
from .models import Letter, LetterStatus

DONE = (LetterStatus.SENT, LetterStatus.PRINTED)
RATE_WINDOW = dt.timedelta(days=365)


def owed_letters() -> QuerySet[Letter]:
    """Letters that were owed to a GP at some point (not voided, not cancelled post-op)."""
    # "Not of a voided step" as an anti-join on the few voided steps (index event_voided),
    # not a join on every step of the practice: the board reads a year of letters.
    voided = MilestoneEvent.objects.filter(voided_at__isnull=False).values("pk")
    return Letter.objects.exclude(event_id__in=voided).exclude(
        status=LetterStatus.SKIPPED, reason=CANCELLED_REASON
    )


def due_letters(now: dt.datetime | None = None) -> QuerySet[Letter]:
    return owed_letters().filter(due_at__lte=now or timezone.now())


def overdue_letters(practice: Practice, now: dt.datetime | None = None) -> QuerySet[Letter]:
    """Due more than loop_closure_days ago and not sent or printed."""
    now = now or timezone.now()
    days = settings_for(practice).loop_closure_days
    return (
        due_letters(now).filter(due_at__lte=now - dt.timedelta(days=days)).exclude(status__in=DONE)
    )


@dataclass
class Loop:
    """One case's loop: letters due so far and how many went out."""

    due: int = 0
    sent: int = 0
    open_letters: list[Letter] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.due > 0 and self.sent == self.due


def is_owed(letter: Letter) -> bool:
    """In Python, the same test as owed_letters() (needs letter.event loaded)."""
    if letter.event.voided_at is not None:
        return False
    return not (letter.status == LetterStatus.SKIPPED and letter.reason == CANCELLED_REASON)


def loop_of_letters(letters, now: dt.datetime | None = None) -> Loop:
    """A case's loop from its letters already loaded (with their events): no query."""
    now = now or timezone.now()
    loop = Loop()
    for letter in sorted(letters, key=lambda row: row.due_at):
        if letter.due_at > now or not is_owed(letter):
            continue
        loop.due += 1
        if letter.status in DONE:
            loop.sent += 1
        else:
            loop.open_letters.append(letter)
    return loop


def loops_for(referral_ids, now: dt.datetime | None = None) -> dict[int, Loop]:
    """Loop of each referral, one query."""
    loops: dict[int, Loop] = defaultdict(Loop)
    for letter in due_letters(now).filter(referral_id__in=list(referral_ids)).order_by("due_at"):
        loop = loops[letter.referral_id]
        loop.due += 1
        if letter.status in DONE:
            loop.sent += 1
        else:
            loop.open_letters.append(letter)
    return dict(loops)


def loop_for(referral, now: dt.datetime | None = None) -> Loop:
    return loops_for([referral.pk], now).get(referral.pk, Loop())


@dataclass(frozen=True)
class OfficeRate:
    closed: int  # referrals whose due letters all went out on time
    total: int  # referrals with at least one due letter

    @property
    def percent(self) -> int | None:
        return round(100 * self.closed / self.total) if self.total else None


def office_loop_rates(
    practice: Practice, office_ids=None, now: dt.datetime | None = None
) -> dict[int, OfficeRate]:
    """Loop-closure rate per office over the last 12 months (by the letters' due time),
    from one query of (office, referral, letters not out on time) rows: the database counts
    the late letters of each referral (a page of the board reads thousands of letters)."""
    now = now or timezone.now()
    grace = dt.timedelta(days=settings_for(practice).loop_closure_days)
    rows = due_letters(now).filter(due_at__gte=now - RATE_WINDOW)
    if office_ids is not None:
        rows = rows.filter(office_id__in=list(office_ids))
    on_time_letter = (
        Q(status__in=DONE) & Q(sent_at__isnull=False) & Q(sent_at__lte=F("due_at") + grace)
    )
    on_time: dict[tuple[int, int], bool] = {
        (office_id, referral_id): late == 0
        for office_id, referral_id, late in rows.values("office_id", "referral_id")
        .annotate(late=Count("id", filter=~on_time_letter))
        .values_list("office_id", "referral_id", "late")
        .order_by()
    }
    closed: dict[int, int] = defaultdict(int)
    total: dict[int, int] = defaultdict(int)
    for (office_id, _), ok in on_time.items():
        total[office_id] += 1
        closed[office_id] += ok
    return {office_id: OfficeRate(closed[office_id], total[office_id]) for office_id in total}
