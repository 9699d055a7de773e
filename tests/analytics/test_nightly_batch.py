"""The nightly batches (analytics/nightly_batch.py) against the per-practice full path
(analytics.nightly.recompute, rollups rebuilt from scratch): the same snapshots, rollups,
alerts and digests over practices with varied histories and changes between two nights;
query counts that do not grow with offices or practices; no row of one practice written
from another's data."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from alerts import services as alerts
from alerts.models import Alert
from analytics.models import MonthlyRollup, NightlyWatermark, ReferrerSnapshot, RollupStamp
from analytics.nightly import recompute
from analytics.nightly_batch import _write_snapshots, recompute_batch
from analytics.tasks import recompute_practices
from communications.models import OutgoingEmail
from communications.tasks import send_outgoing_emails
from practices.models import Practice, PracticeSettings
from practices.scoping import practice_scope
from referrals import services
from referrals.choices import CaseType, MilestoneKind, SourceType
from tests.factories import (
    OfficeFactory,
    PatientFactory,
    PracticeFactory,
    ProviderFactory,
    UserFactory,
)
from tests.smtp import serve_smtp

from .history import add_monthly, add_referrals, month_list

NIGHT_1 = dt.date(2026, 11, 26)
NIGHT_2 = dt.date(2026, 12, 2)  # a new month: the partial month and the 24 months move

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the nightly batches are PostgreSQL statements"
)


def build_practice(slug: str, zone: str, scale: int):
    """Offices of every kind: steady (with accepted cases and production), declining, new,
    inactive, lost, never referred, archived."""
    practice = PracticeFactory(name=slug.title(), slug=slug, time_zone=zone)
    with scopes_disabled():
        PracticeSettings.objects.create(
            practice=practice, alert_recipients=f"manager@{slug}.test", loop_closure_days=3
        )
        months = month_list(dt.date(2024, 11, 1), 24)
        offices = {}
        offices["steady"] = OfficeFactory(practice=practice, name=f"{slug} Steady")
        add_monthly(offices["steady"], months, [3 * scale] * 24)
        add_referrals(offices["steady"], [dt.date(2026, 11, 3)] * 2, accepted=2)
        offices["declining"] = OfficeFactory(practice=practice, name=f"{slug} Declining")
        add_monthly(offices["declining"], months, [6 * scale] * 18 + [scale // 2] * 6)
        # Still sending now and then: declining, not silent (the silence rule would call an
        # office of its old rate quiet for 8 weeks inactive instead).
        add_referrals(offices["declining"], [dt.date(2026, 11, 10)])
        offices["new"] = OfficeFactory(practice=practice, name=f"{slug} New")
        add_referrals(offices["new"], [dt.date(2026, 11, 12)])
        offices["inactive"] = OfficeFactory(practice=practice, name=f"{slug} Quiet")
        add_monthly(offices["inactive"], months[:20], [2] * 20)
        offices["lost"] = OfficeFactory(practice=practice, name=f"{slug} Lost")
        add_monthly(offices["lost"], months[:8], [3] * 8)
        offices["prospect"] = OfficeFactory(practice=practice, name=f"{slug} Prospect")
        offices["archived"] = OfficeFactory(
            practice=practice, name=f"{slug} Archived", is_archived=True
        )
        add_monthly(offices["archived"], months, [5] * 24)
    return practice, offices


def state() -> dict:
    """What a night leaves behind, every practice's, without ids and clock times."""
    with scopes_disabled():
        snapshots = {
            (s["practice_id"], s["office_id"], s["as_of"]): s
            for s in ReferrerSnapshot.objects.values()
        }
        for s in snapshots.values():
            del s["id"], s["computed_at"]
        rollups = {
            (r["practice_id"], r["office_id"], r["month"]): r
            for r in MonthlyRollup.objects.values()
        }
        for r in rollups.values():
            del r["id"]
        alert_rows = sorted(
            (a.practice_id, a.office_id, a.kind, a.state, a.title, a.detail, a.opened_on,
             a.snoozed_until, a.digested_at is None)
            for a in Alert.objects.all()
        )  # fmt: skip
        emails = sorted(
            (e.practice_id, e.kind, e.subject, tuple(e.to)) for e in OutgoingEmail.objects.all()
        )
    return {"snapshots": snapshots, "rollups": rollups, "alerts": alert_rows, "emails": emails}


def full_path_result(practices, as_of) -> dict:
    """The per-practice full path's result on the current data, then undone."""
    with transaction.atomic():
        for practice in practices:
            with practice_scope(practice):
                recompute(practice, as_of)
        expected = state()
        transaction.set_rollback(True)
    return expected


def assert_same(got: dict, expected: dict) -> None:
    assert got["rollups"] == expected["rollups"]
    assert got["snapshots"].keys() == expected["snapshots"].keys()
    for key, row in expected["snapshots"].items():
        assert got["snapshots"][key] == row, key
    assert got["alerts"] == expected["alerts"]
    assert got["emails"] == expected["emails"]


@pytest.fixture
def smtp(settings):
    yield from serve_smtp(settings)


@pytest.fixture
def world(db):
    return [
        build_practice("lakeside", "America/New_York", 2),
        build_practice("sakura", "Asia/Tokyo", 1),
        build_practice("prairie", "America/Chicago", 3),
    ]


def a_day_of_work(world):
    """Between the two nights: intakes and steps through the services (their incremental
    refresh runs), a bulk import of rows that nobody refreshed, an alert resolved and one
    snoozed, an office archived."""
    (lakeside, l_offices), (sakura, s_offices), (prairie, p_offices) = world
    with practice_scope(lakeside):
        user = UserFactory(email="coordinator@lakeside.test")
        office = l_offices["steady"]
        referral = services.create_referral(
            lakeside,
            services.ReferralInput(
                patient=PatientFactory(practice=lakeside),
                source_type=SourceType.DOCTOR,
                referring_office=office,
                referring_provider=ProviderFactory(office=office, practice=lakeside),
                case_type=CaseType.IMPLANTS,
                received_on=dt.date(2026, 11, 30),
            ),
        )
        at = dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)
        services.record_milestone(referral, MilestoneKind.CONSULT_COMPLETED, occurred_at=at)
        services.record_milestone(referral, MilestoneKind.TREATMENT_ACCEPTED, occurred_at=at)
        services.record_milestone(
            referral, MilestoneKind.SURGERY_COMPLETED, occurred_at=at, production=Decimal("900")
        )
        services.void_last_milestone(referral, by=user, reason="Wrong case")
        declining_alert = Alert.objects.get(office=l_offices["declining"])
        alerts.resolve(declining_alert, by=user, note="Called them")
        quiet_alert = Alert.objects.get(office=l_offices["inactive"])
        alerts.snooze(quiet_alert, until=NIGHT_2, by=user, today=NIGHT_1)
    with scopes_disabled():
        # An import whose refresh never ran: only the watermark can find it.
        add_referrals(s_offices["declining"], [dt.date(2026, 11, 20), dt.date(2026, 11, 28)])
        add_referrals(s_offices["lost"], [dt.date(2026, 11, 29)])
    with practice_scope(prairie):
        office = p_offices["new"]
        office.is_archived = True
        office.save()
        services.create_referral(
            prairie,
            services.ReferralInput(
                patient=PatientFactory(practice=prairie),
                source_type=SourceType.DOCTOR,
                referring_office=p_offices["prospect"],
                referring_provider=ProviderFactory(office=p_offices["prospect"], practice=prairie),
                case_type=CaseType.THIRD_MOLARS,
                received_on=dt.date(2026, 12, 1),
            ),
        )


def test_two_nights_of_batches_equal_the_full_path(world, django_capture_on_commit_callbacks):
    practices = [p for p, _ in world]
    ids = [p.pk for p in practices]
    expected = full_path_result(practices, NIGHT_1)
    result = recompute_batch(ids, NIGHT_1)
    assert_same(state(), expected)
    # The first night found no watermark: every office with rows was rebuilt.
    assert result.rollups_rebuilt == 3 * 7
    assert result.snapshots == 3 * 6  # archived offices get no snapshot
    with scopes_disabled():
        assert {a.kind for a in Alert.objects.filter(practice=practices[0])} == {
            "declining",
            "inactive",
            "new_referrer",
        }

    with django_capture_on_commit_callbacks(execute=True):
        a_day_of_work(world)

    expected = full_path_result(practices, NIGHT_2)
    result = recompute_batch(ids, NIGHT_2)
    assert_same(state(), expected)
    # Only the offices the day's refresh did not already rebuild: sakura's two imported into
    # and prairie's archived one (its office row changed); lakeside's steady office was
    # refreshed after each step, prairie's prospect after its intake.
    with scopes_disabled():
        rebuilt = sorted(
            RollupStamp.objects.filter(built_at__gte=started_of(ids)).values_list(
                "office__name", flat=True
            )
        )
    assert rebuilt == ["prairie New", "sakura Declining", "sakura Lost"]
    assert result.rollups_rebuilt == 3


def started_of(ids) -> dt.datetime:
    with scopes_disabled():
        return min(
            NightlyWatermark.objects.filter(practice_id__in=ids).values_list(
                "checked_through", flat=True
            )
        )


def test_a_second_run_on_the_same_day_changes_nothing(world):
    ids = [p.pk for p, _ in world]
    recompute_batch(ids, NIGHT_1)
    first = state()
    again = recompute_batch(ids, NIGHT_1)
    assert state() == first
    assert again.rollups_rebuilt == 0
    assert all(not p.new_alerts for p in again.practices.values())


def test_the_batch_query_count_does_not_grow_with_offices_or_practices(
    db, django_assert_max_num_queries
):
    def practice_with(slug, offices):
        practice = PracticeFactory(slug=slug, name=slug.title())
        with scopes_disabled():
            for i in range(offices):
                office = OfficeFactory(practice=practice, name=f"{slug} {i}")
                add_monthly(office, month_list(dt.date(2024, 11, 1), 24), [2 + i % 3] * 24)
        return practice

    small = practice_with("small", 2)
    recompute_batch([small.pk], NIGHT_1)
    with CaptureQueriesContext(connection) as one_small:
        recompute_batch([small.pk], NIGHT_1 + dt.timedelta(days=1))
    bigger = [practice_with(f"big{i}", 12) for i in range(3)]
    recompute_batch([p.pk for p in bigger], NIGHT_1)
    # A quiet night (no alert to raise) for three practices of 12 offices each costs no more
    # statements than one practice of 2 offices.
    with django_assert_max_num_queries(len(one_small)):
        recompute_batch([p.pk for p in bigger], NIGHT_1 + dt.timedelta(days=1))
    assert len(one_small) <= 22  # 19 statements (one COPY among them) and a savepoint


def test_a_batch_never_writes_one_practices_rows_from_anothers(world):
    ids = [p.pk for p, _ in world]
    recompute_batch(ids, NIGHT_1)
    with scopes_disabled():
        for model in (ReferrerSnapshot, MonthlyRollup, RollupStamp, Alert):
            mixed = model.objects.exclude(office__practice_id=F("practice_id"))
            assert not mixed.exists(), model
    # Each practice's snapshots are what its own run alone computes.
    alone = {}
    for practice, _ in world:
        with transaction.atomic():
            recompute_batch([practice.pk], NIGHT_1)
            alone.update(state()["snapshots"])
            transaction.set_rollback(True)
    together = state()["snapshots"]
    assert together == alone


def test_a_snapshot_for_another_practices_office_is_refused(world):
    (lakeside, _), (_, s_offices) = world[0], world[1]
    snapshot = ReferrerSnapshot(
        practice_id=lakeside.pk, office_id=s_offices["steady"].pk, as_of=NIGHT_1, status="active"
    )
    with scopes_disabled(), pytest.raises(RuntimeError, match="mix-up"), transaction.atomic():
        _write_snapshots([lakeside.pk], NIGHT_1, {lakeside.pk: [snapshot]})
    with scopes_disabled():
        assert not ReferrerSnapshot.objects.exists()


def test_the_board_shows_the_batch_night(world, client):
    """What a practice sees after a batch night: its own offices and when they were computed."""
    from tests.factories import MembershipFactory

    practice, offices = world[0]
    recompute_batch([p.pk for p, _ in world], NIGHT_1)
    with scopes_disabled():
        user = UserFactory(email="admin@lakeside.test")
        MembershipFactory(practice=practice, user=user, role="admin")
    client.force_login(user)
    response = client.get("/referrers/health/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "lakeside Declining" in page and "sakura Declining" not in page
    assert "As of <strong>Nov 26, 2026</strong> · computed " in page


def test_a_batch_sends_each_practice_its_own_digest_in_one_message(
    world, smtp, tasks_inline, django_capture_on_commit_callbacks
):
    """The batch writes its practices' digests together and hands them to Celery as one
    message (communications.tasks.send_outgoing_emails); each practice's managers get only
    their own offices, once, even when the message is delivered twice."""
    ids = [p.pk for p, _ in world]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        recompute_batch(ids, NIGHT_1)
    assert len(callbacks) == 1
    bodies = {m["To"]: m.get_body(preferencelist=("plain",)).get_content() for m in smtp.messages}
    slugs = ["lakeside", "prairie", "sakura"]
    assert sorted(bodies) == [f"manager@{slug}.test" for slug in slugs]
    for slug in slugs:
        body = bodies[f"manager@{slug}.test"]
        assert f"{slug} Declining is declining" in body
        assert f"New referrer: {slug} New" in body
        assert not [other for other in slugs if other != slug and f"{other} " in body]
    with scopes_disabled():
        emails = list(OutgoingEmail.objects.order_by("pk"))
        assert [e.status for e in emails] == ["sent"] * 3
        assert not Alert.objects.filter(digested_at__isnull=True).exists()
    send_outgoing_emails([[e.practice_id, e.pk] for e in emails])  # delivered again
    assert len(smtp.messages) == 3


def test_raise_many_drops_what_is_already_open_or_asked_twice(world):
    (lakeside, offices), (sakura, s_offices), _ = world
    recompute_batch([lakeside.pk, sakura.pk], NIGHT_1)

    def candidate(practice, office, kind):
        return Alert(
            practice_id=practice.pk, office_id=office.pk, kind=kind, opened_on=NIGHT_2,
            title="t", detail="",
        )  # fmt: skip

    with scopes_disabled():
        raised = alerts.raise_many(
            [
                candidate(lakeside, offices["declining"], "declining"),  # open since night 1
                candidate(lakeside, offices["steady"], "letter_overdue"),
                candidate(lakeside, offices["steady"], "letter_overdue"),  # asked twice
                candidate(sakura, s_offices["steady"], "letter_overdue"),
            ]
        )
        assert [(a.practice_id, a.office_id) for a in raised] == [
            (lakeside.pk, offices["steady"].pk),
            (sakura.pk, s_offices["steady"].pk),
        ]
        assert Alert.objects.filter(office=offices["declining"], kind="declining").count() == 1
        assert Alert.objects.filter(kind="letter_overdue").count() == 2


@pytest.fixture
def tasks_inline_quiet():
    """Queued tasks run in-process and keep their errors to themselves, as a worker would:
    one practice's failure does not stop the loop that queued it."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def test_a_failing_batch_is_run_again_practice_by_practice(world, tasks_inline_quiet):
    """One practice's bad data (here a time zone that does not exist) fails its batch; the
    task queues each practice on its own, so the others still get their night."""
    (lakeside, _), (sakura, _), (prairie, _) = world
    with scopes_disabled():
        Practice.objects.filter(pk=sakura.pk).update(time_zone="Mars/Olympus_Mons")
    ids = [lakeside.pk, sakura.pk, prairie.pk]
    outcome = recompute_practices.apply(args=(ids, NIGHT_1.isoformat())).get()
    assert outcome == {"practices": 0, "requeued": 3}
    with scopes_disabled():
        nights = set(
            ReferrerSnapshot.objects.filter(as_of=NIGHT_1).values_list("practice_id", flat=True)
        )
        watermarks = set(NightlyWatermark.objects.values_list("practice_id", flat=True))
    assert nights == watermarks == {lakeside.pk, prairie.pk}
