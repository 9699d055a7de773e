"""The nightly recompute of many practices at once: one set-based statement per step for a
whole batch instead of ~40 queries per practice (issue 11 item 4, docs/performance.md).

The results are those of :func:`analytics.nightly.recompute` (the per-practice full path,
kept for "Recompute now", replays and as the reference): the same rollups, snapshots,
alerts and digest; tests/analytics/test_nightly_batch.py compares the two.

What makes it cheap:

* rollups are rebuilt only for offices with a referral (or the office row) updated since
  their last rebuild (analytics.rollups.stale_offices: the practice's watermark bounds the
  scan of the updated_at index, each office's RollupStamp says whether the incremental
  refresh already folded the change in);
* every office's figures come from three statements for the whole batch (rollup months as
  arrays, the referrals of the last 90 days, first and last referral by index probes);
* the snapshots are written with one INSERT ... SELECT FROM unnest(...);
* alerts, overdue letters and digests are read for the batch in a few statements; only the
  practices with something to raise or announce enter their own scope to write it.

Tenant safety. The set-based statements run in one explicit ``scopes_disabled()`` block
(the database connection is then cross-tenant, docs/security.md "Row-level security"): each
names the batch's practice ids, joins every tenant table on practice_id, and writes the
practice_id of the row it read; the snapshot INSERT joins the office on (id, practice_id),
so a row can only be written for an office of its own practice. Alerts and digests are
written inside the practice's own ``practice_scope``, where the row-level security policy
checks every row. Web requests never enter this module's cross-tenant block.
"""

import datetime as dt
import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts import services as alerts
from alerts.choices import AlertKind, AlertState
from alerts.models import Alert
from config.db.tenant_setting import sync_tenant_setting
from practices.models import Practice, PracticeSettings, settings_for

from .digest import queue_digests
from .models import NightlyWatermark
from .nightly import (
    letter_alerts_due,
    overdue_cutoff,
    snapshot_fields,
    status_alerts_due,
    unsaved_alerts,
)
from .rollups import rebuild_offices_of_many, stale_offices
from .scoring import (
    HISTORY_MONTHS,
    HealthRules,
    OfficeFigures,
    assess_office,
    month_starts,
    practice_book,
)

logger = logging.getLogger(__name__)

# How far before the last watermark the next night looks again: a transaction still open
# while the last night ran (a long import) committed rows stamped before it.
WATERMARK_MARGIN = dt.timedelta(days=1)


@dataclass
class PracticeNight:
    practice_id: int
    offices: int = 0
    new_alerts: list = field(default_factory=list)


@dataclass
class BatchResult:
    as_of: dt.date
    practices: dict[int, PracticeNight]
    rollups_rebuilt: int = 0  # offices whose rollups were rebuilt
    snapshots: int = 0
    # Seconds per step, for bench/referrer_health.py (perf_counter; never asserted).
    timings: dict[str, float] = field(default_factory=dict)

    def lap(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] = self.timings.get(step, 0.0) + now - since
        return now


def recompute_batch(practice_ids: list[int], as_of: dt.date, *, raise_alerts=True) -> BatchResult:
    """Recompute these practices as of ``as_of`` in one transaction (idempotent for a date,
    like :func:`analytics.nightly.recompute`)."""
    ids = sorted(set(practice_ids))
    with transaction.atomic(), scopes_disabled():
        practices = {p.pk: p for p in Practice.objects.filter(pk__in=ids)}
        ids = sorted(practices)
        result = BatchResult(as_of, {pk: PracticeNight(pk) for pk in ids})
        if not ids:
            return result
        started = timezone.now()
        clock = time.perf_counter()
        result.rollups_rebuilt = _refresh_rollups(ids, started)
        clock = result.lap("rollups", clock)
        settings = _settings(practices)
        offices = _offices(ids)  # practice -> {office_id: name}, not archived
        figures, totals = _gather(ids, as_of, offices)
        clock = result.lap("figures", clock)
        months = month_starts(as_of, HISTORY_MONTHS)
        snapshots: dict[int, list[SimpleNamespace]] = {}
        for pk in ids:
            practice = practices[pk]
            rules = HealthRules.from_settings(settings[pk], practice.default_case_value)
            office_figures = figures[pk].values()
            book = practice_book(totals[pk], months, rules, [f.monthly for f in office_figures])
            # Plain rows, not model instances: ten thousand of them a night.
            snapshots[pk] = [
                SimpleNamespace(
                    practice_id=pk,
                    **snapshot_fields(f, assess_office(f, as_of, rules, book), book),
                )
                for f in office_figures
            ]
            result.practices[pk].offices = len(snapshots[pk])
        clock = result.lap("assess", clock)
        previous = _previous_statuses(ids, as_of)
        result.snapshots = _write_snapshots(ids, as_of, snapshots)
        clock = result.lap("snapshots", clock)
        if raise_alerts:
            _alerts_and_digests(practices, as_of, snapshots, previous, offices, settings, result)
        clock = result.lap("alerts", clock)
        NightlyWatermark.objects.bulk_create(
            [
                NightlyWatermark(practice_id=pk, checked_through=started, last_as_of=as_of)
                for pk in ids
            ],
            update_conflicts=True,
            unique_fields=["practice"],
            update_fields=["checked_through", "last_as_of"],
        )
    return result


def _refresh_rollups(ids: list[int], started: dt.datetime) -> int:
    marks = dict(
        NightlyWatermark.objects.filter(practice_id__in=ids).values_list(
            "practice_id", "checked_through"
        )
    )
    since = {pk: (marks[pk] - WATERMARK_MARGIN if pk in marks else None) for pk in ids}
    targets = stale_offices(since)
    rebuild_offices_of_many(targets)
    return len(targets)


def _settings(practices: dict[int, Practice]) -> dict[int, PracticeSettings]:
    found = {s.practice_id: s for s in PracticeSettings.objects.filter(practice_id__in=practices)}
    for pk, practice in practices.items():
        if pk not in found:  # first use: created with defaults, in the practice's scope
            found[pk] = settings_for(practice)
        practice.settings = found[pk]  # what settings_for reads later (the digests)
    return found


def _offices(ids: list[int]) -> dict[int, dict[int, str]]:
    from referrals.models import ReferringOffice

    offices: dict[int, dict[int, str]] = {pk: {} for pk in ids}
    rows = (
        ReferringOffice.objects.filter(practice_id__in=ids, is_archived=False)
        .order_by("practice_id", "name", "pk")
        .values_list("practice_id", "pk", "name")
    )
    for practice_id, pk, name in rows:
        offices[practice_id][pk] = name
    return offices


_MONTHS_SQL = """
SELECT m.practice_id, m.office_id,
       array_agg((extract(year FROM m.month)::int * 12 + extract(month FROM m.month)::int)
                 - %(base)s),
       array_agg(m.referrals),
       COALESCE(SUM(m.consults_completed) FILTER (WHERE m.month >= %(last12)s), 0),
       COALESCE(SUM(m.accepted) FILTER (WHERE m.month >= %(last12)s), 0),
       COALESCE(SUM(m.declined) FILTER (WHERE m.month >= %(last12)s), 0),
       COALESCE(SUM(m.production) FILTER (WHERE m.month >= %(last12)s), 0)
FROM analytics_monthlyrollup m
WHERE m.practice_id = ANY(%(practices)s) AND m.month >= %(first)s AND m.month < %(current)s
GROUP BY 1, 2
"""

_RECENT_SQL = """
SELECT r.practice_id, r.referring_office_id,
       COUNT(*) FILTER (WHERE r.received_on > %(d30)s),
       COUNT(*) FILTER (WHERE r.received_on > %(d60)s),
       COUNT(*),
       COUNT(*) FILTER (WHERE r.received_on >= %(current)s)
FROM referrals_referral r
WHERE r.practice_id = ANY(%(practices)s) AND r.referring_office_id IS NOT NULL
  AND r.received_on > %(d90)s AND r.received_on <= %(as_of)s
GROUP BY 1, 2
"""

# First and last referral of each office up to as_of: two probes of the
# (practice, referring_office, received_on) index per office, not a scan of its history.
_FIRST_LAST_SQL = """
SELECT o.practice_id, o.id,
       (SELECT min(r.received_on) FROM referrals_referral r
         WHERE r.practice_id = o.practice_id AND r.referring_office_id = o.id
           AND r.received_on <= %(as_of)s),
       (SELECT max(r.received_on) FROM referrals_referral r
         WHERE r.practice_id = o.practice_id AND r.referring_office_id = o.id
           AND r.received_on <= %(as_of)s)
FROM referrals_referringoffice o
WHERE o.practice_id = ANY(%(practices)s) AND NOT o.is_archived
"""


def _month_number(day: dt.date) -> int:
    return day.year * 12 + day.month


def _gather(ids: list[int], as_of: dt.date, offices: dict[int, dict[int, str]]):
    """The batch's figures, as analytics.nightly.gather_figures reads them for one practice:
    {practice: {office: OfficeFigures}} and {practice: monthly totals of all its offices}."""
    months = month_starts(as_of, HISTORY_MONTHS)
    current = as_of.replace(day=1)
    figures = {
        pk: {
            oid: OfficeFigures(oid, None, None, monthly=[0] * HISTORY_MONTHS) for oid in offices[pk]
        }
        for pk in ids
    }
    totals = {pk: [0] * HISTORY_MONTHS for pk in ids}
    params = {
        "practices": ids,
        "base": _month_number(months[0]),
        "first": months[0],
        "current": current,
        "last12": months[-12],
        "as_of": as_of,
        "d30": as_of - dt.timedelta(days=30),
        "d60": as_of - dt.timedelta(days=60),
        "d90": as_of - dt.timedelta(days=90),
    }
    with connection.cursor() as cursor:
        cursor.execute(_MONTHS_SQL, params)
        for (
            practice_id,
            office_id,
            idx,
            counts,
            consults,
            accepted,
            declined,
            production,
        ) in cursor.fetchall():
            total = totals[practice_id]
            f = figures[practice_id].get(office_id)
            for i, n in zip(idx, counts, strict=True):
                total[i] += n
                if f is not None:
                    f.monthly[i] = n
            if f is not None:
                f.consults_12, f.accepted_12, f.declined_12 = consults, accepted, declined
                f.production_12 = production
        cursor.execute(_RECENT_SQL, params)
        for practice_id, office_id, c30, c60, c90, partial in cursor.fetchall():
            f = figures[practice_id].get(office_id)
            if f is not None:
                f.count_30, f.count_60, f.count_90, f.partial_month = c30, c60, c90, partial
        cursor.execute(_FIRST_LAST_SQL, params)
        for practice_id, office_id, first, last in cursor.fetchall():
            f = figures[practice_id].get(office_id)
            if f is not None:
                f.first_referral_on, f.last_referral_on = first, last
    return figures, totals


def _previous_statuses(ids: list[int], as_of: dt.date) -> dict[int, dict[int, str]]:
    """Each practice's statuses of its latest run before ``as_of``."""
    previous: dict[int, dict[int, str]] = {pk: {} for pk in ids}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH days AS (
                SELECT p.id AS practice_id,
                       (SELECT max(s.as_of) FROM analytics_referrersnapshot s
                         WHERE s.practice_id = p.id AND s.as_of < %(as_of)s) AS as_of
                FROM unnest(%(practices)s::bigint[]) AS p(id)
            )
            SELECT s.practice_id, s.office_id, s.status
            FROM days JOIN analytics_referrersnapshot s
              ON s.practice_id = days.practice_id AND s.as_of = days.as_of
            """,
            {"practices": ids, "as_of": as_of},
        )
        for practice_id, office_id, status in cursor.fetchall():
            previous[practice_id][office_id] = status
    return previous


# Columns of analytics_referrersnapshot written by the batch.
_SNAPSHOT_COLUMNS = [
    "practice_id", "office_id", "status", "count_30", "count_60", "count_90",
    "last_referral_on", "first_referral_on", "monthly_counts", "baseline_rate", "recent_rate",
    "same_month_last_year", "rolling_12", "prior_12", "drop_months", "drop_strength",
    "threshold_rule", "statistical_rule", "revenue_at_risk", "priority", "reason",
    "evidence", "evidence_since", "received_since", "expected_since", "expected_low",
    "expected_high", "expected_counts", "practice_evidence", "consults_12", "accepted_12",
    "declined_12", "production_12",
]  # fmt: skip
_JSON_COLUMNS = {"monthly_counts", "expected_counts"}
_NAMES = ", ".join(_SNAPSHOT_COLUMNS)
_STAGE = "night_snapshot_stage"


def _write_snapshots(ids, as_of, snapshots) -> int:
    """Replace the batch's snapshots of ``as_of``: COPY into a temporary table (PostgreSQL
    refuses COPY into a table with row-level security), then one INSERT ... SELECT."""
    rows = 0
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM analytics_referrersnapshot "
            "WHERE practice_id = ANY(%(practices)s) AND as_of = %(as_of)s",
            {"practices": ids, "as_of": as_of},
        )
        cursor.execute(
            f"DROP TABLE IF EXISTS pg_temp.{_STAGE}; CREATE TEMP TABLE {_STAGE} ON COMMIT DROP "
            f"AS SELECT {_NAMES} FROM analytics_referrersnapshot WITH NO DATA"
        )
        # COPY bypasses Django's cursor wrappers: bind the connection to our (cross-tenant)
        # scope first, as the wrapper would (config/db/tenant_setting.py).
        sync_tenant_setting(connection)
        with cursor.cursor.copy(f"COPY {_STAGE} ({_NAMES}) FROM STDIN") as copy:
            for pk in ids:
                for snap in snapshots[pk]:
                    copy.write_row(
                        [
                            json.dumps(getattr(snap, name))
                            if name in _JSON_COLUMNS
                            else getattr(snap, name)
                            for name in _SNAPSHOT_COLUMNS
                        ]
                    )
                    rows += 1
        # The join on (id, practice_id): a snapshot can only be written for an office of the
        # practice it names (a mixed-up pair writes nothing, and the count says so).
        cursor.execute(
            f"INSERT INTO analytics_referrersnapshot ({_NAMES}, as_of, computed_at) "
            f"SELECT {', '.join('u.' + name for name in _SNAPSHOT_COLUMNS)}, %(as_of)s, %(now)s "
            f"FROM {_STAGE} u JOIN referrals_referringoffice o "
            "ON o.id = u.office_id AND o.practice_id = u.practice_id",
            {"as_of": as_of, "now": timezone.now()},
        )
        written = cursor.rowcount  # the stage goes with the commit (ON COMMIT DROP)
    if written != rows:
        raise RuntimeError(f"wrote {written} of {rows} snapshots: an office/practice mix-up")
    return written


def _alerts_and_digests(practices, as_of, snapshots, previous, offices, settings, result):
    ids = sorted(practices)
    Alert.objects.filter(
        practice_id__in=ids, state=AlertState.SNOOZED, snoozed_until__lte=as_of
    ).update(state=AlertState.OPEN, snoozed_until=None)  # alerts.wake_snoozed, for the batch
    unresolved: dict[int, set] = defaultdict(set)
    for practice_id, office_id, kind in Alert.objects.filter(
        practice_id__in=ids, state__in=alerts.UNRESOLVED, office__isnull=False, subject_key=""
    ).values_list("practice_id", "office_id", "kind"):
        unresolved[practice_id].add((office_id, kind))
    welcomed: dict[int, set] = defaultdict(set)
    for practice_id, office_id in Alert.objects.filter(
        practice_id__in=ids, kind=AlertKind.NEW_REFERRER
    ).values_list("practice_id", "office_id"):
        welcomed[practice_id].add(office_id)
    overdue = _overdue_letters(practices, as_of, settings)

    candidates = []
    for pk in ids:
        due = status_alerts_due(
            snapshots[pk], previous[pk], offices[pk], unresolved[pk], welcomed[pk]
        )
        due += letter_alerts_due(overdue.get(pk, {}), offices[pk], settings[pk].loop_closure_days)
        candidates += unsaved_alerts(pk, as_of, due)
    for alert in alerts.raise_many(candidates):
        result.practices[alert.practice_id].new_alerts.append(alert)

    # The digests: one per practice with an alert not yet announced, written together.
    queue_digests([practices[pk] for pk in ids], as_of)


def _overdue_letters(practices, as_of, settings) -> dict[int, Counter]:
    """Overdue letters by practice and office (communications.loop_closure.overdue_letters,
    for the batch): practices with the same cutoff share one condition."""
    from communications.loop_closure import DONE, owed_letters

    by_cutoff: dict[dt.datetime, list[int]] = defaultdict(list)
    for pk, practice in practices.items():
        days = settings[pk].loop_closure_days
        by_cutoff[overdue_cutoff(practice, as_of) - dt.timedelta(days=days)].append(pk)
    condition = Q()
    for cutoff, pks in by_cutoff.items():
        condition |= Q(practice_id__in=pks, due_at__lte=cutoff)
    rows = (
        owed_letters()
        .filter(condition)
        .exclude(status__in=DONE)
        .values_list("practice_id", "office_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    found: dict[int, Counter] = defaultdict(Counter)
    for practice_id, office_id, n in rows:
        found[practice_id][office_id] += n
    return found
