"""Alert services: raise (deduplicated), acknowledge, snooze, resolve, assign.

Used by the nightly run and the alerts inbox (analytics) and by letter delivery
(communications): this app sits below both (docs/architecture.md)."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .choices import AlertState
from .models import Alert

UNRESOLVED = [AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.SNOOZED]


def raise_alert(
    practice,
    *,
    kind: str,
    office_id: int | None = None,
    subject_key: str = "",
    opened_on: dt.date,
    title: str,
    detail: str = "",
) -> Alert | None:
    """Open an alert unless one is already unresolved for the same office, kind and subject.

    Returns the new alert, or None when one was already open. The partial unique index
    settles races between two runs.
    """
    if Alert.objects.filter(
        practice=practice,
        kind=kind,
        office_id=office_id,
        subject_key=subject_key,
        state__in=UNRESOLVED,
    ).exists():
        return None
    try:
        with transaction.atomic():
            return Alert.objects.create(
                practice=practice,
                office_id=office_id,
                kind=kind,
                subject_key=subject_key,
                opened_on=opened_on,
                title=title,
                detail=detail,
            )
    except IntegrityError:
        return None


def raise_many(candidates: list[Alert]) -> list[Alert]:
    """:func:`raise_alert` for many unsaved alerts at once, of one practice (in its scope) or
    of a nightly batch of practices (outside any scope): one query for the unresolved ones,
    one insert. A candidate whose office, kind and subject already has an unresolved alert
    (or comes twice) is dropped. Should another run insert the same alert meanwhile (the
    partial unique index refuses the insert), the candidates go one by one instead.
    Returns the new alerts."""
    if not candidates:
        return []

    def key(alert: Alert) -> tuple:
        return (alert.practice_id, alert.office_id, alert.kind, alert.subject_key)

    taken = set(
        Alert.objects.filter(
            practice_id__in={c.practice_id for c in candidates},
            kind__in={c.kind for c in candidates},
            state__in=UNRESOLVED,
        ).values_list("practice_id", "office_id", "kind", "subject_key")
    )
    fresh = []
    for candidate in candidates:
        if key(candidate) not in taken:
            taken.add(key(candidate))
            fresh.append(candidate)
    try:
        with transaction.atomic():
            return Alert.objects.bulk_create(fresh)
    except IntegrityError:
        raised = []
        for c in fresh:
            alert = raise_alert(
                c.practice,
                kind=c.kind,
                office_id=c.office_id,
                subject_key=c.subject_key,
                opened_on=c.opened_on,
                title=c.title,
                detail=c.detail,
            )
            if alert is not None:
                raised.append(alert)
        return raised


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


@transaction.atomic
def acknowledge(alert: Alert, *, by) -> Alert:
    alert = _locked(alert)
    if alert.state == AlertState.RESOLVED:
        raise ValidationError("This alert is already resolved.")
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = by
    if alert.owner is None:
        alert.owner = by
    alert.save()
    return alert


@transaction.atomic
def snooze(alert: Alert, *, until: dt.date, by, today: dt.date | None = None) -> Alert:
    today = today or timezone.localdate()
    if until <= today:
        raise ValidationError({"until": "Snooze until a date after today."})
    alert = _locked(alert)
    if alert.state == AlertState.RESOLVED:
        raise ValidationError("This alert is already resolved.")
    alert.state = AlertState.SNOOZED
    alert.snoozed_until = until
    if alert.owner is None:
        alert.owner = by
    alert.save()
    return alert


@transaction.atomic
def resolve(alert: Alert, *, by, note: str) -> Alert:
    if not note.strip():
        raise ValidationError({"note": "Say how it was resolved."})
    alert = _locked(alert)
    if alert.state == AlertState.RESOLVED:
        return alert
    alert.state = AlertState.RESOLVED
    alert.resolved_at = timezone.now()
    alert.resolved_by = by
    alert.resolution_note = note.strip()
    alert.save()
    return alert


@transaction.atomic
def assign(alert: Alert, *, owner) -> Alert:
    alert = _locked(alert)
    alert.owner = owner
    alert.save(update_fields=["owner"])
    return alert


def wake_snoozed(today: dt.date) -> int:
    """Snoozed alerts whose date has come are open again."""
    return Alert.objects.filter(state=AlertState.SNOOZED, snoozed_until__lte=today).update(
        state=AlertState.OPEN, snoozed_until=None
    )


def open_counts() -> dict[str, int]:
    """Unresolved, not snoozed alerts by kind, for the navigation badge."""
    from django.db.models import Count

    rows = (
        Alert.objects.filter(state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED])
        .values_list("kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict(rows)
    counts["total"] = sum(counts.values())
    return counts
