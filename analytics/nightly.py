"""The recompute of one practice: rollups, snapshots, alerts and the digest, in one
transaction — the *full* path: every rollup of the practice is rebuilt from the source rows.

"Recompute now", ``compute_referrer_scores`` (and its replays) and the single-practice task
call :func:`recompute`. The night itself runs in batches of practices
(analytics/nightly_batch.py), which rebuild only stale rollups and share this module's
snapshot fields and alert decisions, so both paths give the same results
(tests/analytics/test_nightly_batch.py compares them).
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Min, Q

from alerts import services as alerts
from alerts.choices import AlertKind
from alerts.models import Alert
from practices.models import Practice, settings_for
from referrals.models import Referral, ReferringOffice

from .choices import KIND_FOR_STATUS, ReferrerStatus
from .digest import queue_digest
from .models import MonthlyRollup, ReferrerSnapshot
from .rollups import rebuild_rollups
from .scoring import (
    HISTORY_MONTHS,
    SERIES_MONTHS,
    HealthRules,
    OfficeFigures,
    assess_office,
    month_starts,
    practice_book,
)


@dataclass
class RunResult:
    as_of: dt.date
    snapshots: list[ReferrerSnapshot]
    new_alerts: list[Alert]
    office_names: dict[int, str]


def gather_figures(
    practice: Practice, as_of: dt.date, office_ids: list[int]
) -> tuple[dict[int, OfficeFigures], list[dt.date], list[int]]:
    """Every office's figures as of ``as_of`` in two queries; plus the months and the
    practice's monthly totals for the seasonal index."""
    months = month_starts(as_of, HISTORY_MONTHS)
    index = {m: i for i, m in enumerate(months)}
    figures = {
        oid: OfficeFigures(oid, None, None, monthly=[0] * HISTORY_MONTHS) for oid in office_ids
    }
    totals = [0] * HISTORY_MONTHS
    last12 = set(months[-12:])
    for row in MonthlyRollup.objects.filter(
        month__gte=months[0], month__lt=as_of.replace(day=1)
    ).values_list(
        "office_id",
        "month",
        "referrals",
        "consults_completed",
        "accepted",
        "declined",
        "production",
    ):
        office_id, month, referrals, consults, accepted, declined, production = row
        i = index.get(month)
        if i is None:
            continue
        totals[i] += referrals
        f = figures.get(office_id)
        if f is None:
            continue
        f.monthly[i] = referrals
        if month in last12:
            f.consults_12 += consults
            f.accepted_12 += accepted
            f.declined_12 += declined
            f.production_12 += production
    month_start = as_of.replace(day=1)
    recent = (
        Referral.objects.filter(referring_office__isnull=False, received_on__lte=as_of)
        .values("referring_office_id")
        .annotate(
            first=Min("received_on"),
            last=Max("received_on"),
            c30=Count("id", filter=Q(received_on__gt=as_of - dt.timedelta(days=30))),
            c60=Count("id", filter=Q(received_on__gt=as_of - dt.timedelta(days=60))),
            c90=Count("id", filter=Q(received_on__gt=as_of - dt.timedelta(days=90))),
            partial=Count("id", filter=Q(received_on__gte=month_start)),
        )
        .order_by()
    )
    for row in recent:
        f = figures.get(row["referring_office_id"])
        if f is None:
            continue
        f.first_referral_on = row["first"]
        f.last_referral_on = row["last"]
        f.count_30, f.count_60, f.count_90 = row["c30"], row["c60"], row["c90"]
        f.partial_month = row["partial"]
    return figures, months, totals


def snapshot_fields(f: OfficeFigures, a, book) -> dict:
    """What a snapshot row holds about one office, from its figures and assessment: the
    same for the per-practice path and the nightly batches (analytics/nightly_batch.py)."""
    e = a.evidence
    return {
        "office_id": f.office_id,
        "status": a.status,
        "count_30": f.count_30,
        "count_60": f.count_60,
        "count_90": f.count_90,
        "last_referral_on": f.last_referral_on,
        "first_referral_on": f.first_referral_on,
        "monthly_counts": f.monthly[-SERIES_MONTHS:] + [f.partial_month],
        "baseline_rate": round(a.baseline_rate, 3),
        "recent_rate": round(a.recent_rate, 3),
        "same_month_last_year": a.same_month_last_year,
        "rolling_12": a.rolling_12,
        "prior_12": a.prior_12,
        "drop_months": a.drop_months,
        "drop_strength": a.decline.statistic if a.decline else 0.0,
        "threshold_rule": bool(a.decline and a.decline.threshold_rule),
        "statistical_rule": bool(a.decline and a.decline.statistical_rule),
        "revenue_at_risk": a.revenue_at_risk,
        "priority": round(a.priority, 2),
        "reason": a.reason[:300],
        "evidence": e.sentence if e else "",
        "evidence_since": e.since if e else None,
        "received_since": e.received if e else 0,
        "expected_since": round(e.expected, 2) if e else 0.0,
        "expected_low": e.low if e else 0,
        "expected_high": e.high if e else 0,
        "expected_counts": [round(x, 3) for x in a.expected_monthly[-SERIES_MONTHS:]],
        "practice_evidence": book.slowdown_sentence,
        "consults_12": f.consults_12,
        "accepted_12": f.accepted_12,
        "declined_12": f.declined_12,
        "production_12": f.production_12 or Decimal("0"),
    }


def _previous_statuses(as_of: dt.date) -> dict[int, str]:
    previous_day = ReferrerSnapshot.objects.filter(as_of__lt=as_of).aggregate(day=Max("as_of"))[
        "day"
    ]
    if previous_day is None:
        return {}
    return dict(
        ReferrerSnapshot.objects.filter(as_of=previous_day).values_list("office_id", "status")
    )


@transaction.atomic
def recompute(
    practice: Practice, as_of: dt.date, *, rebuild: bool = True, raise_alerts: bool = True
) -> RunResult:
    """Rebuild rollups, write every office's snapshot as of ``as_of`` and raise alerts.

    Idempotent for a date: a second run replaces that day's snapshots and raises no
    alert twice.
    """
    if rebuild:
        rebuild_rollups(practice)
    settings = settings_for(practice)
    rules = HealthRules.from_settings(settings, practice.default_case_value)
    offices = dict(ReferringOffice.objects.filter(is_archived=False).values_list("pk", "name"))
    figures, months, totals = gather_figures(practice, as_of, list(offices))
    book = practice_book(totals, months, rules, [f.monthly for f in figures.values()])

    snapshots = [
        ReferrerSnapshot(
            practice=practice,
            as_of=as_of,
            **snapshot_fields(f, assess_office(f, as_of, rules, book), book),
        )
        for f in figures.values()
    ]
    previous = _previous_statuses(as_of)
    ReferrerSnapshot.objects.filter(as_of=as_of).delete()
    ReferrerSnapshot.objects.bulk_create(snapshots, batch_size=1000)

    new_alerts = []
    if raise_alerts:
        alerts.wake_snoozed(as_of)
        new_alerts = _raise_alerts(practice, as_of, snapshots, previous, offices)
        new_alerts += _raise_overdue_letter_alerts(practice, as_of, offices)
        # The digest row is written in this transaction: the alerts and their announcement
        # commit together or not at all.
        queue_digest(practice, as_of)
    return RunResult(as_of, snapshots, new_alerts, offices)


@dataclass(frozen=True)
class DueAlert:
    kind: str
    office_id: int
    title: str
    detail: str


def status_alerts_due(snapshots, previous, names, unresolved, welcomed) -> list[DueAlert]:
    """The status alerts a run should raise (pure): the one place that decides them, for
    the per-practice path and the nightly batches alike."""
    due = []
    for snap in snapshots:
        kind = KIND_FOR_STATUS.get(snap.status)
        name = names[snap.office_id]
        if kind is not None:
            # One alert per episode: only when the office has just entered the status, so a
            # resolved alert stays resolved until the office recovers and drops again.
            if (snap.office_id, kind) in unresolved or previous.get(snap.office_id) == snap.status:
                continue
            title = (
                f"{name} is declining" if kind == AlertKind.DECLINING else f"{name} has gone quiet"
            )
            # The reason and, where the rule measured one, its evidence in numbers.
            detail = f"{snap.reason} {snap.evidence}".strip()[:500]
            due.append(DueAlert(kind, snap.office_id, title, detail))
        elif snap.status == ReferrerStatus.NEW and snap.office_id not in welcomed:
            due.append(
                DueAlert(
                    AlertKind.NEW_REFERRER, snap.office_id, f"New referrer: {name}", snap.reason
                )
            )
    return due


def _raise_alerts(practice, as_of, snapshots, previous, names) -> list[Alert]:
    """Raise a run's status alerts (in the practice's scope)."""
    unresolved = set(
        Alert.objects.filter(state__in=alerts.UNRESOLVED, office__isnull=False).values_list(
            "office_id", "kind"
        )
    )
    welcomed = set(
        Alert.objects.filter(kind=AlertKind.NEW_REFERRER).values_list("office_id", flat=True)
    )
    due = status_alerts_due(snapshots, previous, names, unresolved, welcomed)
    return alerts.raise_many(unsaved_alerts(practice.pk, as_of, due))


def unsaved_alerts(practice_id: int, as_of: dt.date, due: list[DueAlert]) -> list[Alert]:
    """The alerts to raise for ``due`` (alerts.raise_many saves them)."""
    return [
        Alert(
            practice_id=practice_id,
            office_id=item.office_id,
            kind=item.kind,
            opened_on=as_of,
            title=item.title,
            detail=item.detail,
        )
        for item in due
    ]


def overdue_cutoff(practice, as_of: dt.date) -> dt.datetime:
    """The end of ``as_of`` in the practice's zone: letters due by then count as overdue
    once loop_closure_days have passed (communications.loop_closure.overdue_letters)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(as_of, dt.time(23, 59), tzinfo=ZoneInfo(practice.time_zone))


def letter_alerts_due(per_office, names, days: int) -> list[DueAlert]:
    """One alert per office whose GP letters are overdue (the loop left open; pure: the
    per-practice path and the nightly batches alike; alerts.raise_many drops those already
    unresolved). ``per_office``: overdue letters by office."""
    due = []
    for office_id, count in sorted(per_office.items()):
        name = names.get(office_id)
        if name is None:  # archived office
            continue
        due.append(
            DueAlert(
                AlertKind.LETTER_OVERDUE,
                office_id,
                f"Letters overdue to {name}",
                f"{count} letter{'s' if count != 1 else ''} due more than {days} days ago "
                "not sent yet.",
            )
        )
    return due


def _raise_overdue_letter_alerts(practice, as_of, names) -> list[Alert]:
    """The overdue-letter alerts of one practice's run (in its scope)."""
    from collections import Counter

    from communications.loop_closure import overdue_letters

    end_of_day = overdue_cutoff(practice, as_of)
    per_office = Counter(overdue_letters(practice, end_of_day).values_list("office_id", flat=True))
    days = settings_for(practice).loop_closure_days
    due = letter_alerts_due(per_office, names, days)
    return alerts.raise_many(unsaved_alerts(practice.pk, as_of, due))
