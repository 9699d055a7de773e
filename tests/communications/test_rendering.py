"""Letters rendered from outbox rows: the variables, the words, the document and the PDF."""

import subprocess

import pytest
import time_machine

from communications.models import LetterKind
from communications.rendering import letter_variables, render_letter, render_letter_pdf
from communications.sandbox import LETTER_VARIABLES, LetterDate

from ..conftest import ARTIFACTS
from .cases import NOW, add_surgeon, all_letters, walk_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def letters(in_practice):
    practice = in_practice
    practice.address = "2200 Lakeshore Drive, Suite 310\nSpringfield, IL 62704"
    practice.phone = "217-555-0100"
    practice.save()
    with time_machine.travel(NOW, tick=False):
        surgeon = add_surgeon(practice)
        referral, events = walk_case(practice, surgeon=surgeon)
        yield all_letters(referral, events)


@pytest.mark.parametrize("kind", LetterKind.values)
def test_every_kind_renders_to_a_pdf(letters, kind):
    with time_machine.travel(NOW, tick=False):
        pdf = render_letter_pdf(letters[kind])
    assert pdf.startswith(b"%PDF")
    folder = ARTIFACTS / "letters"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{kind}.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", str(folder / f"{kind}.pdf"), str(folder / kind)],
        check=True,
    )


def _leaves(variables: dict, prefix: str = ""):
    for key, value in variables.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_letter_variables_are_exactly_the_sandboxs_and_plain_strings(letters):
    with time_machine.travel(NOW, tick=False):
        variables = letter_variables(letters[LetterKind.CONSULT_COMPLETED])
    leaves = dict(_leaves(variables))
    assert set(leaves) == set(LETTER_VARIABLES)
    assert all(type(value) in (str, LetterDate) for value in leaves.values()), leaves


def test_variables_of_each_milestone(letters):
    with time_machine.travel(NOW, tick=False):
        scheduled = letter_variables(letters[LetterKind.CONSULT_SCHEDULED])
        surgery = letter_variables(letters[LetterKind.SURGERY_SCHEDULED])
        update = letter_variables(letters[LetterKind.POSTOP_UPDATE])
    assert scheduled["appointment"] == {"date": "March 10, 2026", "time": "9:30 AM"}
    assert scheduled["recipient"] == {"name": "Dr. Evelyn Hart", "salutation": "Dr. Hart"}
    assert scheduled["patient"]["initials"] == "JW"
    assert scheduled["patient"]["date_of_birth"] == "July 14, 1998"
    assert scheduled["office"]["address"] == "118 Orchard Lane, Suite 4, Springfield, IL 62704"
    # The letter says what was known when it was due: no consult yet.
    assert scheduled["consult"]["findings"] == ""
    assert surgery["surgery"]["date"] == "March 24, 2026"
    assert surgery["appointment"]["time"] == "8:00 AM"
    assert surgery["consult"]["recommendation"].startswith("Extraction of all four")
    assert update["postop"] == {"days": "7", "note": "Healing well, no dry socket."}
    assert update["followup"]["plan"].startswith("Post-op check at 1 week")
    assert update["surgeon"] == {
        "name": "Maria Alvarez",
        "last_name": "Alvarez",
        "credentials": "DDS, MD",
    }
    assert update["today"] == "April 20, 2026"


@pytest.mark.parametrize(
    "kind, subject, words",
    [
        (
            LetterKind.CONSULT_SCHEDULED,
            "Consultation scheduled for your patient JW",
            ["Dear Dr. Hart,", "consultation for Tuesday, March 10, 2026 at 9:30 AM"],
        ),
        (
            LetterKind.CONSULT_COMPLETED,
            "Consultation report for your patient JW",
            ["Findings:\nMesioangular impaction", "Recommendation:\nExtraction of all four"],
        ),
        (
            LetterKind.SURGERY_SCHEDULED,
            "Surgery scheduled for your patient JW",
            ["Tuesday, March 24, 2026 at 8:00 AM", "Planned procedure: Extraction of teeth #1"],
        ),
        (
            LetterKind.POSTOP_CONCLUDED,
            "Post-operative care completed for your patient JW",
            [
                "completed post-operative care at our office following surgery on March 24, 2026",
                "Procedure performed: Extraction",
                "Follow-up care plan:\nSockets fully healed",
            ],
        ),
        (
            LetterKind.POSTOP_UPDATE,
            "Post-operative update for your patient JW",
            ["It has now been 7 days", "visit: Healing well, no dry socket."],
        ),
    ],
)
def test_default_wording_of_each_kind(letters, kind, subject, words):
    with time_machine.travel(NOW, tick=False):
        rendered = render_letter(letters[kind])
    assert rendered.subject == subject
    for text in words:
        assert text in rendered.body_text
    assert "Jordan Whitfield" in rendered.html
    assert "Maria Alvarez, DDS, MD" in rendered.html
    assert rendered.body_html.startswith("<p>Dear Dr. Hart,</p>")
