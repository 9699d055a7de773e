"""The web flow of the CSV import: upload, check with a preview, import (in the request or
by Celery tasks, with progress), summary; roles and another practice's jobs."""

import io

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse
from django_scopes import scopes_disabled

from practices.scoping import practice_scope
from referrals import tasks
from referrals.choices import ImportMode, ImportStatus
from referrals.models import ImportJob

from .test_import_csv import GOOD_ROWS, NOW, csv_bytes, row, stored


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


# --- the web flow ------------------------------------------------------------------------


def upload(client, data: bytes, name="history.csv"):
    file = io.BytesIO(data)
    file.name = name
    return client.post(reverse("import_upload"), {"file": file})


def job_of(practice) -> ImportJob:
    with practice_scope(practice):
        return ImportJob.objects.get()


def test_upload_checks_previews_and_imports_a_small_file(
    admin_client, practice, django_capture_on_commit_callbacks
):
    response = upload(admin_client, csv_bytes(*GOOD_ROWS))
    job = job_of(practice)
    assert response.status_code == 302
    assert response["Location"] == reverse("import_detail", args=[job.pk])
    assert job.status == ImportStatus.READY
    assert (job.total_rows, job.processed_rows) == (5, 5)
    assert job.counts["referrals_created"] == 5

    page = admin_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "All 5 rows are valid" in page
    assert 'data-testid="import-all"' in page and "Import all 5 rows" in page
    assert 'aria-disabled="true"' not in page
    assert "Preview: the first 5 rows as they will be imported" in page
    assert "Third molars" in page  # "wisdom teeth" shown as it will be stored
    assert "new office" in page and "Dr. Jane Smith" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("import_start", args=[job.pk]), {"mode": ImportMode.ALL_OR_NOTHING}
        )
    assert response.status_code == 302
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.counts["referrals_created"] == 5
    assert not job.file  # the upload is patient data: not kept once imported
    assert stored(practice)["Referral"] == 5
    page = admin_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "Imported 5 referrals from 5 rows" in page
    assert 'data-testid="events-created">13<' in page


def test_with_errors_import_all_is_refused_and_valid_only_imports_the_rest(
    client, coordinator_user, practice
):
    client.force_login(coordinator_user)
    upload(client, csv_bytes(GOOD_ROWS[0], row(chart_number="C9", source_type="billboard")))
    job = job_of(practice)
    assert job.status == ImportStatus.INVALID
    assert job.errors == [
        {
            "line": 3,
            "column": "source_type",
            "message": "source_type 'billboard' is not known. Use one of: doctor, event, "
            "insurance, other, self, specialist, website.",
        }
    ]
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "1 of 2 rows have errors" in page
    assert 'disabled aria-disabled="true"' in page and "Import all 2 rows" in page
    assert "Import only the 1 valid row" in page
    assert "source_type &#x27;billboard&#x27; is not known" in page

    refused = client.post(
        reverse("import_start", args=[job.pk]), {"mode": ImportMode.ALL_OR_NOTHING}, follow=True
    )
    assert "This import cannot start: the file has errors." in refused.content.decode()
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.INVALID
    assert stored(practice)["Referral"] == 0

    client.post(reverse("import_start", args=[job.pk]), {"mode": ImportMode.VALID_ONLY})
    with scopes_disabled():
        job.refresh_from_db()
    assert (job.status, job.mode) == (ImportStatus.DONE, ImportMode.VALID_ONLY)
    # A second click changes nothing and is no error.
    again = client.post(
        reverse("import_start", args=[job.pk]), {"mode": ImportMode.VALID_ONLY}, follow=True
    )
    assert "cannot start" not in again.content.decode()
    assert stored(practice)["Referral"] == 1
    assert (job.counts["referrals_created"], job.counts["invalid_rows"]) == (1, 1)
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "Rejected rows (not imported)" in page
    errors_csv = client.get(reverse("import_errors", args=[job.pk])).content.decode()
    assert errors_csv.splitlines()[1].startswith("3,source_type,")


def test_an_unreadable_upload_is_refused_on_the_upload_page_and_nothing_stored(
    admin_client, practice
):
    # The file is read when it is uploaded (to show its columns): a file that cannot be
    # imported is refused there, with one clear message, and no import is created.
    response = upload(admin_client, csv_bytes())
    assert response.status_code == 200
    assert "a header row but no data rows" in response.content.decode()
    with practice_scope(practice):
        assert not ImportJob.objects.exists()


def test_an_empty_upload_is_refused_by_the_form(admin_client, practice):
    response = upload(admin_client, b"")
    assert response.status_code == 200
    assert "The file is empty: it has no header row and no data." in response.content.decode()
    assert stored(practice) == dict.fromkeys(stored(practice), 0)


@override_settings(IMPORT_SYNC_MAX_ROWS=2)
def test_a_large_file_is_checked_and_imported_by_celery_tasks_with_progress(
    admin_client, practice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        upload(admin_client, csv_bytes(*GOOD_ROWS))
    assert len(callbacks) == 1  # check_import queued for after the commit
    job = job_of(practice)
    assert job.status == ImportStatus.UPLOADED
    progress_url = reverse("import_progress", args=[job.pk])
    fragment = admin_client.get(progress_url, headers={"HX-Request": "true"})
    assert "Checking rows" in fragment.content.decode()
    assert 'hx-trigger="every 1s"' in fragment.content.decode()
    # Without htmx the progress URL is the page itself.
    assert admin_client.get(progress_url)["Location"] == reverse("import_detail", args=[job.pk])

    tasks.check_import.apply(args=(practice.pk, job.pk)).get()
    with scopes_disabled():
        job.refresh_from_db()
    assert (job.status, job.total_rows, job.processed_rows) == (ImportStatus.READY, 5, 5)
    done = admin_client.get(progress_url, headers={"HX-Request": "true"})
    assert done["HX-Redirect"] == reverse("import_detail", args=[job.pk])

    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(reverse("import_start", args=[job.pk]), {"mode": "all_or_nothing"})
    assert len(callbacks) == 1  # run_import queued
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTING
    page = admin_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "Importing…" in page and "waiting for a worker" in page

    tasks.run_import.apply(args=(practice.pk, job.pk)).get()
    # Delivered twice: the second run finds the job claimed and done, and does nothing.
    tasks.run_import.apply(args=(practice.pk, job.pk)).get()
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.processed_rows == 5
    assert stored(practice)["Referral"] == 5


def test_progress_shows_the_share_of_rows_checked(admin_client, practice):
    upload(admin_client, csv_bytes(*GOOD_ROWS))
    job = job_of(practice)
    job.status, job.processed_rows, job.total_rows = ImportStatus.VALIDATING, 1000, 4000
    with scopes_disabled():
        job.save()
    fragment = admin_client.get(
        reverse("import_progress", args=[job.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'value="25"' in fragment
    # The status badge in the page header follows along (out-of-band swap).
    assert 'id="import-status"' in fragment and "Checking rows</span>" in fragment
    assert "1,000 of about 4,000 rows" in fragment


@pytest.mark.parametrize("role_user", ["front_desk_user", "clinician_user"])
def test_only_admins_and_coordinators_import(client, request, role_user):
    client.force_login(request.getfixturevalue(role_user))
    assert client.get(reverse("import_upload")).status_code == 403
    assert client.get(reverse("import_list")).status_code == 403


def test_another_practices_import_is_not_found(client, admin_client, practice, outsider):
    upload(admin_client, csv_bytes(*GOOD_ROWS))
    job = job_of(practice)
    client.force_login(outsider)
    for name in ("import_detail", "import_progress", "import_errors"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404, name
    response = client.post(reverse("import_start", args=[job.pk]), {"mode": "all_or_nothing"})
    assert response.status_code == 404
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.READY
    assert client.get(reverse("import_list")).content.decode().count("history.csv") == 0


def test_the_list_shows_past_imports(admin_client, practice):
    upload(admin_client, csv_bytes(*GOOD_ROWS), name="dentrix-export.csv")
    page = admin_client.get(reverse("import_list")).content.decode()
    assert "dentrix-export.csv" in page and "Ready to import" in page


# --- a real worker -------------------------------------------------------------------------


@pytest.fixture
def celery_worker_process(tmp_path, settings):
    """A real Celery worker on the test run's broker and test database."""
    import os
    import subprocess
    import sys

    from django.db import connection

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs the Redis broker that scripts/test.sh starts")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-l", "info"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=settings.BASE_DIR,
    )
    yield tmp_path / "worker.log"
    process.terminate()
    process.wait(timeout=30)
    log.close()


def wait_for(job, done, log_path, seconds=60):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with scopes_disabled():
            job.refresh_from_db()
        if done(job):
            return
        time.sleep(0.2)
    raise AssertionError(f"job stayed {job.status!r}; worker log:\n{log_path.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@override_settings(IMPORT_SYNC_MAX_ROWS=2)
def test_a_real_worker_checks_and_imports_a_large_upload(
    admin_client, practice, celery_worker_process
):
    upload(admin_client, csv_bytes(*GOOD_ROWS))
    job = job_of(practice)
    wait_for(job, lambda j: j.status == ImportStatus.READY, celery_worker_process)
    assert job.counts["referrals_created"] == 5

    admin_client.post(reverse("import_start", args=[job.pk]), {"mode": "all_or_nothing"})
    # Done, and the uploaded file removed after the commit.
    wait_for(job, lambda j: j.status == ImportStatus.DONE and not j.file, celery_worker_process)
    assert (job.counts["referrals_created"], job.processed_rows) == (5, 5)
    assert stored(practice)["Referral"] == 5


def test_rows_that_became_invalid_after_the_check_fail_the_import_whole(admin_client, practice):
    from .factories import PatientFactory

    upload(admin_client, csv_bytes(*GOOD_ROWS))
    job = job_of(practice)
    assert job.status == ImportStatus.READY
    # Between the check and the import, the front desk enters chart C103 for someone else.
    with practice_scope(practice):
        PatientFactory(practice=practice, chart_number="C103", first_name="Other")
    admin_client.post(reverse("import_start", args=[job.pk]), {"mode": "all_or_nothing"})

    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.failure == "1 of 5 rows have errors; nothing was imported."
    assert [(e["line"], e["column"]) for e in job.errors] == [(6, "chart_number")]
    assert stored(practice)["Referral"] == 0
    page = admin_client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "The import did not complete" in page


def test_the_upload_its_preview_and_the_import_are_in_the_audit_log(
    admin_client, practice, django_capture_on_commit_callbacks
):
    from django_scopes import scopes_disabled

    from practices.models import AuditEntry

    upload(admin_client, csv_bytes(*GOOD_ROWS))
    job = job_of(practice)
    admin_client.get(reverse("import_detail", args=[job.pk]))
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("import_start", args=[job.pk]), {"mode": ImportMode.VALID_ONLY})
    with scopes_disabled():
        trail = list(
            AuditEntry.objects.exclude(action="login")  # the test's own login
            .order_by("id")
            .values_list("action", "object_type", "count")
        )
    assert trail == [
        ("created", "importjob", 5),
        ("listed", "patient", 5),
        ("imported", "importjob", 5),
    ]
