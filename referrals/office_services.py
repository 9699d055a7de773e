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
