"""Settings → Letters to referring dentists: the letter template editor."""

import html

import pytest
import time_machine
from django.urls import reverse
from django_scopes import scopes_disabled

from communications.models import LetterKind, LetterTemplate
from communications.rendering import render_letter
from practices.scoping import practice_scope
from referrals.choices import MilestoneKind as M

from .cases import NOW, add_surgeon, letter_on, walk_case

pytestmark = pytest.mark.django_db

KIND = LetterKind.CONSULT_COMPLETED
GOOD_BODY = (
    "Dear {{ recipient.salutation }},\n\nWe saw {{ patient.first_name }}.\n\n"
    "Findings: {{ consult.findings }}"
)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def case(practice):
    with practice_scope(practice):
        surgeon = add_surgeon(practice)
        return walk_case(practice, surgeon=surgeon)


@pytest.fixture
def other_case(other_practice):
    with practice_scope(other_practice):
        referral, _ = walk_case(other_practice, patient_first="Other")
        return referral


def edit_url(kind=KIND):
    return reverse("letter_template_edit", args=[kind])


def urls(kind=KIND):
    return [
        ("get", reverse("letter_templates")),
        ("get", edit_url(kind)),
        ("post", edit_url(kind)),
        ("post", reverse("letter_template_preview", args=[kind])),
        ("post", reverse("letter_template_preview_pdf", args=[kind])),
        ("post", reverse("letter_template_reset", args=[kind])),
    ]


def test_the_list_shows_every_kind_as_default_or_customised(admin_client, practice, admin_user):
    with practice_scope(practice):
        LetterTemplate.objects.create(
            practice=practice, kind=KIND, subject="Report", body="Hi", updated_by=admin_user
        )
    page = admin_client.get(reverse("letter_templates")).content.decode()
    for kind in LetterKind:
        assert kind.label in page
    assert page.count("Customised") == 1
    assert page.count(">Default<") == 4
    assert "When the consultation has taken place" in page


def test_the_editor_opens_on_the_wording_in_use_previewed_on_a_recent_case(admin_client, case):
    response = admin_client.get(edit_url())
    page = response.content.decode()
    assert response.status_code == 200
    assert "Consultation report for your patient {{ patient.initials }}" in page
    # The preview: the rendered subject, and the whole letter in the frame.
    assert "Consultation report for your patient JW" in page
    frame = html.unescape(page.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert "Jordan Whitfield" in frame
    assert "Mesioangular impaction" in frame
    assert "Maria Alvarez, DDS, MD" in frame
    assert "Jordan Whitfield · Third molars · Mar 10, 2026" in page  # the case chooser


def test_saving_stores_the_wording_and_new_letters_use_it(admin_client, practice, case):
    referral, events = case
    response = admin_client.post(
        edit_url(), {"subject": "Seen: {{ patient.initials }}", "body": GOOD_BODY}
    )
    assert response.status_code == 302
    with practice_scope(practice):
        saved = LetterTemplate.objects.get(kind=KIND)
        assert saved.subject == "Seen: {{ patient.initials }}"
        rendered = render_letter(letter_on(referral, events[M.CONSULT_COMPLETED], KIND))
    assert rendered.subject == "Seen: JW"
    assert rendered.body_text.startswith("Dear Dr. Hart,\n\nWe saw Jordan.")
    page = admin_client.get(reverse("letter_templates")).content.decode()
    assert page.count("Customised") == 1


def test_saving_refuses_an_invalid_template_with_every_reason(admin_client, practice, case):
    response = admin_client.post(
        edit_url(),
        {
            "subject": "Re {{ patient.__class__ }}",
            "body": "{% load static %}{{ settings.SECRET_KEY }} {{ patient.name|safe }}",
        },
    )
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "Not saved" in page
    assert "{{ patient.__class__ }} is not a letter variable" in page
    assert "{% load %} is not allowed" in page
    assert "The filter |safe is not allowed" in page
    with practice_scope(practice):
        assert not LetterTemplate.objects.exists()


def test_the_live_preview_answers_htmx_with_the_fragment(admin_client, case):
    url = reverse("letter_template_preview", args=[KIND])
    response = admin_client.post(
        url, {"subject": "Seen {{ patient.initials }}", "body": GOOD_BODY}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="letter-preview"')
    assert "<h1>" not in page
    assert "Seen JW" in page
    assert "We saw Jordan." in html.unescape(page)

    response = admin_client.post(
        url, {"subject": "x", "body": "{{ patient.nickname }}"}, HTTP_HX_REQUEST="true"
    )
    page = html.unescape(response.content.decode())
    assert "Body: {{ patient.nickname }} is not a letter variable." in page
    assert "srcdoc" not in page


def test_the_preview_without_javascript_shows_the_editor_with_the_preview(admin_client, case):
    response = admin_client.post(
        reverse("letter_template_preview", args=[KIND]),
        {"subject": "Seen {{ patient.initials }}", "body": GOOD_BODY},
    )
    page = response.content.decode()
    assert "<h1>Consult completed letter</h1>" in page
    assert "Seen JW" in page


def test_the_preview_on_a_chosen_case(admin_client, practice, case):
    with practice_scope(practice):
        second, _ = walk_case(practice, patient_first="Riley", upto=M.CONSULT_COMPLETED)
    page = admin_client.get(edit_url() + f"?case={second.pk}").content.decode()
    assert "Riley Whitfield" in html.unescape(page.split('srcdoc="', 1)[1])


def test_another_practices_case_is_not_found(admin_client, case, other_case):
    assert admin_client.get(edit_url() + f"?case={other_case.pk}").status_code == 404
    data = {"subject": "x", "body": GOOD_BODY, "case": other_case.pk}
    for name in ("letter_template_preview", "letter_template_preview_pdf"):
        assert admin_client.post(reverse(name, args=[KIND]), data).status_code == 404
    assert admin_client.post(edit_url(), {**data, "subject": "{{ x }}"}).status_code == 404


def test_an_unknown_letter_kind_is_not_found(admin_client):
    assert admin_client.get(edit_url("thank_you")).status_code == 404


def test_the_pdf_preview_downloads(admin_client, case):
    response = admin_client.post(
        reverse("letter_template_preview_pdf", args=[KIND]),
        {"subject": "Seen {{ patient.initials }}", "body": GOOD_BODY},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="preview-consult-completed.pdf"'
    assert response.content.startswith(b"%PDF")


def test_the_pdf_preview_of_an_invalid_template_says_why(admin_client, case):
    response = admin_client.post(
        reverse("letter_template_preview_pdf", args=[KIND]),
        {"subject": "x", "body": "{% include 'x' %}"},
        follow=True,
    )
    assert "No PDF: Body: Line 1: {% include %} is not allowed" in html.unescape(
        response.content.decode()
    )


def test_reset_goes_back_to_the_default_wording(admin_client, practice, case):
    admin_client.post(edit_url(), {"subject": "Mine", "body": GOOD_BODY})
    response = admin_client.post(reverse("letter_template_reset", args=[KIND]), follow=True)
    page = response.content.decode()
    assert "back to the default wording" in page
    assert "Consultation report for your patient {{ patient.initials }}" in page
    with practice_scope(practice):
        assert not LetterTemplate.objects.exists()


def test_a_practice_without_cases_still_edits(admin_client, practice):
    response = admin_client.get(edit_url())
    assert response.status_code == 200
    assert "There is no case to preview the letter on yet" in response.content.decode()


def test_one_practices_wording_is_not_anothers(client, practice, outsider, other_practice):
    with practice_scope(practice):
        LetterTemplate.objects.create(practice=practice, kind=KIND, subject="Ours", body="Hi")
    client.force_login(outsider)
    page = client.get(edit_url()).content.decode()
    assert "Consultation report for your patient" in page
    assert 'value="Ours"' not in page
    with scopes_disabled():
        assert LetterTemplate.objects.filter(practice=other_practice).count() == 0


@pytest.mark.parametrize("role_user", ["coordinator_user", "front_desk_user", "clinician_user"])
def test_only_administrators_edit_letters(client, request, role_user, case):
    client.force_login(request.getfixturevalue(role_user))
    for method, url in urls():
        response = getattr(client, method)(url, {"subject": "x", "body": "y"})
        assert response.status_code == 403, (method, url)


def test_logged_out_users_are_sent_to_log_in(client):
    response = client.get(reverse("letter_templates"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_settings_page_leads_administrators_to_the_letters(admin_client):
    page = admin_client.get(reverse("settings_home")).content.decode()
    assert f'href="{reverse("letter_templates")}"' in page


def test_the_settings_page_tells_others_who_may_change_the_letters(client, coordinator_user):
    client.force_login(coordinator_user)
    page = client.get(reverse("settings_home")).content.decode()
    assert 'data-testid="letters-section"' in page
    assert reverse("letter_templates") not in page
