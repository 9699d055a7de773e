"""Merging duplicate referring offices (referrals/merging.py and its pages)."""

import datetime as dt

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from practices.scoping import practice_scope
from referrals.choices import LetterChannel, OfficeEventKind
from referrals.merging import MergeRefused, merge_offices, preview_merge
from referrals.models import OfficeEvent, Referral, ReferringOffice, ReferringProvider
from referrals.office_services import archive_office
from referrals.services import ReferralInput, create_referral
from referrals.signals import office_activity_changed

from .factories import OfficeFactory, PatientFactory, ProviderFactory, ReferralFactory


def intake(practice, office, provider, received_on):
    """A referral through the real intake service (writes the first-referral history)."""
    with practice_scope(practice):
        return create_referral(
            practice,
            ReferralInput(
                patient=PatientFactory(practice=practice),
                source_type="doctor",
                case_type="third_molars",
                received_on=received_on,
                referring_office=office,
                referring_provider=provider,
            ),
        )


@pytest.fixture
def survivor(practice):
    return OfficeFactory(
        practice=practice,
        name="Maple Family Dental",
        phone="617-555-0142",
        email="",
        fax="",
        address="",
        zip_code="02139",
        preferred_channel=LetterChannel.FAX,
    )


@pytest.fixture
def absorbed(practice):
    return OfficeFactory(
        practice=practice,
        name="Maple Dental, PC",
        phone="617 555 9999",
        email="hello@maple.example",
        fax="617-555-0143",
        address="1 Maple Way",
        zip_code="02140",
        external_id="PMS-12",
    )


@pytest.fixture
def populated(practice, survivor, absorbed, admin_user):
    """Two referrals at the survivor, three (two doctors) and an archive at the absorbed."""
    dr_s = ProviderFactory(practice=practice, office=survivor, first_name="Ana", last_name="Reyes")
    dr_a1 = ProviderFactory(practice=practice, office=absorbed, first_name="Ana", last_name="Reyes")
    dr_a2 = ProviderFactory(practice=practice, office=absorbed, first_name="Lee", last_name="Park")
    intake(practice, survivor, dr_s, dt.date(2025, 6, 1))
    intake(practice, survivor, dr_s, dt.date(2025, 9, 1))
    intake(practice, absorbed, dr_a1, dt.date(2024, 2, 10))
    intake(practice, absorbed, dr_a2, dt.date(2025, 1, 5))
    intake(practice, absorbed, dr_a2, dt.date(2025, 11, 20))
    with practice_scope(practice):
        archive_office(absorbed, by=admin_user)
    return {"survivor_doctor": dr_s, "absorbed_doctors": [dr_a1, dr_a2]}


def references_to(office_id: int) -> dict[str, int]:
    """Every row of every model, in any app, that still points at the office id."""
    found = {}
    with scopes_disabled():
        for relation in ReferringOffice._meta.related_objects:
            model = relation.related_model
            count = model._base_manager.filter(**{relation.field.name: office_id}).count()
            if count:
                found[model._meta.label] = count
    return found


def test_merge_moves_everything_and_leaves_no_orphan(
    practice, survivor, absorbed, populated, admin_user
):
    absorbed_id = absorbed.pk
    with practice_scope(practice):
        result = merge_offices(survivor, absorbed, by=admin_user)

        assert not ReferringOffice.objects.filter(pk=absorbed_id).exists()
        assert references_to(absorbed_id) == {}
        assert Referral.objects.filter(referring_office=survivor).count() == 5
        assert ReferringProvider.objects.filter(office=survivor).count() == 3
        # Each referral's doctor still works at the referral's office.
        for r in Referral.objects.select_related("referring_provider"):
            assert r.referring_provider.office_id == r.referring_office_id == survivor.pk
        kinds = sorted(OfficeEvent.objects.filter(office=survivor).values_list("kind", flat=True))
        assert kinds == sorted(
            [
                OfficeEventKind.FIRST_REFERRAL,  # the survivor's own
                OfficeEventKind.FIRST_REFERRAL,  # moved from the absorbed office
                OfficeEventKind.ARCHIVED,  # moved
                OfficeEventKind.MERGED,
            ]
        )
        survivor.refresh_from_db()

    assert (result.referrals_moved, result.providers_moved, result.events_moved) == (3, 2, 2)
    assert result.absorbed_id == absorbed_id
    merged = result.event
    assert merged.kind == OfficeEventKind.MERGED
    assert merged.office_id == survivor.pk
    assert merged.by == admin_user
    assert merged.details["absorbed_id"] == absorbed_id
    assert merged.details["absorbed_name"] == "Maple Dental, PC"
    assert merged.details["referrals_moved"] == 3
    assert merged.details["providers_moved"] == 2
    assert merged.details["events_moved"] == 2
    # First referral: the earliest of the two offices.
    assert survivor.first_referral_on == dt.date(2024, 2, 10)
    assert not survivor.is_archived


def test_moved_history_remembers_the_office_it_was_written_for(
    practice, survivor, absorbed, populated, admin_user
):
    with practice_scope(practice):
        merge_offices(survivor, absorbed, by=admin_user)
        moved = OfficeEvent.objects.filter(office=survivor, kind=OfficeEventKind.ARCHIVED).get()
    assert moved.details["recorded_for"]["name"] == "Maple Dental, PC"


def test_merge_details_hold_no_patient_data(practice, survivor, absorbed, populated, admin_user):
    with practice_scope(practice):
        result = merge_offices(survivor, absorbed, by=admin_user)
        patients = [r.patient for r in Referral.objects.select_related("patient")]
    text = str(result.event.details)
    for patient in patients:
        assert patient.last_name not in text
        assert patient.chart_number not in text


def test_merge_fills_only_the_survivors_empty_fields(
    practice, survivor, absorbed, populated, admin_user
):
    with practice_scope(practice):
        result = merge_offices(survivor, absorbed, by=admin_user)
        survivor.refresh_from_db()
    assert sorted(result.filled_fields) == ["address", "email", "external_id", "fax"]
    assert survivor.email == "hello@maple.example"
    assert survivor.fax == "617-555-0143"
    assert survivor.address == "1 Maple Way"
    assert survivor.external_id == "PMS-12"  # taken over after the absorbed row is gone
    # Kept: the survivor's own values.
    assert survivor.phone == "617-555-0142"
    assert survivor.zip_code == "02139"
    assert survivor.name == "Maple Family Dental"
    assert survivor.preferred_channel == LetterChannel.FAX
    assert "Filled from the merged office: address, fax, email, PMS id." in result.summary()


def test_merging_an_office_with_itself_is_refused(practice, survivor, admin_user):
    with practice_scope(practice), pytest.raises(MergeRefused, match="itself"):
        merge_offices(survivor, survivor, by=admin_user)
    with practice_scope(practice):
        assert ReferringOffice.objects.filter(pk=survivor.pk).exists()


def test_merging_offices_of_two_practices_is_refused(
    practice, other_practice, survivor, admin_user
):
    theirs = OfficeFactory(practice=other_practice, name="Maple Family Dental")
    ReferralFactory(practice=other_practice, referring_office=theirs)
    with practice_scope(practice), pytest.raises(MergeRefused, match="different practices"):
        merge_offices(survivor, theirs, by=admin_user)
    with scopes_disabled():
        assert ReferringOffice.objects.filter(pk=theirs.pk).exists()
        assert Referral.objects.get().referring_office_id == theirs.pk


def test_a_merge_that_fails_at_the_last_step_changes_nothing(
    practice, survivor, absorbed, populated, admin_user
):
    """Atomic: an error after everything moved (here from a receiver of the signal sent at
    the end) leaves both offices exactly as they were."""

    def broken_receiver(**kwargs):
        raise RuntimeError("derived data could not be refreshed")

    office_activity_changed.connect(broken_receiver, weak=False)
    try:
        with practice_scope(practice), pytest.raises(RuntimeError):
            merge_offices(survivor, absorbed, by=admin_user)
    finally:
        office_activity_changed.disconnect(broken_receiver)
    with practice_scope(practice):
        assert ReferringOffice.objects.filter(pk=absorbed.pk).exists()
        assert Referral.objects.filter(referring_office=absorbed).count() == 3
        assert ReferringProvider.objects.filter(office=absorbed).count() == 2
        assert OfficeEvent.objects.filter(office=absorbed).count() == 2
        assert not OfficeEvent.objects.filter(kind=OfficeEventKind.MERGED).exists()
        survivor.refresh_from_db()
    assert survivor.email == ""
    assert survivor.first_referral_on == dt.date(2025, 6, 1)


def test_a_merge_of_an_office_deleted_meanwhile_is_refused(
    practice, survivor, absorbed, admin_user
):
    ReferralFactory(practice=practice, referring_office=absorbed)
    with practice_scope(practice):
        ReferringOffice.objects.filter(pk=survivor.pk).delete()
        with pytest.raises(MergeRefused, match="no longer exists"):
            merge_offices(survivor, absorbed, by=admin_user)
        assert Referral.objects.get().referring_office_id == absorbed.pk


# --- the pages --------------------------------------------------------------------------


def test_the_confirmation_page_shows_what_will_move_and_changes_nothing(
    admin_client, practice, survivor, absorbed, populated
):
    url = f"{reverse('office_merge')}?survivor={survivor.pk}&absorbed={absorbed.pk}"
    response = admin_client.get(url)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert (preview.referrals, preview.providers, preview.events) == (3, 2, 2)
    assert set(preview.filled) == {"address", "email", "external_id", "fax"}
    assert preview.same_name_providers == ["Dr. Ana Reyes"]
    html = response.content.decode()
    assert "Merge “Maple Dental, PC” into “Maple Family Dental”?" in html
    assert "Empty fields of “Maple Family Dental” are filled from “Maple Dental, PC”" in html
    assert "hello@maple.example" in html
    assert "Both offices list Dr. Ana Reyes" in html
    with practice_scope(practice):
        assert ReferringOffice.objects.count() == 2


def test_merging_through_the_page_redirects_to_the_survivor_with_a_summary(
    admin_client, practice, survivor, absorbed, populated
):
    response = admin_client.post(
        reverse("office_merge"), {"survivor": survivor.pk, "absorbed": absorbed.pk}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("office_detail", args=[survivor.pk])
    html = response.content.decode()
    assert "Merged “Maple Dental, PC” into “Maple Family Dental”: 3 referrals, 2 doctors" in html
    assert "Filled from the merged office" in html
    assert response.context["stats"]["total"] == 5
    # The history on the page says what happened.
    assert f"Merged “Maple Dental, PC” (#{absorbed.pk}) into this office" in html
    assert "recorded for “Maple Dental, PC”, merged in later" in html
    # The absorbed office is gone: its page and a second merge are 404s.
    assert admin_client.get(reverse("office_detail", args=[absorbed.pk])).status_code == 404
    again = admin_client.post(
        reverse("office_merge"), {"survivor": survivor.pk, "absorbed": absorbed.pk}
    )
    assert again.status_code == 404


def test_merging_an_office_with_itself_through_the_page_is_refused(
    admin_client, practice, survivor
):
    response = admin_client.post(
        reverse("office_merge"), {"survivor": survivor.pk, "absorbed": survivor.pk}, follow=True
    )
    assert "An office cannot be merged with itself." in response.content.decode()
    with practice_scope(practice):
        assert ReferringOffice.objects.filter(pk=survivor.pk).exists()


@pytest.mark.parametrize("params", [{}, {"survivor": "1"}, {"survivor": "x", "absorbed": "2"}])
def test_a_merge_without_two_offices_is_a_404(admin_client, params):
    assert admin_client.get(reverse("office_merge"), params).status_code == 404


def test_a_merge_across_practices_is_a_404_either_way(
    admin_client, practice, other_practice, survivor
):
    theirs = OfficeFactory(practice=other_practice)
    for a, b in ((survivor.pk, theirs.pk), (theirs.pk, survivor.pk)):
        data = {"survivor": a, "absorbed": b}
        assert admin_client.get(reverse("office_merge"), data).status_code == 404
        assert admin_client.post(reverse("office_merge"), data).status_code == 404
    with scopes_disabled():
        assert ReferringOffice.objects.filter(pk__in=[survivor.pk, theirs.pk]).count() == 2


def test_the_preview_is_read_only(practice, survivor, absorbed, populated):
    with practice_scope(practice):
        before = Referral.objects.filter(referring_office=absorbed).count()
        preview_merge(survivor, absorbed)
        assert Referral.objects.filter(referring_office=absorbed).count() == before


def test_merging_moves_rows_of_other_apps_and_tolerates_derived_twins(
    practice, survivor, absorbed, admin_user
):
    """Analytics keeps rows per office (a monthly rollup, unique per office and month, and
    an outreach log). The log moves; the absorbed office's rollup for a month the survivor
    also has cannot move and goes with it; the merge succeeds."""
    from analytics.models import MonthlyRollup, OutreachLog

    month = dt.date(2025, 1, 1)
    with practice_scope(practice):
        for office in (survivor, absorbed):
            MonthlyRollup.objects.create(practice=practice, office=office, month=month, referrals=2)
        MonthlyRollup.objects.create(
            practice=practice, office=absorbed, month=dt.date(2025, 2, 1), referrals=1
        )
        OutreachLog.objects.create(
            practice=practice, office=absorbed, kind="call", occurred_on=dt.date(2025, 3, 1)
        )
        result = merge_offices(survivor, absorbed, by=admin_user)
    assert references_to(result.absorbed_id) == {}
    with scopes_disabled():
        assert OutreachLog.objects.get().office_id == survivor.pk
        assert set(MonthlyRollup.objects.values_list("office_id", "month")) >= {
            (survivor.pk, month)
        }


@pytest.mark.django_db(transaction=True)
def test_two_merges_of_the_same_pair_at_once_are_serialized_by_the_row_locks(
    practice, survivor, absorbed, admin_user, coordinator_user
):
    """A second merge started while the first holds the office rows waits for them, then
    finds the absorbed office gone and is refused; nothing is moved twice or left behind."""
    import threading

    from django.db import connection, connections

    ReferralFactory(practice=practice, referring_office=absorbed)
    outcome = {}

    def second_merge():
        try:
            with practice_scope(practice):
                merge_offices(survivor, absorbed, by=coordinator_user)
            outcome["second"] = "merged"
        except MergeRefused as refused:
            outcome["second"] = refused.messages[0]
        finally:
            connections.close_all()

    second = threading.Thread(target=second_merge)

    def start_the_second_merge_and_wait_until_it_waits(**kwargs):
        # Runs inside the first merge's transaction, with both office rows locked.
        second.start()
        with connection.cursor() as cursor:
            for _ in range(400):
                # Activity statistics are a snapshot per transaction: refresh it each time.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                if cursor.fetchone()[0]:
                    return
                threading.Event().wait(0.05)
        raise AssertionError("the second merge never waited for the lock")

    office_activity_changed.connect(start_the_second_merge_and_wait_until_it_waits, weak=False)
    try:
        with practice_scope(practice):
            first = merge_offices(survivor, absorbed, by=admin_user)
    finally:
        office_activity_changed.disconnect(start_the_second_merge_and_wait_until_it_waits)
        second.join(20)

    assert first.referrals_moved == 1
    assert outcome["second"] == "One of the offices no longer exists."
    assert references_to(first.absorbed_id) == {}
    with practice_scope(practice):
        assert OfficeEvent.objects.filter(kind=OfficeEventKind.MERGED).count() == 1
