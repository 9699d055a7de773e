"""The Django admin for support staff: scoped to the practice they work in."""

import hashlib

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django_scopes import scopes_disabled

from practices.middleware import SESSION_KEY
from practices.models import ApiKey, Membership, Role, User
from practices.scoping import practice_scope
from referrals.choices import MilestoneKind, Status
from referrals.models import ReferringOffice, ReferringProvider

from .conftest import PASSWORD
from .factories import (
    MembershipFactory,
    OfficeFactory,
    PatientFactory,
    ReferralFactory,
    UserFactory,
)


def _staff(practice, email, *, superuser=False):
    """A support person: is_staff, a member of ``practice``, with every admin permission
    on our apps (a superuser has them all anyway)."""
    with scopes_disabled():
        user = UserFactory(email=email, is_staff=True, is_superuser=superuser)
        MembershipFactory(practice=practice, user=user, role=Role.ADMIN)
    if not superuser:
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label__in=["practices", "referrals"])
        )
    return user


@pytest.fixture
def support_user(practice):
    return _staff(practice, "support@lakeside.test")


@pytest.fixture
def support_client(client, support_user):
    client.force_login(support_user)
    return client


@pytest.fixture
def theirs(other_practice):
    """One office, patient and referral of another practice."""
    with practice_scope(other_practice):
        referral = ReferralFactory(practice=other_practice)
    return {
        "referringoffice": referral.referring_office,
        "patient": referral.patient,
        "referral": referral,
    }


@pytest.fixture
def ours(practice):
    with practice_scope(practice):
        referral = ReferralFactory(practice=practice)
    return {
        "referringoffice": referral.referring_office,
        "patient": referral.patient,
        "referral": referral,
    }


def _api_key(practice, name):
    digest = hashlib.sha256(name.encode()).hexdigest()
    with practice_scope(practice):
        return ApiKey.objects.create(
            practice=practice, name=name, prefix="oms_abcd1234", hashed_key=digest
        )


def _url(model, obj, page=""):
    return f"/admin/referrals/{model}/{obj.pk}/{page}"


def test_anonymous_users_are_sent_to_the_admin_login(client):
    response = client.get("/admin/referrals/referral/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_practice_admin_without_staff_status_cannot_enter_the_admin(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_says_which_practice_it_shows(support_client, practice):
    response = support_client.get("/admin/")
    assert response.status_code == 200
    assert "Practice: <strong>Lakeside Oral Surgery</strong>" in response.text


@pytest.mark.parametrize("model", ["referringoffice", "patient", "referral"])
@pytest.mark.parametrize("page", ["change/", "delete/", "history/"])
def test_another_practices_object_is_a_404_on_every_admin_page(
    support_client, ours, theirs, model, page
):
    assert support_client.get(_url(model, ours[model], page)).status_code == 200
    assert support_client.get(_url(model, theirs[model], page)).status_code == 404


@pytest.mark.parametrize("model", ["referringoffice", "patient", "referral"])
def test_a_superuser_working_in_one_practice_gets_404_for_another(client, practice, theirs, model):
    client.force_login(_staff(practice, "operator@platform.test", superuser=True))
    assert client.get(_url(model, theirs[model], "change/")).status_code == 404


def test_posting_to_another_practices_object_changes_nothing(support_client, theirs):
    office = theirs["referringoffice"]
    response = support_client.post(_url("referringoffice", office, "change/"), {"name": "Hacked"})
    assert response.status_code == 404
    with scopes_disabled():
        office.refresh_from_db()
    assert office.name != "Hacked"
    response = support_client.post(_url("referringoffice", office, "delete/"), {"post": "yes"})
    assert response.status_code == 404
    with scopes_disabled():
        assert ReferringOffice.objects.filter(pk=office.pk).exists()


def test_the_lists_show_only_the_current_practice(support_client, ours, theirs):
    for model in ["referringoffice", "patient", "referral"]:
        response = support_client.get(f"/admin/referrals/{model}/")
        assert response.status_code == 200
        assert f"/admin/referrals/{model}/{ours[model].pk}/change/" in response.text
        assert f"/admin/referrals/{model}/{theirs[model].pk}/change/" not in response.text


def test_offices_are_found_by_name_zip_and_phone(support_client, practice):
    with practice_scope(practice):
        OfficeFactory(
            practice=practice, name="Cedar Dental", zip_code="60601", phone="312-555-0101"
        )
        OfficeFactory(
            practice=practice, name="Birch Dental", zip_code="94110", phone="415-555-0199"
        )
    for query in ["Cedar", "60601", "312-555-0101"]:
        response = support_client.get("/admin/referrals/referringoffice/", {"q": query})
        assert "Cedar Dental" in response.text
        assert "Birch Dental" not in response.text


def test_the_office_list_filters_archived_offices(support_client, practice):
    with practice_scope(practice):
        OfficeFactory(practice=practice, name="Open Dental")
        OfficeFactory(practice=practice, name="Closed Dental", is_archived=True)
    response = support_client.get("/admin/referrals/referringoffice/", {"is_archived__exact": "1"})
    assert "Closed Dental" in response.text
    assert "Open Dental" not in response.text


def _office_form(**overrides):
    data = {
        "name": "Willow Dental",
        "address": "",
        "city": "Springfield",
        "state": "IL",
        "zip_code": "62701",
        "phone": "",
        "fax": "",
        "email": "",
        "preferred_channel": "email",
        "external_id": "",
        "providers-TOTAL_FORMS": "1",
        "providers-INITIAL_FORMS": "0",
        "providers-MIN_NUM_FORMS": "0",
        "providers-MAX_NUM_FORMS": "1000",
        "providers-0-first_name": "Robin",
        "providers-0-last_name": "Okafor",
        "providers-0-npi": "1234567893",
        "providers-0-email": "",
    }
    data.update(overrides)
    return data


def test_an_office_added_in_the_admin_belongs_to_the_current_practice(support_client, practice):
    response = support_client.post("/admin/referrals/referringoffice/add/", _office_form())
    assert response.status_code == 302, response.text
    with practice_scope(practice):
        office = ReferringOffice.objects.get(name="Willow Dental")
        provider = ReferringProvider.objects.get(last_name="Okafor")
        assert office.practice == practice
        assert provider.practice == practice
        assert provider.office == office


def test_a_taken_pms_id_is_a_form_error_not_a_crash(support_client, practice, other_practice):
    with practice_scope(practice):
        OfficeFactory(practice=practice, external_id="PMS-7")
    with practice_scope(other_practice):
        OfficeFactory(practice=other_practice, external_id="PMS-8")
    response = support_client.post(
        "/admin/referrals/referringoffice/add/", _office_form(external_id="PMS-7")
    )
    assert response.status_code == 200
    assert "Another office of this practice has this PMS id." in response.text
    # Another practice's PMS ids are no obstacle.
    response = support_client.post(
        "/admin/referrals/referringoffice/add/", _office_form(external_id="PMS-8")
    )
    assert response.status_code == 302


def test_a_taken_chart_number_is_a_form_error(support_client, practice):
    with practice_scope(practice):
        PatientFactory(practice=practice, chart_number="C-9")
    response = support_client.post(
        "/admin/referrals/patient/add/",
        {
            "first_name": "Sam",
            "last_name": "Lee",
            "date_of_birth": "1990-01-02",
            "chart_number": "C-9",
        },
    )
    assert response.status_code == 200
    assert "Another patient of this practice has this chart number." in response.text


def test_the_practice_field_is_not_in_the_forms(support_client, ours):
    response = support_client.get(_url("referringoffice", ours["referringoffice"], "change/"))
    assert 'name="practice"' not in response.text
    assert 'name="providers-0-practice"' not in response.text


def test_patients_are_found_by_chart_number_and_name(support_client, practice):
    with practice_scope(practice):
        PatientFactory(practice=practice, first_name="Jordan", last_name="Vale", chart_number="A-1")
        PatientFactory(practice=practice, first_name="Casey", last_name="Moss", chart_number="B-2")
    for query in ["A-1", "Vale", "Jordan"]:
        response = support_client.get("/admin/referrals/patient/", {"q": query})
        assert "Vale" in response.text
        assert "Moss" not in response.text


def test_referrals_are_found_by_chart_number_and_filtered_by_status(support_client, practice):
    with practice_scope(practice):
        mine = ReferralFactory(practice=practice, patient__chart_number="CH-42")
        ReferralFactory(practice=practice, patient__chart_number="CH-43", status=Status.CLOSED)
    response = support_client.get("/admin/referrals/referral/", {"q": "CH-42"})
    assert response.context["cl"].result_count == 1
    assert list(response.context["cl"].result_list) == [mine]
    response = support_client.get("/admin/referrals/referral/", {"status__exact": "closed"})
    assert response.context["cl"].result_count == 1
    for name in ["source_type__exact", "case_type__exact", "received_on__gte"]:
        assert name in response.text


def test_a_referral_page_shows_its_events_read_only(support_client, ours):
    referral = ours["referral"]
    response = support_client.get(_url("referral", referral, "change/"))
    assert response.status_code == 200
    assert str(MilestoneKind.RECEIVED.label) in response.text
    assert 'name="events-0-kind"' not in response.text
    # The status follows from the events: not a form field.
    assert 'name="status"' not in response.text
    assert 'name="case_type"' in response.text


def test_referrals_are_not_added_in_the_admin(support_client):
    assert support_client.get("/admin/referrals/referral/add/").status_code == 403


def test_milestone_events_are_read_only(support_client, ours):
    with practice_scope(ours["referral"].practice):
        event = ours["referral"].events.get()
    url = f"/admin/referrals/milestoneevent/{event.pk}/change/"
    assert support_client.get(url).status_code == 200
    assert support_client.post(url, {"kind": "closed"}).status_code == 403
    assert support_client.get("/admin/referrals/milestoneevent/add/").status_code == 403


def test_api_keys_never_show_their_hash_and_can_be_revoked(support_client, practice):
    key = _api_key(practice, "Dentrix bridge")
    response = support_client.get(f"/admin/practices/apikey/{key.pk}/change/")
    assert response.status_code == 200
    assert "Dentrix bridge" in response.text
    assert key.hashed_key not in response.text
    response = support_client.post(
        "/admin/practices/apikey/", {"action": "revoke", "_selected_action": [key.pk]}
    )
    assert response.status_code == 302
    with practice_scope(practice):
        key.refresh_from_db()
    assert key.revoked_at is not None


def test_another_practices_api_key_is_a_404(support_client, other_practice):
    key = _api_key(other_practice, "Their bridge")
    assert support_client.get(f"/admin/practices/apikey/{key.pk}/change/").status_code == 404


def test_adding_a_member_by_email_creates_the_account_with_a_one_time_password(
    support_client, practice
):
    response = support_client.post(
        "/admin/practices/membership/add/",
        {"email": "New.Desk@Lakeside.test", "role": Role.FRONT_DESK},
    )
    assert response.status_code == 302, response.text
    [message] = [
        str(m) for m in get_messages(response.wsgi_request) if "One-time password" in str(m)
    ]
    password = message.split("One-time password: ")[1].split(" ")[0]
    with practice_scope(practice):
        membership = Membership.objects.get(user__email="new.desk@lakeside.test")
    assert membership.role == Role.FRONT_DESK
    assert membership.practice == practice
    assert membership.user.check_password(password)


def test_adding_an_existing_user_keeps_their_password(support_client, practice, outsider):
    response = support_client.post(
        "/admin/practices/membership/add/", {"email": outsider.email, "role": Role.COORDINATOR}
    )
    assert response.status_code == 302
    assert not any("password" in str(m) for m in get_messages(response.wsgi_request))
    outsider.refresh_from_db()
    assert outsider.check_password(PASSWORD)
    with scopes_disabled():
        assert Membership.objects.filter(user=outsider).count() == 2


def test_adding_a_member_twice_is_a_form_error(support_client, admin_user):
    response = support_client.post(
        "/admin/practices/membership/add/", {"email": admin_user.email, "role": Role.ADMIN}
    )
    assert response.status_code == 200
    assert "is already a member of this practice" in response.text


def test_staff_see_only_their_colleagues_and_cannot_edit_accounts(
    support_client, admin_user, outsider
):
    response = support_client.get("/admin/practices/user/")
    assert admin_user.email in response.text
    assert outsider.email not in response.text
    assert support_client.get(f"/admin/practices/user/{outsider.pk}/change/").status_code == 404
    # Accounts can span practices: only platform operators change them or grant staff rights.
    response = support_client.post(
        f"/admin/practices/user/{admin_user.pk}/change/",
        {"email": admin_user.email, "is_staff": "on", "is_superuser": "on"},
    )
    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    assert support_client.get("/admin/practices/user/add/").status_code == 403


def test_staff_see_only_their_own_practice(support_client, practice, other_practice):
    response = support_client.get("/admin/practices/practice/")
    assert practice.name in response.text
    assert other_practice.name not in response.text
    assert (
        support_client.get(f"/admin/practices/practice/{other_practice.pk}/change/").status_code
        == 404
    )
    assert support_client.get("/admin/practices/practice/add/").status_code == 403


def test_an_operator_creates_a_user_with_an_email_login(client, practice):
    client.force_login(_staff(practice, "operator@platform.test", superuser=True))
    response = client.post(
        "/admin/practices/user/add/",
        {
            "email": "someone@clinic.test",
            "usable_password": "true",
            "password1": "a-long-Passphrase-91",
            "password2": "a-long-Passphrase-91",
        },
    )
    assert response.status_code == 302, response.text
    assert User.objects.get(email="someone@clinic.test").check_password("a-long-Passphrase-91")
    assert client.get("/admin/practices/practice/").status_code == 200


def test_staff_in_several_practices_choose_one_before_the_lists(client, practice, other_practice):
    user = _staff(practice, "roaming@support.test")
    with scopes_disabled():
        MembershipFactory(practice=other_practice, user=user, role=Role.ADMIN)
    client.force_login(user)
    response = client.get("/admin/referrals/referringoffice/")
    assert response.status_code == 302
    assert response["Location"] == "/practice/?next=%2Fadmin%2Freferrals%2Freferringoffice%2F"
    response = client.get(response["Location"])
    assert 'name="next" value="/admin/referrals/referringoffice/"' in response.text
    response = client.post(
        "/practice/", {"practice": other_practice.pk, "next": "/admin/referrals/referringoffice/"}
    )
    assert response["Location"] == "/admin/referrals/referringoffice/"
    assert client.session[SESSION_KEY] == other_practice.pk
    assert client.get("/admin/referrals/referringoffice/").status_code == 200


def test_admin_lists_take_a_bounded_number_of_queries(
    support_client, practice, django_assert_max_num_queries
):
    with practice_scope(practice):
        for _ in range(15):
            ReferralFactory(practice=practice)
    with django_assert_max_num_queries(15):
        assert support_client.get("/admin/referrals/referral/").status_code == 200
    with django_assert_max_num_queries(15):
        assert support_client.get("/admin/referrals/referringoffice/").status_code == 200


def test_the_office_autocomplete_offers_only_this_practices_offices(
    support_client, practice, other_practice
):
    with practice_scope(practice):
        mine = OfficeFactory(practice=practice, name="Cedar Family Dental")
    with practice_scope(other_practice):
        OfficeFactory(practice=other_practice, name="Cedar Smiles")
    response = support_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "referrals",
            "model_name": "referringprovider",
            "field_name": "office",
            "term": "Cedar",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == [mine.name]


def test_another_practices_membership_is_a_404(support_client, outsider, other_practice):
    with practice_scope(other_practice):
        theirs = Membership.objects.get(user=outsider)
    url = f"/admin/practices/membership/{theirs.pk}/change/"
    assert support_client.get(url).status_code == 404
