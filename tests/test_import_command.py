"""manage.py import_referrals: the same check and import as the web upload, from a shell."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from practices.scoping import practice_scope
from referrals.models import MilestoneEvent, Patient, Referral

from .test_import_csv import GOOD_ROWS, csv_bytes, row


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(
        dt.datetime(2024, 6, 1, 12, tzinfo=ZoneInfo("America/New_York")), tick=False
    ):
        yield


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "history.csv"
    path.write_bytes(csv_bytes(*GOOD_ROWS))
    return path


@pytest.fixture
def mixed_file(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        csv_bytes(GOOD_ROWS[0], row(chart_number="C9", case_type="veneers"), GOOD_ROWS[1])
    )
    return path


def run(*args):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("import_referrals", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def referral_count(practice) -> int:
    with practice_scope(practice):
        return Referral.objects.count()


def test_the_command_imports_a_file_and_prints_what_it_did(practice, good_file):
    out, err = run("--practice", "lakeside", good_file)

    assert err == ""
    lines = out.splitlines()
    assert lines[:5] == [
        "Imported into Lakeside Oral Surgery:",
        "  Created: 5 referrals (13 milestone events), 4 patients, 2 offices, 3 doctors",
        "  Matched (already here): 0 referrals, 0 patients, 0 offices, 0 doctors",
        "  Rejected: 0 of 5 rows",
        "  First referral recorded for 2 offices.",
    ]
    with practice_scope(practice):
        assert Referral.objects.count() == 5
        assert MilestoneEvent.objects.count() == 13
        assert Patient.objects.count() == 4


def test_running_the_command_twice_matches_instead_of_creating(practice, good_file):
    run("--practice", "lakeside", good_file)
    out, _ = run("--practice", "lakeside", good_file)
    assert "  Created: 0 referrals (0 milestone events), 0 patients, 0 offices, 0 doctors" in out
    assert "  Matched (already here): 5 referrals, 4 patients, 2 offices, 3 doctors" in out
    assert referral_count(practice) == 5


def test_with_an_invalid_row_the_command_imports_nothing_and_lists_the_error(practice, mixed_file):
    with pytest.raises(CommandError) as failure:
        run("--practice", "lakeside", mixed_file)
    assert str(failure.value) == (
        "1 of 3 rows have errors; nothing was imported. Fix them, or pass --valid-only to "
        "import the other rows."
    )
    assert referral_count(practice) == 0


def test_the_errors_are_printed_with_line_and_column(practice, mixed_file):
    from io import StringIO

    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_referrals", "--practice", "lakeside", str(mixed_file), stderr=err)
    assert err.getvalue().splitlines() == [
        "1 row(s) with errors (1 error(s)):",
        "  line 3, case_type: case_type 'veneers' is not known. Use one of: biopsy, bone_graft, "
        "extractions, implants, orthognathic, other, third_molars, tmj, trauma.",
    ]


def test_valid_only_imports_the_other_rows(practice, mixed_file):
    out, err = run("--practice", "lakeside", mixed_file, "--valid-only")
    assert "  Rejected: 1 of 3 rows" in out
    assert "line 3, case_type" in err
    assert referral_count(practice) == 2


def test_dry_run_reports_and_writes_nothing(practice, good_file):
    out, _ = run("--practice", "lakeside", good_file, "--dry-run")
    assert out.strip() == (
        "Dry run, nothing written. The import would create 5 referrals (13 milestone events), "
        "4 patients, 2 offices, 3 doctors; match 0 referrals, 0 patients, 0 offices, 0 doctors "
        "already here; reject 0 of 5 rows."
    )
    assert referral_count(practice) == 0


def test_a_file_unreadable_in_the_chosen_encoding_is_one_error(practice, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(csv_bytes(row(patient_first_name="Jos\xe9")).replace(b"\xc3\xa9", b"\xe9"))
    with pytest.raises(CommandError, match=r"Line 2 cannot be read as utf-8 text"):
        run("--practice", "lakeside", path, "--valid-only", "--encoding", "utf-8")
    assert referral_count(practice) == 0
    # Detected, it is Windows-1252 and imports.
    out, _ = run("--practice", "lakeside", path)
    assert referral_count(practice) == 1
    with practice_scope(practice):
        assert Patient.objects.get().first_name == "Jos\xe9"


def test_an_unknown_practice_or_file_is_refused(practice, good_file, tmp_path):
    with pytest.raises(CommandError, match="No practice with the slug 'nowhere'"):
        run("--practice", "nowhere", good_file)
    with pytest.raises(CommandError, match="No such file"):
        run("--practice", "lakeside", tmp_path / "missing.csv")


def test_the_import_goes_into_the_named_practice_only(practice, other_practice, good_file):
    run("--practice", "hilltop", good_file)
    assert referral_count(other_practice) == 5
    assert referral_count(practice) == 0


def test_valid_only_with_no_valid_row_imports_nothing(practice, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(row(case_type="veneers"), row(chart_number="C2", source_type="?")))
    with pytest.raises(CommandError, match=r"^No row is valid \(2 with errors\); nothing"):
        run("--practice", "lakeside", path, "--valid-only")
    assert referral_count(practice) == 0


def test_the_import_is_recorded_in_the_audit_log_as_the_system(practice, good_file):
    from django_scopes import scopes_disabled

    from practices.models import ActorKind, AuditAction, AuditEntry

    run("--practice", "lakeside", good_file)
    with scopes_disabled():
        (entry,) = AuditEntry.objects.all()
    assert (entry.practice_id, entry.action, entry.actor_kind) == (
        practice.pk,
        AuditAction.IMPORTED,
        ActorKind.SYSTEM,
    )
    assert entry.count == referral_count(practice)
    assert entry.summary.startswith(f"import_referrals command: {len(GOOD_ROWS)} valid of")
