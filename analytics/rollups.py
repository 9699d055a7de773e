"""Monthly rollups per office: rebuilt from the source rows, never incremented.

Recomputing a whole office (or practice) with one GROUP BY is cheap and cannot drift,
whatever was added, voided, merged or imported; the nightly job rebuilds everything.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from practices.models import Practice
from referrals.choices import MilestoneKind
from referrals.models import MilestoneEvent, Referral, ReferringOffice

from .models import MonthlyRollup

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
    existing = MonthlyRollup.objects.all()
    if office_ids is not None:
        existing = existing.filter(office_id__in=office_ids)
    existing.delete()
    if connection.vendor == "postgresql":
        return _insert_rollups_in_sql(practice, office_ids)
    rows = compute_rollups(practice, office_ids)
    MonthlyRollup.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


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
