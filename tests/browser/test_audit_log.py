"""The audit log in a real browser: an administrator opens a patient, sees who has seen the
record, follows the link to the log filtered by the chart number, narrows it by action and
dates (htmx swaps the table and keeps the URL), and the same filters work without
JavaScript."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from practices.models import ActorKind, AuditAction, AuditEntry
from practices.scoping import practice_scope
from tests.conftest import PASSWORD, fresh_totp_code
from tests.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZONE = ZoneInfo("America/New_York")
DESK_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36"


def at(day: str, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(f"{day}T{hour:02d}:00"), ZONE)


@pytest.fixture
def history(practice, front_desk_user):
    with practice_scope(practice):
        patient = PatientFactory(
            practice=practice, first_name="Robin", last_name="Quill", chart_number="C-4471"
        )
        other = PatientFactory(practice=practice, chart_number="C-9000")
    rows = [
        (AuditAction.VIEWED, "patient", patient.pk, at("2026-11-02", 9), ""),
        (AuditAction.DOWNLOADED, "letter", patient.pk, at("2026-11-03", 14), "Letter PDF"),
        (AuditAction.PRINTED, "letter", patient.pk, at("2026-11-20", 10), "Marked printed"),
        (AuditAction.VIEWED, "patient", other.pk, at("2026-11-21", 11), ""),
    ]
    with scopes_disabled():
        for action, object_type, patient_id, when, summary in rows:
            AuditEntry.objects.create(
                practice=practice,
                actor_kind=ActorKind.USER,
                actor_user=front_desk_user,
                actor_label=front_desk_user.email,
                action=action,
                object_type=object_type,
                object_id="7" if object_type == "letter" else str(patient_id),
                patient_id=patient_id,
                summary=summary,
                at=when,
                ip_address="198.51.100.7",
                user_agent=DESK_UA,
            )
    return patient


def test_admin_sees_who_has_seen_a_record_and_filters_the_log(
    login, admin_user, history, live_server, page, screenshot
):
    errors: list[str] = []

    def keep_error(msg) -> None:
        # No 404 either: not even the browser's own /favicon.ico request (config/favicon.py).
        if msg.type == "error":
            errors.append(msg.text)

    page.on("console", keep_error)
    login(admin_user)

    page.goto(f"{live_server.url}/patients/{history.pk}/")
    panel = page.get_by_test_id("seen-by")
    expect(panel).to_contain_text("Who has seen this record")
    expect(panel).to_contain_text("desk@lakeside.test")
    expect(panel).to_contain_text("admin@lakeside.test")  # this very look, first
    expect(panel).to_contain_text("198.51.100.7")
    panel.scroll_into_view_if_needed()
    screenshot("1-patient-panel")

    panel.get_by_test_id("seen-by-all").click()
    page.wait_for_url("**/settings/audit-log/?chart=C-4471")
    rows = page.get_by_test_id("audit-row")
    expect(rows).to_have_count(4)  # three of the front desk's, and the admin's own look
    expect(page.get_by_label("Patient chart no.")).to_have_value("C-4471")

    # htmx: choosing an action swaps the table and puts the filters in the URL.
    page.get_by_label("Action").select_option("printed")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Printed")
    expect(rows.first).to_contain_text("C-4471")
    expect(rows.first).to_contain_text("Chrome 131 on Windows")
    expect(page).to_have_url(f"{live_server.url}/settings/audit-log/?chart=C-4471&action=printed")

    page.get_by_label("Action").select_option("")
    expect(rows).to_have_count(4)
    page.get_by_label("From").fill("2026-11-01")
    page.get_by_label("To").fill("2026-11-05")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("audit-summary")).to_contain_text("matching the filters")
    csv_href = page.get_by_test_id("audit-csv").get_attribute("href")
    assert csv_href == "/settings/audit-log/export.csv?chart=C-4471&start=2026-11-01&end=2026-11-05"
    screenshot("2-filtered-log")

    page.get_by_label("Person").select_option(label="desk@lakeside.test")
    page.get_by_label("Patient chart no.").fill("")
    page.get_by_label("From").fill("")
    page.get_by_label("To").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(4)
    assert errors == []


def test_the_filters_work_without_javascript(
    new_context, admin_user, front_desk_user, history, live_server, screenshot
):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(admin_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code").fill(fresh_totp_code())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/settings/audit-log/")
    # The administrator's own login is the newest entry; the front desk's four follow.
    expect(page.get_by_test_id("audit-row")).to_have_count(5)
    expect(page.get_by_test_id("audit-row").first).to_contain_text("Logged in")
    page.get_by_label("Person").select_option(label=front_desk_user.email)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("audit-row")).to_have_count(4)
    page.get_by_label("Action").select_option("downloaded")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**action=downloaded**")
    expect(page.get_by_test_id("audit-row")).to_have_count(1)
    expect(page.get_by_test_id("audit-row").first).to_contain_text("Letter PDF")
    context.close()
