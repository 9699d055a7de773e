"""Settings → Audit log: administrators only; filters by person, chart number, action and
dates (with and without htmx); keyset pages; the CSV of the filtered rows, formula-safe
and itself recorded; another practice's entries never show; the patient page's "who has
seen this record" panel."""

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from practices import receivers
from practices.csv_export import safe_cell
from practices.models import ActorKind, AuditAction, AuditEntry
from practices.scoping import practice_scope
from referrals.audit_log import PAGE_SIZE, cursor_of, short_user_agent

from ..factories import PatientFactory

PAGE = "/settings/audit-log/"
CSV_URL = "/settings/audit-log/export.csv"
HTMX = {"HTTP_HX_REQUEST": "true"}
ZONE = ZoneInfo("America/New_York")  # the practice's


@pytest.fixture(autouse=True)
def _test_logins_unrecorded():
    """These tests read back the entries they wrote; the administrator's own login (the
    ``force_login`` of each test's client) would be one more. Logins are recorded and
    tested in tests/security/test_accounts.py."""
    from django.contrib.auth.signals import user_logged_in

    assert user_logged_in.disconnect(dispatch_uid="audit_login")
    yield
    user_logged_in.connect(receivers.on_login, dispatch_uid="audit_login")


def at(day: str, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(f"{day}T{hour:02d}:00"), ZONE)


def entry(practice, *, user=None, kind=ActorKind.USER, **fields) -> AuditEntry:
    with scopes_disabled():
        return AuditEntry.objects.create(
            practice=practice,
            actor_kind=kind,
            actor_user=user,
            actor_label=fields.pop("actor_label", user.email if user else "API key PMS (ab12…)"),
            **{"action": AuditAction.VIEWED, "object_type": "patient", **fields},
        )


def shown_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-entry="(\d+)"', html)]


def csv_of(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def log(practice, admin_user, front_desk_user):
    """A small history: two people, two patients, an API key, over three days."""
    with practice_scope(practice):
        ana = PatientFactory(practice=practice, chart_number="C-100")
        ben = PatientFactory(practice=practice, chart_number="C-200")
    made = {
        "desk_views_ana": entry(
            practice,
            user=front_desk_user,
            patient_id=ana.pk,
            object_id=str(ana.pk),
            at=at("2026-03-02"),
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36",
            ip_address="198.51.100.7",
        ),
        "admin_exports": entry(
            practice,
            user=admin_user,
            action=AuditAction.EXPORTED,
            object_type="report",
            object_id="referral-volume",
            summary="Report: Referral volume, CSV",
            at=at("2026-03-03"),
        ),
        "desk_prints_ben": entry(
            practice,
            user=front_desk_user,
            action=AuditAction.PRINTED,
            object_type="letter",
            object_id="9",
            patient_id=ben.pk,
            at=at("2026-03-04"),
        ),
        "key_reads_ben": entry(
            practice,
            kind=ActorKind.API_KEY,
            patient_id=ben.pk,
            object_id=str(ben.pk),
            at=at("2026-03-04", 15),
        ),
    }
    return {"ana": ana, "ben": ben, **made}


def ids(log, *names) -> list[int]:
    return [log[name].pk for name in names]


def test_the_page_lists_the_entries_newest_first_with_chart_numbers(admin_client, log):
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert shown_ids(html) == ids(
        log, "key_reads_ben", "desk_prints_ben", "admin_exports", "desk_views_ana"
    )
    assert ">C-100</a>" in html and ">C-200</a>" in html
    assert "198.51.100.7" in html
    assert "Chrome 131 on Windows" in html  # the user agent, abbreviated
    assert "API key PMS (ab12…)" in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"person": "{desk}"}, ["desk_prints_ben", "desk_views_ana"]),
        ({"person": "api_key"}, ["key_reads_ben"]),
        ({"chart": "C-200"}, ["key_reads_ben", "desk_prints_ben"]),
        ({"chart": "c-200"}, ["key_reads_ben", "desk_prints_ben"]),
        ({"action": "exported"}, ["admin_exports"]),
        ({"start": "2026-03-03", "end": "2026-03-03"}, ["admin_exports"]),
        ({"start": "2026-03-04"}, ["key_reads_ben", "desk_prints_ben"]),
        ({"end": "2026-03-02"}, ["desk_views_ana"]),
        ({"person": "{desk}", "chart": "C-200"}, ["desk_prints_ben"]),
    ],
)
def test_each_filter_narrows_the_table(admin_client, front_desk_user, log, params, expected):
    params = {k: v.format(desk=front_desk_user.pk) for k, v in params.items()}
    for headers in ({}, HTMX):
        response = admin_client.get(PAGE, params, **headers)
        assert response.status_code == 200
        assert shown_ids(response.content.decode()) == ids(log, *expected)


def test_htmx_gets_only_the_table_and_a_plain_request_the_whole_page(admin_client, log):
    fragment = admin_client.get(PAGE, {"action": "printed"}, **HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="audit-table"')
    assert "<html" not in fragment
    page = admin_client.get(PAGE, {"action": "printed"}).content.decode()
    assert "<html" in page and 'id="audit-table"' in page
    # The form keeps what was chosen, so a plain (no-JS) request round-trips the filters.
    assert '<option value="printed" selected>' in page


def test_an_unknown_chart_number_matches_nothing_and_says_so(admin_client, log):
    html = admin_client.get(PAGE, {"chart": "NOPE-1"}).content.decode()
    assert shown_ids(html) == []
    assert "No patient has chart number “NOPE-1”." in html


def test_dates_the_wrong_way_round_are_refused_with_a_message(admin_client, log):
    response = admin_client.get(PAGE, {"start": "2026-03-04", "end": "2026-03-01"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "“To” must be on or after “From”." in html
    assert shown_ids(html) == []


def test_an_empty_log_says_what_will_appear(admin_client):
    html = admin_client.get(PAGE).content.decode()
    assert "Nothing recorded yet." in html
    assert 'data-testid="audit-empty"' in html


def test_pages_go_back_in_time_by_keyset_and_return(admin_client, admin_user, practice):
    start = at("2026-01-01")
    made = [
        entry(practice, user=admin_user, at=start + dt.timedelta(minutes=i))
        for i in range(PAGE_SIZE * 2 + 5)
    ]
    newest_first = [e.pk for e in reversed(made)]
    html = admin_client.get(PAGE).content.decode()
    assert shown_ids(html) == newest_first[:PAGE_SIZE]
    older = re.search(r'href="([^"]+)"[^>]*data-testid="audit-older"', html)
    html = admin_client.get(older[1].replace("&amp;", "&")).content.decode()
    assert shown_ids(html) == newest_first[PAGE_SIZE : PAGE_SIZE * 2]
    older = re.search(r'href="([^"]+)"[^>]*data-testid="audit-older"', html)
    html = admin_client.get(older[1].replace("&amp;", "&")).content.decode()
    assert shown_ids(html) == newest_first[PAGE_SIZE * 2 :]
    assert 'data-testid="audit-older"' not in html
    newer = re.search(r'href="([^"]+)"[^>]*data-testid="audit-newer"', html)
    html = admin_client.get(newer[1].replace("&amp;", "&")).content.decode()
    assert shown_ids(html) == newest_first[PAGE_SIZE : PAGE_SIZE * 2]


def test_a_deep_page_costs_what_the_first_costs(
    admin_client, admin_user, practice, django_assert_max_num_queries
):
    start = at("2026-01-01")
    made = [
        entry(practice, user=admin_user, at=start + dt.timedelta(minutes=i))
        for i in range(PAGE_SIZE * 3)
    ]
    admin_client.get(PAGE)  # the first request of a session saves it
    # Session, user, membership, the navigation (three counts and the practice switcher),
    # the members for the filter, the page of entries (and, with patients in it, their
    # chart numbers): no COUNT(*) of the log, whatever the depth.
    with django_assert_max_num_queries(10) as first:
        admin_client.get(PAGE)
    deep = f"{PAGE}?before={cursor_of(made[PAGE_SIZE + 5])}"
    with django_assert_max_num_queries(len(first.captured_queries)):
        html = admin_client.get(deep).content.decode()
    assert len(shown_ids(html)) == PAGE_SIZE


def test_another_practices_entries_never_show(
    admin_client, log, other_practice, outsider, practice
):
    with practice_scope(other_practice):
        theirs = PatientFactory(practice=other_practice, chart_number="C-200")
    foreign = entry(other_practice, user=outsider, patient_id=theirs.pk, at=at("2026-03-05"))
    html = admin_client.get(PAGE).content.decode()
    assert foreign.pk not in shown_ids(html)
    assert "admin@hilltop.test" not in html
    # Their chart number C-200 is also ours: the filter finds our patient, never theirs.
    assert shown_ids(admin_client.get(PAGE, {"chart": "C-200"}).content.decode()) == ids(
        log, "key_reads_ben", "desk_prints_ben"
    )
    assert foreign.pk not in [int(r["id"]) for r in csv_of(admin_client.get(CSV_URL))]


@pytest.mark.parametrize("role", ["coordinator_user", "front_desk_user", "clinician_user"])
def test_only_administrators_may_read_or_export_the_log(client, request, role, log):
    client.force_login(request.getfixturevalue(role))
    assert client.get(PAGE).status_code == 403
    assert client.get(CSV_URL).status_code == 403


def test_a_visitor_is_sent_to_log_in(client, db):
    assert "/login/" in client.get(PAGE)["Location"]
    assert "/login/" in client.get(CSV_URL)["Location"]


def test_the_csv_holds_the_filtered_rows_and_its_export_is_recorded(
    admin_client, admin_user, front_desk_user, log
):
    response = admin_client.get(CSV_URL, {"person": front_desk_user.pk, "chart": "C-200"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_of(response)
    assert [int(r["id"]) for r in rows] == ids(log, "desk_prints_ben")
    (row,) = rows
    assert row["who"] == "desk@lakeside.test"
    assert row["action"] == "printed"
    assert row["patient chart number"] == "C-200"
    assert row["when"].startswith("2026-03-04T12:00:00-05:00")  # the practice's time
    with scopes_disabled():
        export = AuditEntry.objects.get(action=AuditAction.EXPORTED, object_type="auditentry")
    assert export.actor_user_id == admin_user.pk
    assert export.patient_id == log["ben"].pk
    assert export.summary == "Audit log, CSV; person desk@lakeside.test, one patient"
    assert "C-200" not in export.summary


def test_a_formula_looking_value_is_neutralised_in_the_csv(admin_client, practice):
    entry(
        practice,
        kind=ActorKind.ANONYMOUS,
        action=AuditAction.LOGIN_FAILED,
        object_type="account",
        actor_label='=HYPERLINK("http://evil.example","x")',
        user_agent="@SUM(1+1)*cmd|' /C calc'!A0",
        summary="+1-2",
        at=at("2026-03-01"),
    )
    (row,) = [r for r in csv_of(admin_client.get(CSV_URL)) if r["action"] == "login_failed"]
    assert row["who"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["user agent"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert row["summary"] == "'+1-2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (7, "7"),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


@pytest.mark.parametrize(
    ("agent", "short"),
    [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.1 Safari/605.1.15",
            "Safari 17 on macOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox 128 on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0",
            "Edge 131 on Windows",
        ),
        ("curl/8.5.0", "curl 8"),
        ("", ""),
    ],
)
def test_user_agents_are_abbreviated(agent, short):
    assert short_user_agent(agent) == short


def test_the_settings_page_links_the_audit_log_for_administrators(
    admin_client, client, front_desk_user
):
    assert 'href="/settings/audit-log/"' in admin_client.get("/settings/").content.decode()
    client.force_login(front_desk_user)
    assert 'href="/settings/audit-log/"' not in client.get("/settings/").content.decode()


def test_the_patient_page_shows_administrators_who_has_seen_the_record(
    admin_client, client, front_desk_user, log
):
    ana = log["ana"]
    html = admin_client.get(reverse("patient_detail", args=[ana.pk])).content.decode()
    panel = html.split('data-testid="seen-by"', 1)[1]
    assert "Who has seen this record" in panel
    # The administrator's own look (just recorded), then the front desk's on March 2.
    assert panel.index("admin@lakeside.test") < panel.index("desk@lakeside.test")
    assert "198.51.100.7" in panel
    assert 'href="/settings/audit-log/?chart=C-100"' in panel
    client.force_login(front_desk_user)
    html = client.get(reverse("patient_detail", args=[ana.pk])).content.decode()
    assert 'data-testid="seen-by"' not in html
