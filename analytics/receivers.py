"""Keep derived analytics right when the referral domain changes.

``referrals`` sends signals and knows nothing of us; the refresh runs after the commit so
it sees committed rows, and a failure here can never undo an intake.
"""

from django.db import transaction
from django.dispatch import receiver

from practices.models import Practice
from practices.scoping import practice_scope
from referrals.office_services import (
    office_health_filter_requested,
    office_health_requested,
    office_health_statuses_requested,
)
from referrals.signals import milestone_recorded, office_activity_changed

from .rollups import rebuild_rollups


def _refresh_later(practice_id: int, office_ids) -> None:
    office_ids = sorted({i for i in office_ids if i})
    if not office_ids:
        return

    def refresh():
        practice = Practice.objects.get(pk=practice_id)
        with practice_scope(practice):
            rebuild_rollups(practice, office_ids)

    transaction.on_commit(refresh)


@receiver(milestone_recorded)
def refresh_rollups_on_milestone(sender, referral, event, historical=False, **kwargs):
    _refresh_later(referral.practice_id, [referral.referring_office_id])


@receiver(office_activity_changed)
def refresh_rollups_on_bulk_change(sender, practice_id, office_ids, **kwargs):
    _refresh_later(practice_id, office_ids)


@receiver(office_health_requested)
def answer_office_health(sender, offices, **kwargs):
    """The office list's Health column: each office's status in the latest nightly run."""
    from django.db.models import Max

    from .choices import ReferrerStatus
    from .models import ReferrerSnapshot

    latest = ReferrerSnapshot.objects.aggregate(day=Max("as_of"))["day"]
    if latest is None:
        return {}
    rows = ReferrerSnapshot.objects.filter(
        as_of=latest, office_id__in=[o.pk for o in offices]
    ).values_list("office_id", "status")
    return {office_id: (status, ReferrerStatus(status).label) for office_id, status in rows}


@receiver(office_health_statuses_requested)
def answer_office_health_statuses(sender, **kwargs):
    """The choices of the office list's Health filter."""
    from .choices import ReferrerStatus

    return list(ReferrerStatus.choices)


@receiver(office_health_filter_requested)
def answer_office_health_filter(sender, status, **kwargs):
    """The ids of the offices whose status in the latest nightly run is ``status``, as a
    subquery (the same run the Health column shows)."""
    from django.db.models import Max

    from .models import ReferrerSnapshot

    latest = ReferrerSnapshot.objects.order_by().aggregate(day=Max("as_of"))["day"]
    if latest is None:
        return ReferrerSnapshot.objects.none().values("office_id")
    return ReferrerSnapshot.objects.filter(as_of=latest, status=status).values("office_id")
