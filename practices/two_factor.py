"""Who must have a second factor, and sending them to enrol before anything else.

A practice's policy (``PracticeSettings.two_factor_required_for``) names the roles that
must log in with a TOTP code: its administrators (the default) or all its staff. A
platform operator working inside a practice (support mode) acts as its administrator and
must have one too. Until they enrol, such a person reaches only the enrolment pages (and
logout, static files, the health check and invitation pages).
"""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from .models import Practice, PracticeSettings, Role, TwoFactorPolicy, User

# Set when the session's user is known to have a second factor, so the check costs
# no query on every request (cleared when they remove it).
SESSION_KEY = "two_factor_enrolled"

# Paths a person who must enrol may still open.
ALLOWED_PREFIXES = (
    "/accounts/2fa/",
    "/accounts/reauthenticate/",
    "/accounts/logout/",
    "/logout/",
    "/invitations/",
    "/healthz",
)


def policy_of(practice: Practice) -> str:
    try:
        return practice.settings.two_factor_required_for
    except PracticeSettings.DoesNotExist:
        return PracticeSettings._meta.get_field("two_factor_required_for").default


def two_factor_required(practice: Practice | None, role: str | None, user: User) -> bool:
    """Whether ``user`` working in ``practice`` as ``role`` must use a second factor."""
    if practice is None or role is None:
        return False
    if role == Role.ADMIN:  # both policies include administrators (and support mode)
        return True
    return policy_of(practice) == TwoFactorPolicy.ALL_STAFF


SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_totp(user: User) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def has_second_factor(user: User) -> bool:
    """An authenticator app or a security key / passkey (recovery codes only back them up)."""
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


def remember_enrolment(request: HttpRequest, enrolled: bool) -> None:
    if hasattr(request, "session"):
        request.session[SESSION_KEY] = enrolled


def enrol_totp(user: User, secret: str | None = None) -> tuple[str, list[str]]:
    """Give ``user`` a TOTP authenticator and recovery codes the way allauth does when a
    person enrols; returns the secret and the codes. For seeding demo accounts and for
    tests: a real person enrols on the enrolment page, with their own authenticator app."""
    secret = secret or generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).get_unused_codes()
    return secret, codes


def _allowed(path: str) -> bool:
    static = "/" + settings.STATIC_URL.lstrip("/")
    return path.startswith(ALLOWED_PREFIXES) or path.startswith(static)


class TwoFactorEnrolmentMiddleware:
    """Sends a logged-in person whose practice requires a second factor, and who has none,
    to the enrolment page (an authenticator app; a security key is offered there too).
    Runs after ``PracticeMiddleware`` (it needs the practice and the role)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not _allowed(request.path)
            and not request.session.get(SESSION_KEY)
            and two_factor_required(getattr(request, "practice", None), request.role, user)
        ):
            if has_second_factor(user):
                remember_enrolment(request, True)
            else:
                return self._to_enrolment(request)
        return self.get_response(request)

    @staticmethod
    def _to_enrolment(request: HttpRequest):
        target = reverse("mfa_activate_totp")
        if getattr(request, "htmx", False):
            # A fragment request must not swap the enrolment page into a corner of a page.
            return HttpResponseClientRedirect(target)
        return HttpResponseRedirect(target)
