"""Property tests of the front-desk intake form (referrals/views/intake.py): whatever the
front desk types, the answer is the form again with each error on its field and nothing
stored, or the whole referral (patient, office, doctor, case, 'received' step) stored."""

import datetime as dt
from collections import Counter

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import strategies as st

from referrals.choices import CaseType, SourceType, Urgency
from referrals.models import MilestoneEvent, Patient, Referral, ReferringOffice, ReferringProvider

from .factories import OfficeFactory, PatientFactory, ProviderFactory
from .property_support import (
    AUDIT_TABLE,
    changed_tables,
    date_text,
    rolled_back,
    snapshot,
    text_like,
)

URL = reverse("intake")
DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%Y-%m-%d", "%m%d%Y")


@pytest.fixture
def world(client, practice, front_desk_user, other_practice):
    """Our practice with a patient, an office and its doctor; another practice's patient
    and office (their ids must be refused like any unknown id)."""
    office = OfficeFactory(practice=practice, name="Maple Dental", zip_code="02139")
    doctor = ProviderFactory(office=office, first_name="Alex", last_name="Moreno")
    patient = PatientFactory(practice=practice, first_name="Jordan", last_name="Testcase")
    foreign_patient = PatientFactory(practice=other_practice)
    foreign_office = OfficeFactory(practice=other_practice)
    client.force_login(front_desk_user)
    return {
        "client": client,
        "patient": str(patient.pk),
        "office": str(office.pk),
        "doctor": str(doctor.pk),
        "foreign_patient": str(foreign_patient.pk),
        "foreign_office": str(foreign_office.pk),
    }


# Names as people have them: letters of any script, marks, apostrophes and hyphens.
names = st.text(
    st.characters(categories=("L", "M"), include_characters="'- "), min_size=1, max_size=30
).filter(lambda s: s.strip())


def _email_of(length: int) -> str:
    """A valid address of ``length`` characters (a 64-character name, labels of at most 63)."""
    labels, left = [], length - len("@.example") - 64
    while left > 0:
        size = min(63, left if left <= 63 else 62)
        labels.append("b" * size)
        left -= size + 1
    return f"{'a' * 64}@{'.'.join(labels)}.example"


# Valid addresses: short, right at the 254 a column holds, and past it up to the 320 that
# Django's email check allows.
emails = st.sampled_from(["", "front@birch.example"]) | st.sampled_from([254, 255, 300, 320]).map(
    _email_of
)


def _valid_posts(world):
    """The three ways an intake is complete, with names and dates drawn at random."""
    case = {
        "case_type": st.sampled_from(CaseType.values),
        "urgency": st.sampled_from(Urgency.values),
        "reason": text_like("#17 and #32 impacted"),
        "received_on": st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2024, 12, 31)).map(
            lambda d: d.strftime("%m/%d/%Y")
        ),
        "then": st.sampled_from(["case", "new"]),
    }
    known_patient_and_office = st.fixed_dictionaries(
        {
            **case,
            "patient": st.just(world["patient"]),
            "source_type": st.sampled_from([SourceType.DOCTOR, SourceType.SPECIALIST]),
            "referring_office": st.just(world["office"]),
            "referring_provider": st.just(world["doctor"]),
        }
    )
    new_everything = st.fixed_dictionaries(
        {
            **case,
            "first_name": names,
            "last_name": names,
            "date_of_birth": st.dates(
                min_value=dt.date(1920, 1, 1), max_value=dt.date(2020, 1, 1)
            ).map(lambda d: d.strftime("%m/%d/%Y")),
            "phone": st.sampled_from(["", "555-777-8888"]),
            "chart_number": st.sampled_from(["", "C-2001"]),
            "confirm_new_patient": st.just("on"),
            "source_type": st.just(SourceType.DOCTOR),
            "new_office_name": names,
            "new_office_zip": st.just("02140"),
            "new_office_phone": st.just("555-0199"),
            "new_office_email": emails,
            "new_doctor_first_name": names,
            "new_doctor_last_name": names,
        }
    )
    self_referral = st.fixed_dictionaries(
        {
            **case,
            "patient": st.just(world["patient"]),
            "source_type": st.sampled_from(
                [
                    s
                    for s in SourceType.values
                    if s not in (SourceType.DOCTOR, SourceType.SPECIALIST)
                ]
            ),
        }
    )
    return st.one_of(known_patient_and_office, new_everything, self_referral)


def _odd_values(world):
    """What may be typed (or forged) into each field instead."""
    ids = st.sampled_from(
        [world["patient"], world["foreign_patient"], world["office"], world["foreign_office"]]
        + ["0", "-1", "99999999999999999999", "1.5", "new"]
    )
    return {
        "patient": st.one_of(ids, text_like()),
        "patient_q": text_like(),
        "first_name": text_like(),
        "last_name": text_like(),
        "date_of_birth": date_text(DATE_FORMATS),
        "phone": text_like(),
        "chart_number": text_like(),
        "confirm_new_patient": text_like("on"),
        "source_type": text_like(*SourceType.values),
        "referring_office": st.one_of(ids, text_like()),
        "office_q": text_like(),
        "referring_provider": st.one_of(ids, text_like("new", world["doctor"])),
        "new_office_name": text_like("Maple Dental"),
        "new_office_zip": text_like("02139"),
        "new_office_phone": text_like(),
        "new_office_email": st.one_of(emails, text_like("x@y", "@b.example")),
        "new_doctor_first_name": text_like(),
        "new_doctor_last_name": text_like(),
        "case_type": text_like(*CaseType.values),
        "urgency": text_like(*Urgency.values),
        "reason": text_like(),
        "received_on": date_text(DATE_FORMATS),
        "then": text_like(),
    }


@st.composite
def _changes(draw, base: dict, odd: dict) -> dict:
    # Mostly the fields this kind of intake fills in (where a bad value can get through to
    # the save), sometimes any field at all (a forged or stale one).
    own = sorted(set(base) & set(odd))
    fields = draw(
        st.lists(st.one_of(st.sampled_from(own), st.sampled_from(sorted(odd))), max_size=3)
    )
    return {f: draw(odd[f]) for f in fields}


def intake_posts(world):
    """A complete intake with up to three fields typed wrong (or forged)."""
    odd = _odd_values(world)
    return _valid_posts(world).flatmap(
        lambda base: _changes(base, odd).map(lambda changes: {**base, **changes})
    )


def _counts():
    with scopes_disabled():
        return {
            m.__name__: m.objects.count()
            for m in (Referral, Patient, ReferringOffice, ReferringProvider, MilestoneEvent)
        }


@pytest.mark.django_db
def test_any_intake_post_stores_the_whole_referral_or_nothing(world):
    outcomes = Counter()

    @given(data=intake_posts(world))
    def check(data):
        with rolled_back():
            before, counts = snapshot(exclude=(AUDIT_TABLE,)), _counts()
            response = world["client"].post(URL, data)
            assert response.status_code in (200, 302)
            outcomes[response.status_code] += 1
            after = _counts()
            if response.status_code == 200:
                form = response.context["form"]
                assert form.errors, "the form came back without saying why"
                # Every message sits on a field the page shows it next to.
                assert set(form.errors) <= set(form.fields), form.errors
                assert changed_tables(before, snapshot(exclude=(AUDIT_TABLE,))) == []
            else:
                assert after["Referral"] == counts["Referral"] + 1
                # The 'received' step, and the case's own rows; nothing else of a half.
                assert after["MilestoneEvent"] == counts["MilestoneEvent"] + 1
                assert after["Patient"] - counts["Patient"] in (0, 1)
                assert after["ReferringOffice"] - counts["ReferringOffice"] in (0, 1)
                assert after["ReferringProvider"] - counts["ReferringProvider"] in (0, 1)

    check()
    # The examples reached both ends: saves and refusals.
    assert outcomes[302] and outcomes[200], outcomes


# -- examples the properties found -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, params",
    [
        ("intake_patient_search", {"patient_q": "Jor\x00dan"}),
        ("intake_office_search", {"office_q": "\x00"}),
        ("intake_duplicate_check", {"first_name": "Jordan", "last_name": "Test\x00case"}),
    ],
)
def test_a_nul_typed_into_a_typeahead_is_ignored(world, url, params):
    """PostgreSQL refuses a NUL in text: the search answered 500 on every keystroke."""
    response = world["client"].get(reverse(url), params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    if url == "intake_patient_search":
        assert "Testcase, Jordan" in response.content.decode()


# A valid address of 315 characters: Django's email check allows up to 320, the column 254.
LONG_EMAIL = _email_of(315)


@pytest.mark.django_db
def test_a_new_office_email_longer_than_the_column_is_refused_naming_the_field(world):
    before = snapshot(exclude=(AUDIT_TABLE,))
    response = world["client"].post(
        URL,
        {
            "first_name": "Riley",
            "last_name": "Newpatient",
            "date_of_birth": "07/04/1995",
            "confirm_new_patient": "on",
            "source_type": SourceType.DOCTOR,
            "new_office_name": "Birch Dental",
            "new_office_zip": "02140",
            "new_office_phone": "555-0199",
            "new_office_email": LONG_EMAIL,
            "new_doctor_first_name": "Sam",
            "new_doctor_last_name": "Lee",
            "case_type": CaseType.THIRD_MOLARS,
            "urgency": Urgency.ROUTINE,
            "received_on": "03/03/2025",
        },
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["new_office_email"]
    assert "at most 254 characters" in response.content.decode()
    assert changed_tables(before, snapshot(exclude=(AUDIT_TABLE,))) == []


@pytest.mark.django_db
def test_the_typeaheads_answer_anything_typed(world):
    """The patient and office searches and the duplicate warning run on every keystroke:
    whatever is in the box, they answer 200 (a page, or the fragment htmx swaps in); so
    does the form opened from their links, whatever its query string holds."""
    typed = st.one_of(text_like("Jordan", "Maple", "555", "03/09/1988", "C-1001"), date_text())

    @given(
        url=st.sampled_from(["intake_patient_search", "intake_office_search"]),
        query=typed,
        htmx=st.booleans(),
        duplicate=st.fixed_dictionaries(
            {"first_name": typed, "last_name": typed, "date_of_birth": typed, "phone": typed}
        ),
    )
    def check(url, query, htmx, duplicate):
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        key = "patient_q" if url == "intake_patient_search" else "office_q"
        client = world["client"]
        assert client.get(reverse(url), {key: query}, **headers).status_code == 200
        answer = client.get(reverse("intake_duplicate_check"), duplicate, **headers)
        assert answer.status_code == 200
        # A link back to the form carries what was typed (and an id) in its query string.
        prefill = {**duplicate, "patient": query, "referring_office": query, "reason": query}
        assert client.get(URL, prefill).status_code == 200

    check()
