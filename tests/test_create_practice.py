"""manage.py create_practice: onboarding a practice and its first administrator."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from practices.models import Membership, Practice, Role, User

from .conftest import PASSWORD
from .factories import PracticeFactory, UserFactory

pytestmark = pytest.mark.django_db


def create(*args) -> str:
    out = StringIO()
    call_command("create_practice", *args, stdout=out)
    return out.getvalue()


def test_it_creates_the_practice_and_a_new_admin_with_a_one_time_password(client):
    output = create(
        "Lakeside Oral Surgery",
        "--slug=lakeside",
        "--admin-email=Office.Manager@Lakeside.example",
        "--time-zone=America/Chicago",
    )
    practice = Practice.objects.get(slug="lakeside")
    assert practice.name == "Lakeside Oral Surgery"
    assert practice.time_zone == "America/Chicago"
    user = User.objects.get(email="office.manager@lakeside.example")
    with scopes_disabled():
        membership = Membership.objects.get(practice=practice, user=user)
    assert membership.role == Role.ADMIN
    assert "Created practice 'Lakeside Oral Surgery' (slug lakeside)." in output
    password = re.search(r"One-time password: (\S+)", output).group(1)
    assert len(password) >= 20
    assert "/account/password/" in output
    # The printed password logs in; an administrator must set up two-factor before anything.
    response = client.post(
        "/login/", {"login": "office.manager@lakeside.example", "password": password}
    )
    assert response.status_code == 302
    assert client.get("/")["Location"] == "/accounts/2fa/totp/activate/"


def test_each_new_user_gets_a_different_password():
    first = create("One Surgery", "--admin-email=a@one.example")
    second = create("Two Surgery", "--admin-email=b@two.example")
    passwords = [re.search(r"One-time password: (\S+)", o).group(1) for o in (first, second)]
    assert passwords[0] != passwords[1]


def test_an_existing_user_is_added_and_keeps_their_password():
    user = UserFactory(email="surgeon@group.example")
    output = create("Second Location", "--slug=second", "--admin-email=surgeon@group.example")
    assert "Existing user surgeon@group.example was added" in output
    assert "One-time password" not in output
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    with scopes_disabled():
        assert Membership.objects.get(user=user).practice.slug == "second"


def test_the_slug_defaults_to_the_name():
    create("Riverside Oral & Maxillofacial Surgery", "--admin-email=a@river.example")
    assert Practice.objects.filter(slug="riverside-oral-maxillofacial-surgery").exists()


def test_a_taken_slug_is_refused_and_nothing_is_created():
    PracticeFactory(slug="lakeside")
    with pytest.raises(CommandError, match="slug: 'lakeside' is already taken"):
        create("Another Lakeside", "--slug=lakeside", "--admin-email=new@lakeside.example")
    assert not User.objects.filter(email="new@lakeside.example").exists()
    assert Practice.objects.count() == 1


@pytest.mark.parametrize("email", ["not-an-email", "a@b", ""])
def test_a_bad_email_is_refused_and_nothing_is_created(email):
    with pytest.raises(CommandError, match="email: .* is not a valid email address"):
        create("Lakeside Oral Surgery", "--slug=lakeside", f"--admin-email={email}")
    assert not Practice.objects.exists()
    assert not User.objects.exists()


def test_a_bad_slug_or_time_zone_is_refused():
    with pytest.raises(CommandError, match="slug: 'Lake Side' must be"):
        create("Lakeside", "--slug=Lake Side", "--admin-email=a@lake.example")
    with pytest.raises(CommandError, match="time zone: 'Mars/Olympus' is not a known"):
        create("Lakeside", "--time-zone=Mars/Olympus", "--admin-email=a@lake.example")
    assert not Practice.objects.exists()


def test_the_admin_email_is_required():
    with pytest.raises(CommandError, match="--admin-email"):
        create("Lakeside")
