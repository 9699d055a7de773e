import os
import time
from pathlib import Path

import pytest
from django_scopes import scopes_disabled
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from practices.models import Role
from practices.scoping import practice_scope

from .factories import TEST_TOTP_SECRET, MembershipFactory, PracticeFactory, UserFactory

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by
# live_server fixtures from that thread are safe here (one thread, one connection).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Property tests (tests/test_properties_*.py, docs/testing.md). "ci": few examples, the same
# ones on every run (derandomized: a red build is never luck) and no example database on
# disk. "long": many random examples for a local hunt, failures remembered in .hypothesis/.
# Every example runs inside a function-scoped fixture's database (the test rolls each one
# back itself), and a request through the test client takes longer than hypothesis expects.
_PROPERTY_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
hypothesis_settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_PROPERTY_CHECKS,
)
hypothesis_settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=_PROPERTY_CHECKS
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "correct-horse-42"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # A real hasher costs ~0.3-1 s per user on this machine; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_login_rate_limit(settings):
    # allauth limits logins per address per minute in the cache (Redis here, shared by the
    # whole run); the suite logs in from 127.0.0.1 far more often than any office would.
    # Failed logins are counted by django-axes in the database, reset with each test.
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": None}


@pytest.fixture(autouse=True)
def _no_api_or_status_page_rate_limit(settings):
    # The same for the API (one key makes thousands of calls in the route matrix and the
    # fuzzer) and the GP status page: their limits are switched back on, small, in
    # tests/security/test_rate_limits.py.
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "api": None,
        "api_public": None,
        "status_page": None,
    }


def totp_code(secret: str = TEST_TOTP_SECRET) -> str:
    """The code an authenticator app holding ``secret`` shows now (allauth's functions)."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    # A code read in the last seconds of its 30-second window may expire before the form
    # is sent (allauth has no tolerance): wait for the next window then, as a person would.
    left = 30 - time.time() % 30
    if left < 5:
        time.sleep(left + 0.1)
    counter = int(time.time()) // 30
    return format_hotp_value(hotp_value(secret, counter))


def fresh_totp_code(secret: str = TEST_TOTP_SECRET, used: set | None = None) -> str:
    """A code not in ``used``: allauth accepts each code once, so a second login within the
    same 30 seconds waits for the next one."""
    code = totp_code(secret)
    while used is not None and code in used:
        time.sleep(30 - time.time() % 30 + 0.2)
        code = totp_code(secret)
    if used is not None:
        used.add(code)
    return code


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium"),
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def _is_csp_violation(text: str) -> bool:
    # Also a Permissions-Policy header the browser cannot read (a misspelt feature).
    return (
        "Content Security Policy" in text
        or text.startswith("Refused to")
        or "Error with Permissions-Policy header" in text
    )


@pytest.fixture
def new_context(new_context):
    """Every browser context of a test (behind ``page`` and ``context``, or a second one
    the test opens with this fixture: use it, not ``browser.new_context()``) listens for
    Content-Security-Policy violations; the test fails at teardown listing them. A
    violation means the policy blocked a script, a style or a frame: the page may look
    right in the test and still be broken, or rely on something unsafe."""
    violations: list[str] = []
    contexts = []

    def on_console(message):
        if _is_csp_violation(message.text):
            where = message.location
            violations.append(f"{where['url']}:{where['lineNumber']}: {message.text}")

    def on_page_error(error):
        if _is_csp_violation(str(error.error)):
            violations.append(str(error.error))

    def watch(**kwargs):
        context = new_context(**kwargs)
        context.on("console", on_console)
        context.on("weberror", on_page_error)
        contexts.append(context)
        return context

    yield watch
    for context in contexts:
        # Events still in flight are delivered while the context closes.
        for page in context.pages:
            page.close()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


@pytest.fixture
def screenshot(page, request):
    """Save a named screenshot of the current page under test-artifacts/<test name>/."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)

    def take(name: str):
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def practice(db):
    return PracticeFactory(name="Lakeside Oral Surgery", slug="lakeside")


@pytest.fixture
def other_practice(db):
    return PracticeFactory(name="Hilltop Oral Surgery", slug="hilltop")


def _member(practice, role, email):
    with scopes_disabled():
        user = UserFactory(email=email)
        MembershipFactory(practice=practice, user=user, role=role)
    return user


@pytest.fixture
def admin_user(practice):
    return _member(practice, Role.ADMIN, "admin@lakeside.test")


@pytest.fixture
def coordinator_user(practice):
    return _member(practice, Role.COORDINATOR, "coordinator@lakeside.test")


@pytest.fixture
def front_desk_user(practice):
    return _member(practice, Role.FRONT_DESK, "desk@lakeside.test")


@pytest.fixture
def clinician_user(practice):
    return _member(practice, Role.CLINICIAN, "surgeon@lakeside.test")


@pytest.fixture
def outsider(other_practice):
    """A member of another practice: must see none of ours (404, not 403)."""
    return _member(other_practice, Role.ADMIN, "admin@hilltop.test")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def in_practice(practice):
    """Run the test body inside our practice's scope, as a view or task would."""
    with practice_scope(practice):
        yield practice


def wait_for_htmx(page) -> None:
    """Until htmx has no request in flight and has settled its last swap. A control that
    was just swapped in is wired up (htmx.process) during the settle: an event fired on it
    earlier (a select changed by the test the moment it appears) would be lost."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


@pytest.fixture
def login(page, live_server):
    """Log ``user`` in through the real login form (and the two-factor step when they have
    an authenticator); returns the page on the home screen."""

    used_codes: dict[int, set] = {}

    def do_login(user, password=PASSWORD):
        from practices.two_factor import has_totp

        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        if has_totp(user):
            # The second step: the code the test user's authenticator app shows now.
            page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
            code = fresh_totp_code(used=used_codes.setdefault(user.pk, set()))
            page.get_by_label("Code").fill(code)
            page.get_by_role("button", name="Verify").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    return do_login


@pytest.fixture
def tasks_inline():
    """Dispatched tasks run in-process: the code a worker runs, without a broker message
    that no worker here would take (the real-worker test is in tests/analytics/
    test_nightly_schedule.py)."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
