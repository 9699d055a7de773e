"""Account events into the audit log: logins, failures, lockouts, password and two-factor
changes. Django's, allauth's and django-axes' signals, in one place.

What is recorded is the person (or, for a failed login, the address that was typed), the
client address and user agent; never a password or a code that was typed.
"""

from __future__ import annotations

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from axes.signals import user_locked_out
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from .audit import record_account_event
from .lockout import typed_email
from .models import AuditAction
from .two_factor import SECOND_FACTORS, has_second_factor, remember_enrolment

_KIND = {
    Authenticator.Type.TOTP: "authenticator app (TOTP)",
    Authenticator.Type.RECOVERY_CODES: "recovery codes",
    Authenticator.Type.WEBAUTHN: "security key or passkey",
}


@receiver(auth_signals.user_logged_in, dispatch_uid="audit_login")
def on_login(sender, request, user, **kwargs):
    if request is None:
        return
    remember_enrolment(request, has_second_factor(user))
    record_account_event(request, AuditAction.LOGIN, user=user)


@receiver(auth_signals.user_logged_out, dispatch_uid="audit_logout")
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        record_account_event(request, AuditAction.LOGOUT, user=user)


@receiver(auth_signals.user_login_failed, dispatch_uid="audit_login_failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    # ``credentials`` comes cleansed by Django (the password masked); only the email is kept.
    record_account_event(
        request, AuditAction.LOGIN_FAILED, email=typed_email(None, credentials) or ""
    )


@receiver(user_locked_out, dispatch_uid="audit_locked_out")
def on_locked_out(sender, request, username, ip_address, **kwargs):
    record_account_event(
        request,
        AuditAction.LOCKED_OUT,
        email=username or "",
        summary=f"Login refused: too many failures (address {ip_address or 'unknown'})",
    )


@receiver(account_signals.password_changed, dispatch_uid="audit_password_changed")
def on_password_changed(sender, request, user, **kwargs):
    record_account_event(request, AuditAction.PASSWORD_CHANGED, user=user)


@receiver(account_signals.password_set, dispatch_uid="audit_password_set")
def on_password_set(sender, request, user, **kwargs):
    record_account_event(request, AuditAction.PASSWORD_CHANGED, user=user, summary="Set")


@receiver(account_signals.password_reset, dispatch_uid="audit_password_reset")
def on_password_reset(sender, request, user, **kwargs):
    record_account_event(
        request, AuditAction.PASSWORD_RESET, user=user, summary="Through the emailed link"
    )


@receiver(mfa_signals.authenticator_added, dispatch_uid="audit_mfa_added")
def on_authenticator_added(sender, request, user, authenticator, **kwargs):
    if authenticator.type in SECOND_FACTORS:
        remember_enrolment(request, True)
        record_account_event(
            request, AuditAction.MFA_ENABLED, user=user, summary=_KIND[authenticator.type]
        )
    elif authenticator.type == Authenticator.Type.RECOVERY_CODES:
        record_account_event(
            request, AuditAction.RECOVERY_CODES, user=user, summary="Recovery codes generated"
        )


@receiver(mfa_signals.authenticator_removed, dispatch_uid="audit_mfa_removed")
def on_authenticator_removed(sender, request, user, authenticator, **kwargs):
    if authenticator.type in SECOND_FACTORS:
        remember_enrolment(request, has_second_factor(user))
    record_account_event(
        request,
        AuditAction.MFA_DISABLED,
        user=user,
        summary=_KIND.get(authenticator.type, authenticator.type),
    )


@receiver(mfa_signals.authenticator_reset, dispatch_uid="audit_mfa_reset")
def on_authenticator_reset(sender, request, user, authenticator, **kwargs):
    record_account_event(
        request, AuditAction.RECOVERY_CODES, user=user, summary="Recovery codes regenerated"
    )


@receiver(mfa_signals.authenticator_used, dispatch_uid="audit_mfa_used")
def on_authenticator_used(sender, request, user, authenticator, **kwargs):
    # A TOTP code or a key at login is part of the login (recorded as such); a recovery code is
    # worth its own entry: one fewer is left, and it may mean a lost phone.
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        record_account_event(
            request, AuditAction.RECOVERY_CODES, user=user, summary="Recovery code used"
        )


@receiver(mfa_signals.authentication_failed, dispatch_uid="audit_mfa_failed")
def on_mfa_failed(sender, request, user, **kwargs):
    record_account_event(request, AuditAction.MFA_FAILED, user=user)
