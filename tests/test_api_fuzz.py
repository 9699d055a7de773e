"""schemathesis against the API on the live test server: what the schema promises holds.

The command a person runs by hand against `make run` (docs/api.md, "Fuzzing the API"),
bounded for the suite: the phases examples, fuzzing and stateful (the coverage phase alone
takes minutes here; run it by hand), at most 5 cases per operation, deterministic so CI is
stable, with the checks of issue 10 and zero failures.
"""

import datetime as dt
import subprocess
import sys
from pathlib import Path

from .api_support import intake, key_for
from .factories import OfficeFactory, PatientFactory, ProviderFactory

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    "positive_data_acceptance",
]


def practice_with_data(practice) -> None:
    """Offices, doctors, patients and referrals for the fuzzer to find and chain from."""
    for n in range(2):
        office = OfficeFactory(practice=practice, external_id=f"PMS-{n}")
        provider = ProviderFactory(practice=practice, office=office)
        for days in (3, 40):
            intake(
                practice,
                received_on=dt.date.today() - dt.timedelta(days=days),
                office=office,
                provider=provider,
                patient=PatientFactory(practice=practice),
            )


def schemathesis_command(url: str, key: str, *extra: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/api/v1/schema/?format=json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--no-color",
        "--workers",
        "1",
        *extra,
    ]


def test_schemathesis_finds_no_failure(live_server, practice, other_practice, tmp_path):
    practice_with_data(practice)
    practice_with_data(other_practice)  # never seen through this key: its ids are 404s
    command = schemathesis_command(
        live_server.url,
        key_for(practice),
        "--phases",
        "examples,fuzzing,stateful",
        "--max-examples",
        "5",
        "--generation-deterministic",
        "--max-failures",
        "20",
    )
    # Its cache folder (.schemathesis/) goes to the temporary directory, not the checkout.
    result = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert "✅ Stateful" in output, output[-3000:]
    summary = output[output.index("SUMMARY") :]
    assert "Failures:" not in summary and "Errors:" not in summary, summary
