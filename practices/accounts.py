"""How django-allauth behaves here: no self sign-up, our login form, where pages go next.

People join a practice by an administrator's invitation (the address is the admin's word,
so it is not verified again); nobody creates an account from the login page.
"""

from __future__ import annotations

import time

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context
from allauth.mfa.models import Authenticator
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse

from .lockout import lockout_message


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # allauth's counter of failed logins counts only wrong second-factor codes here
        # (RATE_LIMITS["two_factor"]), so say so.
        "too_many_login_attempts": "Too many wrong codes for this account. Wait a few "
        "minutes, then try again.",
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials) -> None:
        """Wrong passwords are counted by django-axes (per account and per address, one
        message: practices/lockout.py), not a second time by allauth, whose
        "login_failed" limit is left to the second step: wrong two-factor codes, which
        axes never sees (RATE_LIMITS["two_factor"])."""

    def get_password_change_redirect_url(self, request: HttpRequest) -> str:
        return reverse("home")

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """allauth asks for the password again before any two-factor change. Not while
        someone who typed their password moments ago sets up their first authenticator
        (and reads its recovery codes): that is the enrolment a practice sends them to
        straight after logging in."""
        required = super().is_reauthentication_required(app=app, **kwargs)
        request = context.request
        if not required or app != "allauth.mfa" or request is None:
            return required
        user = request.user
        if not user.is_authenticated:
            return required
        logins = [r for r in get_authentication_records(request, user) if r["method"] == "password"]
        if (
            not logins
            or time.time() - logins[-1]["at"] >= account_settings.REAUTHENTICATION_TIMEOUT
        ):
            return required
        first_factor = (
            Authenticator.objects.filter(user=user)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        return first_factor is not None and first_factor.timestamp() < logins[-1]["at"]


class LoginForm(AllauthLoginForm):
    """allauth's form, with our labels and the lockout said in words.

    When django-axes refuses the attempt (the account or the address is locked), allauth
    only knows that authentication failed; the person must learn why and for how long.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Email"
        self.fields["login"].widget.attrs.update({"autofocus": True, "autocomplete": "email"})
        self.fields["login"].widget.attrs.pop("placeholder", None)
        self.fields["password"].widget.attrs.pop("placeholder", None)

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "axes_locked_out", False):
                raise ValidationError(
                    lockout_message(self.request, self.cleaned_data.get("login", "")),
                    code="locked_out",
                ) from None
            raise
