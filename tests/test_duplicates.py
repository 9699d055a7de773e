"""Likely duplicate offices (referrals/duplicates.py) and the "Possible duplicates" page."""

import random

import pytest
from django.urls import reverse

from practices.scoping import practice_scope
from referrals.duplicates import (
    OfficeKey,
    find_duplicates,
    name_similarity,
    normalize_name,
    phone_digits,
)

from .factories import OfficeFactory, ReferralFactory


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Maple Family Dental, P.C.", "maple"),
        ("Maple D.D.S.", "maple"),
        ("Maple Dentistry LLC", "maple"),
        ("Smith & Jones DDS", "smith jones"),
        ("Smith and Jones Dental Group", "smith jones"),
        ("Dr. O'Brien's Office", "obriens"),
        ("Crème Dental", "creme"),
        ("Family Dental", "family dental"),  # nothing but noise: keep the words
    ],
)
def test_names_are_normalized_without_noise_words(raw, normalized):
    assert normalize_name(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("(617) 555-0142", "6175550142"), ("+1 617.555.0142", "6175550142"), ("555-01", ""), ("", "")],
)
def test_phones_compare_by_their_digits(raw, digits):
    assert phone_digits(raw) == digits


def test_word_order_does_not_matter():
    assert name_similarity("smith jones", "jones smith") == 1.0


def names_of(pairs):
    return {frozenset((p.first.name, p.second.name)) for p in pairs}


def test_similar_names_same_phone_and_same_zip_are_suggested(practice):
    OfficeFactory(practice=practice, name="Maple Family Dental", zip_code="02139", phone="1")
    OfficeFactory(practice=practice, name="Maple Dental, PC", zip_code="02201", phone="2")
    OfficeFactory(practice=practice, name="Bright Smiles", zip_code="01001", phone="617-555-0100")
    OfficeFactory(practice=practice, name="Dr. Chen", zip_code="01002", phone="(617) 555 0100")
    OfficeFactory(practice=practice, name="Harbor View Dental", zip_code="02110", phone="3")
    OfficeFactory(practice=practice, name="Harborview Dentistry", zip_code="02110", phone="4")
    OfficeFactory(practice=practice, name="Oak Street Dental", zip_code="03000", phone="5")
    OfficeFactory(practice=practice, name="Elm Street Dental", zip_code="04000", phone="6")
    OfficeFactory(practice=practice, name="Pine Valley Orthodontics", zip_code="05000", phone="7")

    with practice_scope(practice):
        pairs = find_duplicates()

    assert names_of(pairs) == {
        frozenset({"Maple Family Dental", "Maple Dental, PC"}),
        frozenset({"Bright Smiles", "Dr. Chen"}),
        frozenset({"Harbor View Dental", "Harborview Dentistry"}),
    }
    reasons = {frozenset((p.first.name, p.second.name)): p.reasons for p in pairs}
    assert reasons[frozenset({"Maple Family Dental", "Maple Dental, PC"})] == ["same name"]
    assert reasons[frozenset({"Bright Smiles", "Dr. Chen"})] == ["same phone"]
    assert "similar name" in reasons[frozenset({"Harbor View Dental", "Harborview Dentistry"})]


def test_a_same_zip_needs_a_fairly_similar_name(practice):
    OfficeFactory(practice=practice, name="Jefferson Square Dental", zip_code="02139")
    OfficeFactory(practice=practice, name="Jefferson Sq. Dentistry", zip_code="02139-4301")
    OfficeFactory(practice=practice, name="Quarry Road Dental", zip_code="02139")
    # Just as alike, but in another ZIP: not enough.
    OfficeFactory(practice=practice, name="Madison Square Dental", zip_code="03000")
    OfficeFactory(practice=practice, name="Madison Sq Dental", zip_code="04000")
    with practice_scope(practice):
        pairs = find_duplicates()
    assert names_of(pairs) == {frozenset({"Jefferson Square Dental", "Jefferson Sq. Dentistry"})}
    assert pairs[0].reasons == ["same ZIP and similar name"]


def test_two_archived_offices_are_not_suggested(practice):
    OfficeFactory(practice=practice, name="Maple Dental", is_archived=True)
    OfficeFactory(practice=practice, name="Maple Dental PC", is_archived=True)
    OfficeFactory(practice=practice, name="Birch Dental")
    with practice_scope(practice):
        assert find_duplicates() == []


def test_offices_of_another_practice_are_never_suggested(practice, other_practice):
    OfficeFactory(practice=practice, name="Maple Dental", phone="617-555-0100")
    OfficeFactory(practice=other_practice, name="Maple Dental", phone="617-555-0100")
    with practice_scope(practice):
        assert find_duplicates() == []


def test_a_thousand_offices_are_compared_without_all_pairs():
    """The candidate filter must keep difflib away from most of the 499,500 pairs, and the
    result must equal the all-pairs answer."""
    from itertools import combinations

    from referrals.duplicates import _candidate_pairs, _judge

    rng = random.Random(7)
    syllables = ["ka", "lo", "mi", "ne", "ro", "sa", "tu", "vi", "ze", "bo", "da", "fe", "gi"]
    keys = []
    for i in range(1000):
        word = "".join(rng.choice(syllables) for _ in range(4))
        name = f"{word.title()} Dental"
        zip5 = f"{rng.randrange(100):05d}"
        keys.append(OfficeKey(i, name, zip5, "", False, normalize_name(name)))
    candidates = _candidate_pairs(keys)
    assert len(candidates) < 60_000
    expected = {(i, j) for i, j in combinations(range(len(keys)), 2) if _judge(keys[i], keys[j])}
    found = {(p.first.id, p.second.id) for p in find_duplicates(keys)}
    assert found == expected


def test_the_duplicates_page_lists_pairs_with_a_merge_link(
    admin_client, practice, django_assert_max_num_queries
):
    keep = OfficeFactory(practice=practice, name="Maple Family Dental")
    drop = OfficeFactory(practice=practice, name="Maple Dental, PC")
    ReferralFactory(practice=practice, referring_office=keep)
    for _ in range(20):
        OfficeFactory(practice=practice)
    with django_assert_max_num_queries(15):
        response = admin_client.get(reverse("office_duplicates"))
    html = response.content.decode()
    # The office with more referrals is offered as the one to keep.
    assert f"survivor={keep.pk}&absorbed={drop.pk}" in html
    assert "same name" in html


def test_the_duplicates_page_says_when_there_are_none(admin_client, practice):
    OfficeFactory(practice=practice, name="Maple Dental")
    OfficeFactory(practice=practice, name="Quarry Road Dentistry")
    response = admin_client.get(reverse("office_duplicates"))
    assert "No likely duplicates found." in response.content.decode()
