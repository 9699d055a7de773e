"""Monthly rollups per office: rebuilt from the source rows, never incremented.

Recomputing a whole office (or practice) with one GROUP BY is cheap and cannot drift,
whatever was added, voided, merged or imported. Every rebuild stamps the offices it covered
(RollupStamp.built_at, the clock read before the rebuild): the nightly batches rebuild only
offices with a referral or office row updated since their stamp (rebuild_stale_rollups), so
what the incremental refresh already folded in during the day is not paid for twice.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from practices.models import Practice
from referrals.choices import MilestoneKind
from referrals.models import MilestoneEvent, Referral, ReferringOffice

from .models import MonthlyRollup, RollupStamp

EVENT_COLUMNS = {
    MilestoneKind.CONSULT_COMPLETED: "consults_completed",
    MilestoneKind.TREATMENT_ACCEPTED: "accepted",
    MilestoneKind.TREATMENT_DECLINED: "declined",
    MilestoneKind.SURGERY_COMPLETED: "surgeries_completed",
}


def _month(value) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.replace(day=1)


def compute_rollups(practice: Practice, office_ids: Iterable[int] | None = None) -> list:
    """The rollup rows for the given offices (all of the practice's when None), unsaved."""
    zone = ZoneInfo(practice.time_zone)
    referrals = Referral.objects.filter(referring_office__isnull=False)
    events = MilestoneEvent.objects.filter(
        voided_at__isnull=True,
        kind__in=list(EVENT_COLUMNS),
        referral__referring_office__isnull=False,
    )
    if office_ids is not None:
        office_ids = list(office_ids)
        referrals = referrals.filter(referring_office_id__in=office_ids)
        events = events.filter(referral__referring_office_id__in=office_ids)

    cells: dict[tuple[int, dt.date], dict] = defaultdict(
        lambda: {
            "referrals": 0,
            "consults_completed": 0,
            "accepted": 0,
            "declined": 0,
            "surgeries_completed": 0,
            "production": Decimal("0"),
        }
    )
    for row in (
        referrals.annotate(month=TruncMonth("received_on"))
        .values_list("referring_office_id", "month")
        .annotate(n=Count("id"))
        .order_by()
    ):
        office_id, month, n = row
        cells[(office_id, _month(month))]["referrals"] = n
    for office_id, month, kind, n, production in (
        events.annotate(month=TruncMonth("occurred_at", tzinfo=zone))
        .values_list("referral__referring_office_id", "month", "kind")
        .annotate(n=Count("id"), production=Sum("production"))
        .order_by()
    ):
        cell = cells[(office_id, _month(month))]
        cell[EVENT_COLUMNS[kind]] += n
        if production:
            cell["production"] += production
    return [
        MonthlyRollup(practice=practice, office_id=office_id, month=month, **values)
        for (office_id, month), values in cells.items()
    ]


@transaction.atomic
def rebuild_rollups(practice: Practice, office_ids: Iterable[int] | None = None) -> int:
    """Replace the rollups of these offices (or the whole practice) with fresh ones."""
    if office_ids is not None:
        office_ids = sorted(set(office_ids))
        if not office_ids:
            return 0
        # Serialise concurrent refreshes of the same office: the later one sees both changes.
        list(ReferringOffice.objects.select_for_update().filter(pk__in=office_ids).values("pk"))
    # Read before the rebuild's first statement: whatever committed before it is in the
    # rebuild; a referral updated from now on is later than the stamp and gets rebuilt.
    built_at = timezone.now()
    existing = MonthlyRollup.objects.all()
    if office_ids is not None:
        existing = existing.filter(office_id__in=office_ids)
    existing.delete()
    if connection.vendor == "postgresql":
        written = _insert_rollups_in_sql(practice, office_ids)
    else:
        rows = compute_rollups(practice, office_ids)
        MonthlyRollup.objects.bulk_create(rows, batch_size=2000)
        written = len(rows)
    _stamp(practice, office_ids, built_at)
    return written


def _stamp(practice: Practice, office_ids: list[int] | None, built_at: dt.datetime) -> None:
    if office_ids is None:
        office_ids = list(ReferringOffice.objects.values_list("pk", flat=True))
    RollupStamp.objects.bulk_create(
        [RollupStamp(practice=practice, office_id=pk, built_at=built_at) for pk in office_ids],
        update_conflicts=True,
        unique_fields=["office"],
        update_fields=["built_at"],
    )


# The same aggregation as compute_rollups, done inside PostgreSQL with INSERT ... SELECT:
# no rows travel to Python and back, which made the rebuild most of the nightly job's time.
_ROLLUP_SQL = """
WITH refs AS {materialized} (
    SELECT r.id, r.referring_office_id, r.received_on
    FROM referrals_referral r
    WHERE r.practice_id = %(practice)s AND r.referring_office_id IS NOT NULL {office_filter}
)
INSERT INTO analytics_monthlyrollup (practice_id, office_id, month, referrals,
    consults_completed, accepted, declined, surgeries_completed, production)
SELECT %(practice)s, office_id, month, SUM(referrals), SUM(consults), SUM(accepted),
    SUM(declined), SUM(surgeries), SUM(production)
FROM (
    SELECT referring_office_id AS office_id, date_trunc('month', received_on)::date AS month,
           COUNT(*) AS referrals, 0 AS consults, 0 AS accepted, 0 AS declined,
           0 AS surgeries, 0::numeric AS production
    FROM refs
    GROUP BY 1, 2
    UNION ALL
    SELECT refs.referring_office_id,
           date_trunc('month', e.occurred_at AT TIME ZONE %(zone)s)::date,
           0,
           COUNT(*) FILTER (WHERE e.kind = 'consult_completed'),
           COUNT(*) FILTER (WHERE e.kind = 'treatment_accepted'),
           COUNT(*) FILTER (WHERE e.kind = 'treatment_declined'),
           COUNT(*) FILTER (WHERE e.kind = 'surgery_completed'),
           COALESCE(SUM(e.production), 0)
    FROM refs
    JOIN referrals_milestoneevent e
      ON e.practice_id = %(practice)s AND e.referral_id = refs.id
    WHERE e.voided_at IS NULL
      AND e.kind IN ('consult_completed', 'treatment_accepted', 'treatment_declined',
                     'surgery_completed')
    GROUP BY 1, 2
) cells
GROUP BY office_id, month
"""


def _insert_rollups_in_sql(practice: Practice, office_ids: list[int] | None) -> int:
    params = {"practice": practice.pk, "zone": practice.time_zone}
    office_filter, materialized = "", ""
    if office_ids is not None:
        office_filter = "AND r.referring_office_id = ANY(%(offices)s)"
        params["offices"] = list(office_ids)
        # A few offices' referrals first, then their events by index: without the fence the
        # planner may scan every event of the practice for one intake.
        materialized = "MATERIALIZED"
    sql = _ROLLUP_SQL.format(office_filter=office_filter, materialized=materialized)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- the nightly batches: many practices per statement -----------------------------------
#
# These statements run cross-tenant (the caller's scopes_disabled() block in
# analytics/nightly_batch.py) over the practices of one batch. Each names the batch's
# practices explicitly, joins every tenant table on practice_id as well as on its key, and
# writes the practice_id of the source row, so no row of one practice is written from
# another's data (tests/analytics/test_nightly_batch.py checks it).

_STALE_SQL = """
WITH w AS (
    SELECT * FROM unnest(%(practices)s::bigint[], %(since)s::timestamptz[])
        AS w(practice_id, since)
), changed AS (
    SELECT r.practice_id, r.referring_office_id AS office_id, max(r.updated_at) AS changed_at
    FROM w JOIN referrals_referral r
      ON r.practice_id = w.practice_id AND r.updated_at > w.since
    -- Stated once more as constants, so the (practice, updated_at) index reads only the
    -- rows updated since the batch's earliest watermark.
    WHERE r.practice_id = ANY(%(practices)s) AND r.updated_at > %(earliest)s
      AND r.referring_office_id IS NOT NULL
    GROUP BY 1, 2
    UNION ALL
    SELECT o.practice_id, o.id, o.updated_at
    FROM w JOIN referrals_referringoffice o
      ON o.practice_id = w.practice_id AND o.updated_at > w.since
)
SELECT c.practice_id, c.office_id
FROM changed c
LEFT JOIN analytics_rollupstamp s ON s.office_id = c.office_id AND s.practice_id = c.practice_id
WHERE s.built_at IS NULL OR c.changed_at >= s.built_at
GROUP BY 1, 2
ORDER BY 1, 2
"""

_BATCH_ROLLUP_SQL = """
WITH targets AS (
    SELECT * FROM unnest(%(practices)s::bigint[], %(offices)s::bigint[])
        AS t(practice_id, office_id)
), refs AS MATERIALIZED (
    SELECT r.id, r.practice_id, r.referring_office_id, r.received_on
    FROM targets t
    JOIN referrals_referral r
      ON r.practice_id = t.practice_id AND r.referring_office_id = t.office_id
)
INSERT INTO analytics_monthlyrollup (practice_id, office_id, month, referrals,
    consults_completed, accepted, declined, surgeries_completed, production)
SELECT practice_id, office_id, month, SUM(referrals), SUM(consults), SUM(accepted),
    SUM(declined), SUM(surgeries), SUM(production)
FROM (
    SELECT practice_id, referring_office_id AS office_id,
           date_trunc('month', received_on)::date AS month,
           COUNT(*) AS referrals, 0 AS consults, 0 AS accepted, 0 AS declined,
           0 AS surgeries, 0::numeric AS production
    FROM refs
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT refs.practice_id, refs.referring_office_id,
           date_trunc('month', e.occurred_at AT TIME ZONE p.time_zone)::date,
           0,
           COUNT(*) FILTER (WHERE e.kind = 'consult_completed'),
           COUNT(*) FILTER (WHERE e.kind = 'treatment_accepted'),
           COUNT(*) FILTER (WHERE e.kind = 'treatment_declined'),
           COUNT(*) FILTER (WHERE e.kind = 'surgery_completed'),
           COALESCE(SUM(e.production), 0)
    FROM refs
    JOIN practices_practice p ON p.id = refs.practice_id
    JOIN referrals_milestoneevent e
      ON e.practice_id = refs.practice_id AND e.referral_id = refs.id
    WHERE e.voided_at IS NULL
      AND e.kind IN ('consult_completed', 'treatment_accepted', 'treatment_declined',
                     'surgery_completed')
    GROUP BY 1, 2, 3
) cells
GROUP BY practice_id, office_id, month
"""


def stale_offices(since: dict[int, dt.datetime | None]) -> list[tuple[int, int]]:
    """(practice_id, office_id) of the offices whose rollups miss a change: a referral of
    theirs (or the office row) updated after ``since[practice_id]`` and not before the
    office's last rebuild. ``since`` None: the practice was never checked (every office)."""
    practices = sorted(since)
    floor = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    bounds = [since[p] or floor for p in practices]
    with connection.cursor() as cursor:
        cursor.execute(
            _STALE_SQL, {"practices": practices, "since": bounds, "earliest": min(bounds)}
        )
        return [tuple(row) for row in cursor.fetchall()]


def rebuild_offices_of_many(targets: list[tuple[int, int]]) -> int:
    """Rebuild and stamp the rollups of these (practice_id, office_id) pairs, many practices
    in one statement per step (PostgreSQL; the caller is cross-tenant, in a transaction)."""
    if not targets:
        return 0
    practices = [p for p, _ in targets]
    offices = [o for _, o in targets]
    pairs = {"practices": practices, "offices": offices}
    with connection.cursor() as cursor:
        # The same lock as the incremental refresh: one of the two waits for the other.
        cursor.execute(
            "SELECT o.id FROM referrals_referringoffice o JOIN unnest(%(practices)s::bigint[], "
            "%(offices)s::bigint[]) AS t(practice_id, office_id) "
            "ON o.id = t.office_id AND o.practice_id = t.practice_id ORDER BY o.id FOR UPDATE OF o",
            pairs,
        )
        built_at = timezone.now()
        cursor.execute(
            "DELETE FROM analytics_monthlyrollup m USING unnest(%(practices)s::bigint[], "
            "%(offices)s::bigint[]) AS t(practice_id, office_id) "
            "WHERE m.practice_id = t.practice_id AND m.office_id = t.office_id",
            pairs,
        )
        cursor.execute(_BATCH_ROLLUP_SQL, pairs)
        written = cursor.rowcount
        cursor.execute(
            "INSERT INTO analytics_rollupstamp (practice_id, office_id, built_at) "
            "SELECT o.practice_id, o.id, %(at)s FROM referrals_referringoffice o "
            "JOIN unnest(%(practices)s::bigint[], %(offices)s::bigint[]) "
            "AS t(practice_id, office_id) ON o.id = t.office_id AND o.practice_id = t.practice_id "
            "ON CONFLICT (office_id) DO UPDATE SET built_at = EXCLUDED.built_at",
            {**pairs, "at": built_at},
        )
    return written
