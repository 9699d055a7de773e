"""A coordinator works a case from the worklist: books the consult, records it, records
the patient's acceptance, and sees each step on the timeline."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from practices.scoping import practice_scope
from referrals import services
from referrals.choices import CaseType, SourceType, Urgency
from referrals.choices import MilestoneKind as K

from ..conftest import wait_for_htmx
from ..factories import OfficeFactory, PatientFactory, ProviderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _case(practice, patient, office, provider, days_ago, **fields):
    return services.create_referral(
        practice,
        services.ReferralInput(
            patient=patient,
            source_type=SourceType.DOCTOR,
            referring_office=office,
            referring_provider=provider,
            received_on=timezone.localdate() - dt.timedelta(days=days_ago),
            case_type=fields.get("case_type", CaseType.THIRD_MOLARS),
            urgency=fields.get("urgency", Urgency.ROUTINE),
            reason=fields.get("reason", ""),
        ),
    )


@pytest.fixture
def cases(practice):
    with practice_scope(practice):
        maple = OfficeFactory(practice=practice, name="Maple Street Dental")
        vale = ProviderFactory(
            office=maple, practice=practice, first_name="Jordan", last_name="Vale"
        )
        harbor = OfficeFactory(practice=practice, name="Harbor View Family Dentistry")
        ito = ProviderFactory(office=harbor, practice=practice, first_name="Mina", last_name="Ito")
        ours = _case(
            practice,
            PatientFactory(
                practice=practice,
                first_name="Robin",
                last_name="Quill",
                date_of_birth=dt.date(1987, 2, 14),
                chart_number="CH-4471",
                phone="555-0142",
            ),
            maple,
            vale,
            9,
            case_type=CaseType.IMPLANTS,
            urgency=Urgency.SOON,
            reason="Non-restorable #30 after failed RCT. Please evaluate for implant; "
            "patient anxious, prefers sedation.",
        )
        others = [
            ("Avery", "Lind", harbor, ito, 3, CaseType.THIRD_MOLARS, Urgency.ROUTINE, []),
            ("Casey", "Moreno", maple, vale, 12, CaseType.EXTRACTIONS, Urgency.URGENT, []),
            (
                "Dana",
                "Whitfield",
                harbor,
                ito,
                21,
                CaseType.BONE_GRAFT,
                Urgency.ROUTINE,
                [
                    (K.CONSULT_COMPLETED, {"findings": "Deficient ridge"}),
                    (K.TREATMENT_ACCEPTED, {}),
                ],
            ),
            (
                "Eli",
                "Brandt",
                maple,
                vale,
                6,
                CaseType.BIOPSY,
                Urgency.SOON,
                [(K.CONSULT_SCHEDULED, {"scheduled_for": timezone.now() + dt.timedelta(days=2)})],
            ),
        ]
        for first, last, office, provider, days, case_type, urgency, steps in others:
            patient = PatientFactory(practice=practice, first_name=first, last_name=last)
            referral = _case(
                practice, patient, office, provider, days, case_type=case_type, urgency=urgency
            )
            for kind, extra in steps:
                services.record_milestone(referral, kind, **extra)
    return ours


def test_coordinator_records_consult_and_acceptance_on_the_timeline(
    login, coordinator_user, cases, live_server, screenshot
):
    page = login(coordinator_user)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/cases/")
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    screenshot("1-worklist")

    page.get_by_role("link", name="Quill, Robin").click()
    expect(page.get_by_role("heading", name="Robin Quill")).to_be_visible()
    expect(page.get_by_test_id("case-status")).to_have_text("Received")
    screenshot("2-case-received")

    # Book the consult: the form opens in place (htmx), no page load.
    page.get_by_role("link", name="Schedule consult").click()
    form = page.get_by_test_id("step-form")
    expect(form).to_be_visible()
    # Submitting without the appointment shows the error on the field.
    form.get_by_role("button", name="Record booking").click()
    expect(page.get_by_test_id("error-scheduled_for")).to_have_text(
        "Consult appointment: Give the date and time of the appointment."
    )
    screenshot("3-consult-booking-error")
    appointment = (timezone.localdate() + dt.timedelta(days=3)).strftime("%Y-%m-%d") + "T09:30"
    page.get_by_label("Consult appointment").fill(appointment)
    page.get_by_label("Note").fill("Sedation consult; bring CBCT")
    page.get_by_role("button", name="Record booking").click()
    expect(page.get_by_test_id("case-status")).to_have_text("Consult scheduled")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator('[data-kind="consult_scheduled"]')).to_contain_text("9:30 AM")
    screenshot("4-consult-scheduled")

    page.get_by_role("link", name="Consult completed").click()
    page.get_by_label("Findings").fill(
        "#30 non-restorable, periapical radiolucency. Adequate bone height; thin buccal plate."
    )
    page.get_by_label("Treatment recommendation").fill(
        "Extraction with socket graft, implant placement at 4 months."
    )
    screenshot("5-consult-completed-form")
    page.get_by_role("button", name="Record consult").click()
    expect(page.get_by_test_id("case-status")).to_have_text("Consult completed")
    expect(timeline.locator('[data-kind="consult_completed"]')).to_contain_text(
        "Extraction with socket graft"
    )
    screenshot("6-consult-completed")

    page.get_by_role("link", name="Treatment accepted").click()
    page.get_by_role("button", name="Record acceptance").click()
    expect(page.get_by_test_id("case-status")).to_have_text("Treatment accepted")
    events = timeline.get_by_test_id("event")
    expect(events).to_have_count(4)
    expect(events.nth(3)).to_contain_text("Treatment accepted")
    expect(events.nth(3)).to_contain_text(f"by {coordinator_user}")
    expect(page.locator("[data-step]")).to_have_count(3)  # schedule, complete surgery, cancel
    screenshot("7-treatment-accepted")

    # A mistake is undone with a reason and stays visible, struck through.
    page.get_by_test_id("undo-link").click()
    page.get_by_label("What was wrong with this step?").fill("Patient asked for time to decide")
    screenshot("8-undo-form")
    page.get_by_role("button", name="Undo step").click()
    expect(page.get_by_test_id("case-status")).to_have_text("Consult completed")
    expect(page.get_by_test_id("void-note")).to_contain_text("Patient asked for time to decide")
    screenshot("9-undone")

    # Without JavaScript's help the same URL serves the whole page: reload keeps everything.
    page.reload()
    expect(page.get_by_test_id("void-note")).to_be_visible()


def test_coordinator_narrows_the_worklist_without_reloading(
    login, coordinator_user, cases, live_server, screenshot
):
    page = login(coordinator_user)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/cases/")
    rows = page.get_by_test_id("case-row")
    expect(rows).to_have_count(5)

    page.get_by_test_id("queue-consult_not_booked").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("active-queue")).to_contain_text("Received, consult not")
    assert "queue=consult_not_booked" in page.url  # a link the coordinator can share
    screenshot("1-queue")

    page.get_by_label("Patient").fill("quill")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Quill, Robin")
    assert "q=quill" in page.url and "queue=consult_not_booked" in page.url
    screenshot("2-search")

    page.get_by_role("link", name="Clear all filters").click()
    expect(rows).to_have_count(5)
    wait_for_htmx(page)
    page.get_by_label("Referring office").select_option(label="Harbor View Family Dentistry")
    expect(rows).to_have_count(2)
    screenshot("3-office")

    page.get_by_role("link", name="Clear all filters").click()
    expect(rows).to_have_count(5)
    wait_for_htmx(page)
    page.get_by_test_id("stage-consult_scheduled").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Brandt, Eli")
    screenshot("4-stage")
