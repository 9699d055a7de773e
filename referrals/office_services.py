"""State changes of a referring office besides merging (see merging.py): archive and
restore. Each is atomic, locks the office row and writes the office's history."""

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from .choices import OfficeEventKind
from .models import OfficeEvent, ReferringOffice

# Referrer health (new, active, declining, inactive, lost) is computed by analytics, which
# referrals must not import. The office list asks for it through this signal;
# kwargs: offices (a list of ReferringOffice). A receiver returns {office_id: (value, label)}.
# With no receiver connected the list shows "—": no status is invented here.
office_health_requested = Signal()


def office_health(offices: list[ReferringOffice]) -> dict[int, tuple[str, str]]:
    statuses: dict[int, tuple[str, str]] = {}
    for _receiver, answer in office_health_requested.send(sender=ReferringOffice, offices=offices):
        statuses.update(answer or {})
    return statuses


# The office list's Health filter asks the same way. ``office_health_statuses_requested``:
# no kwargs; a receiver returns the statuses it knows as [(value, label)].
# ``office_health_filter_requested``: kwargs status (one of those values); a receiver returns
# a queryset of the ids of the offices in that status (a subquery: the filter is applied in
# SQL before the list is paginated, so every page and the count agree).
office_health_statuses_requested = Signal()
office_health_filter_requested = Signal()


def office_health_statuses() -> list[tuple[str, str]]:
    statuses: list[tuple[str, str]] = []
    for _receiver, answer in office_health_statuses_requested.send(sender=ReferringOffice):
        statuses.extend(answer or [])
    return statuses


def filter_by_health(offices, status: str):
    """The offices whose latest health is ``status``; none when nothing answers (a status
    nobody computed is never invented)."""
    for _receiver, office_ids in office_health_filter_requested.send(
        sender=ReferringOffice, status=status
    ):
        if office_ids is not None:
            return offices.filter(pk__in=office_ids)
    return offices.none()


def _set_archived(office: ReferringOffice, archived: bool, kind: str, by) -> bool:
    office = ReferringOffice.objects.select_for_update().get(pk=office.pk)
    if office.is_archived == archived:
        return False  # a double click or a stale page: nothing to record
    office.is_archived = archived
    office.save(update_fields=["is_archived", "updated_at"])
    OfficeEvent.objects.create(
        practice_id=office.practice_id,
        office=office,
        kind=kind,
        occurred_on=timezone.localdate(),
        by=by,
    )
    return True


@transaction.atomic
def archive_office(office: ReferringOffice, *, by) -> bool:
    """Hide an office from intake and the default list; its referrals and history stay.
    Returns False when it was archived already."""
    return _set_archived(office, True, OfficeEventKind.ARCHIVED, by)


@transaction.atomic
def restore_office(office: ReferringOffice, *, by) -> bool:
    """Bring an archived office back. Returns False when it was not archived."""
    return _set_archived(office, False, OfficeEventKind.RESTORED, by)
