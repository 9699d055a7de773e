"""Lockout after repeated failed logins (django-axes), and its unlock.

Axes counts failed logins in its database table by account (the typed email) and by
client address. Axes has one limit for all its parameters; here an account is locked
after ``LOGIN_FAILURES_PER_ACCOUNT`` failures (guessing one person's password) and an
address after ``LOGIN_FAILURES_PER_ADDRESS`` (one machine trying many accounts), each for
``LOGIN_LOCKOUT_MINUTES`` after the last failure. An administrator may unlock earlier::

    locked_out(["a@x.test", "b@x.test"])     # -> {"b@x.test"}
    unlock("b@x.test", by=request.user, request=request)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .audit import client_address, record_account_event
from .models import AuditAction, User

__all__ = ["locked_out", "unlock", "lockout_message", "LockoutHandler"]


def _normalise(email: str | None) -> str | None:
    email = (email or "").strip().lower()
    return email or None


def typed_email(request: HttpRequest | None, credentials: dict | None = None) -> str | None:
    """The account axes counts against: the typed email, lower-cased.

    allauth authenticates with ``email=``, Django's own forms with ``username=``, and the
    login form posts ``login``: all name the same account.
    """
    if credentials:
        for key in ("email", "username", "login"):
            if credentials.get(key):
                return _normalise(credentials[key])
    if request is not None:
        data = getattr(request, "POST", {})
        for key in ("login", "email", "username"):
            if data.get(key):
                return _normalise(data[key])
    return None


def client_ip(request: HttpRequest) -> str | None:
    # The same address the audit log records (RATELIMIT_IP_META_KEY behind a proxy).
    return client_address(request)


def _cool_off() -> timedelta:
    return settings.AXES_COOLOFF_TIME


def _minutes() -> int:
    return int(_cool_off().total_seconds() // 60)


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit per account and another, higher, per address.

    ``get_failures`` is compared with ``AXES_FAILURE_LIMIT`` (the per-account limit): an
    address over its own limit counts as having reached it.
    """

    def get_failures(self, request, credentials=None) -> int:
        by_account, by_address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if by_address >= settings.LOGIN_FAILURES_PER_ADDRESS:
            return max(by_account, settings.AXES_FAILURE_LIMIT)
        return by_account


def _recent_failures(**filters) -> dict:
    since = timezone.now() - _cool_off()
    return (
        AccessAttempt.objects.filter(attempt_time__gte=since, **filters)
        .values("username")
        .annotate(n=Sum("failures_since_start"))
    )


def locked_out(emails: Iterable[str]) -> set[str]:
    """Which of ``emails`` are locked out now (by their own failed logins), lower-cased."""
    wanted = {e for e in (_normalise(email) for email in emails) if e}
    if not wanted:
        return set()
    return {
        row["username"]
        for row in _recent_failures(username__in=wanted)
        if row["n"] >= settings.LOGIN_FAILURES_PER_ACCOUNT
    }


def address_locked_out(address: str | None) -> bool:
    if not address:
        return False
    since = timezone.now() - _cool_off()
    total = AccessAttempt.objects.filter(attempt_time__gte=since, ip_address=address).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    return (total or 0) >= settings.LOGIN_FAILURES_PER_ADDRESS


def lockout_message(request: HttpRequest | None, email: str | None) -> str:
    minutes = _minutes()
    email = _normalise(email)
    account_locked = bool(email) and email in locked_out([email])
    if not account_locked and request is not None and address_locked_out(client_address(request)):
        return f"Too many failed logins from your network address. Try again in {minutes} minutes."
    return (
        f"Too many failed logins for this account. Try again in {minutes} minutes "
        "or ask your practice administrator to unlock it."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """What axes answers when it has refused a login: the page the person was on.

    Our login form has already replaced allauth's "wrong password" with the lockout
    message (``practices.accounts.LoginForm``); the status says the same to programs.
    """
    if original_response is None:
        return HttpResponse(lockout_message(request, typed_email(request, credentials)), status=429)
    original_response.status_code = 429
    return original_response


def unlock(email: str, *, by: User | None, request: HttpRequest | None) -> int:
    """Forget the account's failed logins (it may log in again at once) and record who
    unlocked it. Returns how many axes records were removed."""
    email = _normalise(email) or ""
    removed = AxesProxyHandler.reset_attempts(username=email)
    summary = f"Unlocked by {by.email}" if by is not None else "Unlocked"
    record_account_event(request, AuditAction.UNLOCKED, email=email, summary=summary)
    return removed
