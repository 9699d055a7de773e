"""Letters rendered from outbox rows: the variables, the words, the document and the PDF."""

import io
import subprocess

import pytest
import time_machine
from django.core.files.base import ContentFile
from PIL import Image

from communications import rendering
from communications.models import Letter, LetterKind, LetterTemplate
from communications.rendering import (
    letter_variables,
    pdf_from_html,
    render_letter,
    render_letter_pdf,
)
from communications.sandbox import LETTER_VARIABLES, LetterDate
from practices.models import settings_for
from referrals.choices import MilestoneKind as M

from ..conftest import ARTIFACTS
from .cases import NOW, add_surgeon, all_letters, letter_on, walk_case

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


def test_the_surgeon_who_recorded_the_step_signs_else_the_first_surgeon(in_practice):
    with time_machine.travel(NOW, tick=False):
        add_surgeon(in_practice, first="Ada", last="First", credentials="DMD")
        second = add_surgeon(in_practice, first="Ben", last="Second", credentials="DDS, MD")
        referral, events = walk_case(in_practice, surgeon=second, upto=M.CONSULT_COMPLETED)
        completed = render_letter(
            letter_on(referral, events[M.CONSULT_COMPLETED], LetterKind.CONSULT_COMPLETED)
        )
        # Booked by the front desk (no surgeon): the practice's first surgeon signs.
        scheduled = render_letter(
            letter_on(referral, events[M.CONSULT_SCHEDULED], LetterKind.CONSULT_SCHEDULED)
        )
    assert "Ben Second, DDS, MD" in completed.html
    assert "Ada First, DMD" in scheduled.html
    assert "with Dr. First" in scheduled.body_text


def test_a_letter_to_the_office_greets_the_doctor_or_the_office(in_practice):
    with time_machine.travel(NOW, tick=False):
        referral, events = walk_case(in_practice, upto=M.CONSULT_SCHEDULED)
        event = events[M.CONSULT_SCHEDULED]
        to_office = render_letter(
            letter_on(referral, event, LetterKind.CONSULT_SCHEDULED, to_office=True)
        )
        referral.referring_provider = None
        referral.save()
        letter = letter_on(referral, event, LetterKind.CONSULT_SCHEDULED, to_office=True)
        letter.refresh_from_db()
        no_doctor = render_letter(letter)
    assert to_office.body_text.startswith("Dear Dr. Hart,")
    assert no_doctor.body_text.startswith("Dear Doctor,")
    # The office is named once in the address block, not twice.
    assert no_doctor.html.count("Maple Family Dental") == 1
    # No surgeon in the practice: the practice signs.
    assert "Sincerely," in no_doctor.html


def test_values_are_escaped_in_the_letter_and_plain_in_the_text(in_practice):
    with time_machine.travel(NOW, tick=False):
        referral, events = walk_case(in_practice, upto=M.CONSULT_COMPLETED)
        event = events[M.CONSULT_COMPLETED]
        event.findings = '<img src="file:///etc/passwd"> & "quoted"'
        event.save()
        rendered = render_letter(letter_on(referral, event, LetterKind.CONSULT_COMPLETED))
    assert "<img" not in rendered.html
    assert "&lt;img src=&quot;file:///etc/passwd&quot;&gt; &amp; &quot;quoted&quot;" in (
        rendered.body_html
    )
    assert '<img src="file:///etc/passwd"> & "quoted"' in rendered.body_text


def test_the_practice_wording_is_used(in_practice):
    with time_machine.travel(NOW, tick=False):
        referral, events = walk_case(in_practice, upto=M.CONSULT_SCHEDULED)
        LetterTemplate.objects.create(
            practice=in_practice,
            kind=LetterKind.CONSULT_SCHEDULED,
            subject="Booked: {{ patient.initials }}",
            body="Hello {{ provider.first_name }}!\n\n\n"
            "{% if consult.findings %}x{% endif %}\n\nBye",
        )
        rendered = render_letter(
            letter_on(referral, events[M.CONSULT_SCHEDULED], LetterKind.CONSULT_SCHEDULED)
        )
    assert rendered.subject == "Booked: JW"
    # Paragraphs left empty by an {% if %} disappear.
    assert rendered.body_html == "<p>Hello Evelyn!</p>\n<p>Bye</p>"
    assert rendered.body_text == "Hello Evelyn!\n\nBye"


def test_the_logo_is_inlined_in_the_letter(letters, in_practice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    image = io.BytesIO()
    Image.new("RGB", (240, 80), (15, 61, 94)).save(image, "PNG")
    practice_settings = settings_for(in_practice)
    practice_settings.logo.save("logo.png", ContentFile(image.getvalue()))
    with time_machine.travel(NOW, tick=False):
        rendered = render_letter(letters[LetterKind.CONSULT_SCHEDULED])
        pdf = pdf_from_html(rendered.html)
    assert 'src="data:image/png;base64,' in rendered.html
    assert pdf.startswith(b"%PDF")
    assert b"/Image" in pdf


def test_a_letter_document_loads_nothing_from_files_or_the_network(tmp_path):
    from weasyprint import HTML

    fetcher = rendering._url_fetcher()
    for url in ("file:///etc/hostname", "http://127.0.0.1:9/x.png", "ftp://example.test/x"):
        with pytest.raises(ValueError):
            fetcher(url)
    picture = tmp_path / "secret.png"
    Image.new("RGB", (20, 20), (200, 0, 0)).save(picture)
    document = f'<p>x</p><img src="{picture.as_uri()}">'
    assert b"/Image" in HTML(string=document).write_pdf()  # WeasyPrint alone would load it
    assert b"/Image" not in pdf_from_html(document)


def test_rendering_a_letter_reads_the_database_a_few_times(letters, django_assert_max_num_queries):
    letter = Letter.objects.get(pk=letters[LetterKind.POSTOP_UPDATE].pk)
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(10):
        render_letter(letter)


def test_the_pdf_uses_the_parsed_stylesheet_instead_of_the_inline_copy(letters):
    with time_machine.travel(NOW, tick=False):
        document = render_letter(letters[LetterKind.CONSULT_COMPLETED]).html
    # The document carries the stylesheet verbatim (it must stand alone in a browser), so
    # pdf_from_html can find it and use its parsed copy.
    assert f"<style>{rendering.letter_css()}</style>" in document
    assert "@page" in rendering.letter_css()
