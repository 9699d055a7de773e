"""Referring offices: list, search, counts, office page, edit, archive, doctors, roles and
tenant isolation (views in referrals/views/offices.py)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django_scopes import scopes_disabled

from practices.scoping import practice_scope
from referrals.choices import LetterChannel, OfficeEventKind
from referrals.models import OfficeEvent, ReferringOffice, ReferringProvider

from .factories import OfficeFactory, ProviderFactory, ReferralFactory

TODAY = dt.date(2026, 3, 15)
VALID_NPI = "1234567893"  # the CMS documentation's example, with a correct check digit


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2026, 3, 15, 15, 0, tzinfo=dt.UTC), tick=False):
        yield


def referral(practice, office, days_ago, provider=None):
    return ReferralFactory(
        practice=practice,
        referring_office=office,
        referring_provider=provider or ProviderFactory(practice=practice, office=office),
        received_on=TODAY - dt.timedelta(days=days_ago),
    )


@pytest.fixture
def maple(practice):
    return OfficeFactory(
        practice=practice,
        name="Maple Family Dental",
        zip_code="02139",
        phone="(617) 555-0142",
        city="Cambridge",
    )


@pytest.fixture
def birch(practice):
    # A phone of its own: the factory's 555-01NN numbers repeat every 100 offices.
    return OfficeFactory(
        practice=practice, name="Birch Street Dentistry", zip_code="02420", phone="555-0700"
    )


@pytest.fixture
def theirs(other_practice):
    office = OfficeFactory(practice=other_practice, name="Hilltop Smiles")
    ProviderFactory(practice=other_practice, office=office)
    return office


def login(client, user):
    client.force_login(user)
    return client


def rows(response):
    return [o.name for o in response.context["offices"]]


# --- list -------------------------------------------------------------------------------


def test_the_list_shows_counts_last_referral_and_doctors(frozen, admin_client, practice, maple):
    dr = ProviderFactory(practice=practice, office=maple, last_name="Okafor")
    ProviderFactory(practice=practice, office=maple, is_archived=True)  # not counted
    for days in (3, 40, 89, 91, 400):
        referral(practice, maple, days, provider=dr)
    OfficeFactory(practice=practice, name="Quiet Dental")

    response = admin_client.get(reverse("office_list"))

    assert response.status_code == 200
    by_name = {o.name: o for o in response.context["offices"]}
    row = by_name["Maple Family Dental"]
    assert (row.referrals_total, row.referrals_recent) == (5, 3)
    assert row.last_referral_on == TODAY - dt.timedelta(days=3)
    assert row.doctor_count == 1
    quiet = by_name["Quiet Dental"]
    assert (quiet.referrals_total, quiet.referrals_recent, quiet.last_referral_on) == (0, 0, None)
    html = response.content.decode()
    assert "Mar 12, 2026" in html
    assert "never" in html


def test_the_list_shows_no_invented_health_status(admin_client, maple):
    html = admin_client.get(reverse("office_list")).content.decode()
    assert "Referrer health is not computed yet" in html
    # The Health filter offers the statuses; no row shows one before a nightly run.
    assert 'class="badge health-' not in html


def test_the_list_sorts_by_recent_referrals(frozen, admin_client, practice, maple, birch):
    referral(practice, birch, 5)
    referral(practice, birch, 6)
    referral(practice, maple, 7)
    response = admin_client.get(reverse("office_list"), {"sort": "recent"})
    assert rows(response) == ["Birch Street Dentistry", "Maple Family Dental"]
    response = admin_client.get(reverse("office_list"), {"sort": "last"})
    assert rows(response) == ["Birch Street Dentistry", "Maple Family Dental"]


@pytest.mark.parametrize(
    "query",
    ["maple", "MAPLE family", "Okafor", "Dr. Okafor", "Chiamaka", "02139", "617-555-0142",
     "6175550142", "555 0142", "Cambridge"],
)  # fmt: skip
def test_search_finds_an_office_by_name_doctor_zip_phone_or_city(
    admin_client, practice, maple, birch, query
):
    ProviderFactory(practice=practice, office=maple, first_name="Chiamaka", last_name="Okafor")
    response = admin_client.get(reverse("office_list"), {"q": query})
    assert rows(response) == ["Maple Family Dental"]


def test_search_without_a_match_says_so(admin_client, maple):
    response = admin_client.get(reverse("office_list"), {"q": "zzz-nothing"})
    assert rows(response) == []
    assert "No office matches “zzz-nothing”" in response.content.decode()


def test_an_htmx_search_answers_with_the_results_fragment(admin_client, maple, birch):
    response = admin_client.get(
        reverse("office_list"),
        {"q": "birch"},
        headers={"HX-Request": "true", "HX-Target": "office-results"},
    )
    html = response.content.decode()
    assert "Birch Street Dentistry" in html
    assert "Maple Family Dental" not in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_the_list_page_query_count_does_not_grow_with_offices(
    admin_client, practice, django_assert_max_num_queries
):
    def add_offices(n):
        for _ in range(n):
            office = OfficeFactory(practice=practice)
            ProviderFactory(practice=practice, office=office)
            referral(practice, office, 10)

    add_offices(3)
    # The page itself needs 2 queries (count, one page of offices with its counts); the rest
    # is login, practice and navigation, shared by every page.
    with django_assert_max_num_queries(15) as small:
        admin_client.get(reverse("office_list"))
    add_offices(40)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = admin_client.get(reverse("office_list"))
    assert len(response.context["offices"]) == 43


# --- archive ----------------------------------------------------------------------------


def test_archiving_hides_an_office_from_the_list_and_restoring_brings_it_back(
    admin_client, admin_user, practice, maple, birch
):
    response = admin_client.post(reverse("office_archive", args=[maple.pk]), follow=True)
    assert "Archived “Maple Family Dental”" in response.content.decode()

    assert rows(admin_client.get(reverse("office_list"))) == ["Birch Street Dentistry"]
    archived = admin_client.get(reverse("office_list"), {"show": "archived"})
    assert rows(archived) == ["Maple Family Dental"]
    assert len(rows(admin_client.get(reverse("office_list"), {"show": "all"}))) == 2

    admin_client.post(reverse("office_restore", args=[maple.pk]))
    assert rows(admin_client.get(reverse("office_list"))) == [
        "Birch Street Dentistry",
        "Maple Family Dental",
    ]
    with practice_scope(practice):
        maple.refresh_from_db()
        assert not maple.is_archived
        history = list(OfficeEvent.objects.filter(office=maple).order_by("id"))
    assert [e.kind for e in history] == [OfficeEventKind.ARCHIVED, OfficeEventKind.RESTORED]
    assert all(e.by == admin_user for e in history)


def test_archiving_twice_records_one_event(admin_client, practice, maple):
    admin_client.post(reverse("office_archive", args=[maple.pk]))
    admin_client.post(reverse("office_archive", args=[maple.pk]))
    with practice_scope(practice):
        assert OfficeEvent.objects.filter(office=maple).count() == 1


def test_an_archived_office_keeps_its_referrals_and_page(frozen, admin_client, practice, maple):
    referral(practice, maple, 3)
    admin_client.post(reverse("office_archive", args=[maple.pk]))
    response = admin_client.get(reverse("office_detail", args=[maple.pk]))
    html = response.content.decode()
    assert "This office is archived" in html
    assert response.context["stats"]["total"] == 1
    assert "Restore" in html


def test_archive_needs_a_post(admin_client, maple):
    assert admin_client.get(reverse("office_archive", args=[maple.pk])).status_code == 405


# --- the office page --------------------------------------------------------------------


def test_the_office_page_shows_contacts_doctors_referrals_and_history(
    frozen, admin_client, practice, maple
):
    maple.preferred_channel = LetterChannel.FAX
    maple.fax = "617-555-0199"
    maple.external_id = "PMS-77"
    maple.address = "12 Elm Road"
    with scopes_disabled():
        maple.save()
    dr = ProviderFactory(
        practice=practice, office=maple, first_name="Ana", last_name="Reyes", npi=VALID_NPI
    )
    with practice_scope(practice):
        from referrals.services import ReferralInput, create_referral

        from .factories import PatientFactory

        first = create_referral(
            practice,
            ReferralInput(
                patient=PatientFactory(practice=practice, first_name="Kim", last_name="Vale"),
                source_type="doctor",
                case_type="implants",
                received_on=TODAY - dt.timedelta(days=30),
                referring_office=maple,
                referring_provider=dr,
            ),
        )

    response = admin_client.get(reverse("office_detail", args=[maple.pk]))

    html = response.content.decode()
    for text in ("12 Elm Road", "617-555-0199", "PMS-77", "Dr. Ana Reyes", VALID_NPI, "Kim Vale"):
        assert text in html
    assert response.context["office"].get_preferred_channel_display() == "Fax"
    assert reverse("referral_detail", args=[first.pk]) in html
    assert "First referral (new referrer)" in html
    assert response.context["stats"] == {"total": 1, "recent": 1, "last": first.received_on}


def test_the_office_page_suggests_its_likely_duplicates(admin_client, practice, maple, birch):
    twin = OfficeFactory(practice=practice, name="Maple Dental, PC", zip_code="02139")
    response = admin_client.get(reverse("office_detail", args=[maple.pk]))
    suggested = [pair.second.id for pair in response.context["possible_duplicates"]]
    assert suggested == [twin.pk]
    html = response.content.decode()
    assert f"survivor={maple.pk}&absorbed={twin.pk}" in html


# --- create and edit --------------------------------------------------------------------


def office_post(**overrides):
    data = {
        "name": "Cedar Dental Group",
        "address": "4 Cedar Lane",
        "city": "Arlington",
        "state": "ma",
        "zip_code": "02474",
        "phone": "781-555-0100",
        "fax": "",
        "email": "front@cedar.example",
        "preferred_channel": LetterChannel.EMAIL,
        "external_id": "",
    }
    return {**data, **overrides}


def test_a_coordinator_adds_an_office(client, coordinator_user, practice):
    login(client, coordinator_user)
    response = client.post(reverse("office_create"), office_post())
    with practice_scope(practice):
        office = ReferringOffice.objects.get(name="Cedar Dental Group")
    assert response.status_code == 302
    assert response["Location"] == reverse("office_detail", args=[office.pk])
    assert office.state == "MA"
    assert office.practice == practice


def test_editing_an_office_saves_it(admin_client, practice, maple):
    response = admin_client.post(
        reverse("office_edit", args=[maple.pk]),
        office_post(name="  Maple   Family Dental  ", external_id="D-1"),
    )
    assert response.status_code == 302
    with practice_scope(practice):
        maple.refresh_from_db()
    assert (maple.name, maple.external_id, maple.city) == (
        "Maple Family Dental",
        "D-1",
        "Arlington",
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "  "}, "name", "Give the office's name."),
        ({"zip_code": "2139"}, "zip_code", "A ZIP code is 5 digits"),
        ({"phone": "555-01"}, "phone", "A phone number has 10 digits"),
        ({"fax": "12"}, "fax", "A fax number has 10 digits"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "Letters go by email: give the office's email."),
        (
            {"preferred_channel": LetterChannel.FAX},
            "fax",
            "Letters go by fax: give the office's fax number.",
        ),
        (
            {"preferred_channel": LetterChannel.MAIL, "address": ""},
            "address",
            "Letters go by mail: give the office's address.",
        ),
        ({"external_id": "TAKEN-1"}, "external_id", "already used by “Birch Street Dentistry”"),
        ({"preferred_channel": "pigeon"}, "preferred_channel", "Select a valid choice."),
    ],
)
def test_editing_an_office_with_bad_input_names_the_field(
    admin_client, practice, maple, birch, overrides, field, message
):
    birch.external_id = "TAKEN-1"
    with scopes_disabled():
        birch.save()
    response = admin_client.post(reverse("office_edit", args=[maple.pk]), office_post(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    html = response.content.decode()
    assert f'data-testid="error-{field}"' in html
    with practice_scope(practice), scopes_disabled():
        maple.refresh_from_db()
    assert maple.name == "Maple Family Dental"  # nothing saved


def test_an_office_may_keep_its_own_pms_id(admin_client, practice, maple):
    maple.external_id = "OWN-1"
    with scopes_disabled():
        maple.save()
    response = admin_client.post(
        reverse("office_edit", args=[maple.pk]), office_post(external_id="OWN-1")
    )
    assert response.status_code == 302


def test_a_pms_id_of_another_practice_does_not_count_as_taken(
    admin_client, practice, maple, theirs
):
    theirs.external_id = "SHARED-9"
    with scopes_disabled():
        theirs.save()
    response = admin_client.post(
        reverse("office_edit", args=[maple.pk]), office_post(external_id="SHARED-9")
    )
    assert response.status_code == 302


# --- doctors ----------------------------------------------------------------------------


def test_a_doctor_is_added_with_an_optional_npi(admin_client, practice, maple):
    url = reverse("provider_create", args=[maple.pk])
    admin_client.post(url, {"first_name": "Lee", "last_name": "Park", "npi": "", "email": ""})
    admin_client.post(
        url,
        {"first_name": "Ana", "last_name": "Reyes", "npi": "1234 567 893", "email": "a@x.example"},
    )
    with practice_scope(practice):
        doctors = {p.last_name: p for p in ReferringProvider.objects.filter(office=maple)}
    assert set(doctors) == {"Park", "Reyes"}
    assert doctors["Park"].npi == ""
    assert doctors["Reyes"].npi == VALID_NPI
    assert doctors["Reyes"].practice == practice


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"npi": "123456789"}, "npi", "An NPI is 10 digits."),
        ({"npi": "12345abcde"}, "npi", "An NPI is 10 digits."),
        ({"npi": "1234567890"}, "npi", "check digit is wrong"),
        ({"email": "dr@"}, "email", "Enter a valid email address."),
        ({"last_name": ""}, "last_name", "Give the doctor's last name."),
    ],
)
def test_a_doctor_with_bad_input_gets_a_message_on_the_field(
    admin_client, practice, maple, data, field, message
):
    post = {"first_name": "Ana", "last_name": "Reyes", "npi": "", "email": "", **data}
    response = admin_client.post(reverse("provider_create", args=[maple.pk]), post)
    assert response.status_code == 200
    assert message in response.context["form"].errors[field][0]
    with practice_scope(practice):
        assert not ReferringProvider.objects.filter(office=maple).exists()


def test_a_doctor_is_edited_and_archived(admin_client, practice, maple):
    dr = ProviderFactory(practice=practice, office=maple, first_name="Ana", last_name="Reyes")
    response = admin_client.post(
        reverse("provider_edit", args=[maple.pk, dr.pk]),
        {"first_name": "Ana", "last_name": "Reyes-Kim", "npi": VALID_NPI, "is_archived": "on"},
    )
    assert response.status_code == 302
    with practice_scope(practice):
        dr.refresh_from_db()
    assert (dr.last_name, dr.npi, dr.is_archived, dr.office_id) == (
        "Reyes-Kim",
        VALID_NPI,
        True,
        maple.pk,
    )


def test_a_doctor_of_another_office_is_not_edited_through_this_one(
    admin_client, practice, maple, birch
):
    dr = ProviderFactory(practice=practice, office=birch)
    url = reverse("provider_edit", args=[maple.pk, dr.pk])
    assert admin_client.get(url).status_code == 404


# --- roles ------------------------------------------------------------------------------

ROLE_FIXTURES = ["admin_user", "coordinator_user", "front_desk_user", "clinician_user"]


@pytest.mark.parametrize("user_fixture", ROLE_FIXTURES)
def test_every_member_sees_the_list_and_the_office_page(client, request, maple, user_fixture):
    login(client, request.getfixturevalue(user_fixture))
    assert client.get(reverse("office_list")).status_code == 200
    assert client.get(reverse("office_detail", args=[maple.pk])).status_code == 200


def manager_urls(office, provider, other):
    """(method, url, data) of every page that changes offices."""
    merge = f"{reverse('office_merge')}?survivor={office.pk}&absorbed={other.pk}"
    return [
        ("get", reverse("office_create"), None),
        ("get", reverse("office_edit", args=[office.pk]), None),
        ("post", reverse("office_edit", args=[office.pk]), office_post()),
        ("post", reverse("office_archive", args=[office.pk]), {}),
        ("post", reverse("office_restore", args=[office.pk]), {}),
        ("get", reverse("provider_create", args=[office.pk]), None),
        ("get", reverse("provider_edit", args=[office.pk, provider.pk]), None),
        ("get", reverse("office_duplicates"), None),
        ("get", merge, None),
        ("post", reverse("office_merge"), {"survivor": office.pk, "absorbed": other.pk}),
    ]


@pytest.mark.parametrize("user_fixture", ["front_desk_user", "clinician_user"])
def test_front_desk_and_clinicians_cannot_change_offices(
    client, request, practice, maple, birch, user_fixture
):
    login(client, request.getfixturevalue(user_fixture))
    dr = ProviderFactory(practice=practice, office=maple)
    for method, url, data in manager_urls(maple, dr, birch):
        response = getattr(client, method)(url, data) if data is not None else client.get(url)
        assert response.status_code == 403, url
    with practice_scope(practice):
        assert ReferringOffice.objects.count() == 2
        maple.refresh_from_db()
    assert not maple.is_archived
    html = client.get(reverse("office_detail", args=[maple.pk])).content.decode()
    for url in (
        reverse("office_edit", args=[maple.pk]),
        reverse("office_archive", args=[maple.pk]),
    ):
        assert url not in html
    assert reverse("office_merge") not in html


@pytest.mark.parametrize("user_fixture", ["admin_user", "coordinator_user"])
def test_admins_and_coordinators_may_change_offices(
    client, request, practice, maple, birch, user_fixture
):
    login(client, request.getfixturevalue(user_fixture))
    dr = ProviderFactory(practice=practice, office=maple)
    for method, url, data in manager_urls(maple, dr, birch)[:-1]:  # all but the merge itself
        response = getattr(client, method)(url, data) if data is not None else client.get(url)
        assert response.status_code in (200, 302), url


def test_an_anonymous_visitor_is_sent_to_the_login(client, maple):
    response = client.get(reverse("office_detail", args=[maple.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- tenant isolation -------------------------------------------------------------------


def test_another_practices_office_is_a_404_on_every_page(
    client, admin_user, practice, maple, theirs
):
    login(client, admin_user)
    with scopes_disabled():
        their_dr = theirs.providers.get()
    urls = [
        ("get", reverse("office_detail", args=[theirs.pk]), None),
        *manager_urls(theirs, their_dr, maple),
        # ours as the survivor, theirs absorbed: still a 404, and the reverse
        ("get", f"{reverse('office_merge')}?survivor={maple.pk}&absorbed={theirs.pk}", None),
        ("post", reverse("office_merge"), {"survivor": maple.pk, "absorbed": theirs.pk}),
        ("post", reverse("provider_create", args=[theirs.pk]), {"first_name": "X"}),
        ("post", reverse("provider_edit", args=[theirs.pk, their_dr.pk]), {"first_name": "X"}),
    ]
    for method, url, data in urls:
        if "duplicates" in url or url == reverse("office_create"):
            continue  # pages without an office id
        response = getattr(client, method)(url, data) if data is not None else client.get(url)
        assert response.status_code == 404, (method, url)
    with scopes_disabled():
        theirs.refresh_from_db()
        assert not theirs.is_archived
        assert theirs.name == "Hilltop Smiles"
        assert ReferringOffice.objects.filter(pk=maple.pk).exists()


def test_a_doctor_of_another_practice_is_a_404(client, admin_user, maple, theirs):
    login(client, admin_user)
    with scopes_disabled():
        their_dr = theirs.providers.get()
    assert client.get(reverse("provider_edit", args=[maple.pk, their_dr.pk])).status_code == 404


def test_the_list_and_search_show_only_our_offices(client, admin_user, maple, theirs):
    login(client, admin_user)
    assert rows(client.get(reverse("office_list"), {"show": "all"})) == ["Maple Family Dental"]
    assert rows(client.get(reverse("office_list"), {"q": "Hilltop"})) == []


def test_the_outsider_sees_none_of_our_offices(client, outsider, maple, theirs):
    login(client, outsider)
    assert rows(client.get(reverse("office_list"))) == ["Hilltop Smiles"]
    assert client.get(reverse("office_detail", args=[maple.pk])).status_code == 404


def test_the_office_page_warns_when_letters_cannot_go_out_as_asked(admin_client, maple):
    maple.preferred_channel = LetterChannel.EMAIL
    maple.email = ""
    with scopes_disabled():
        maple.save()
    html = admin_client.get(reverse("office_detail", args=[maple.pk])).content.decode()
    assert "No email address recorded: letters cannot go out this way." in html
