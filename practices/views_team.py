"""Settings → Team: the practice's members and invitations. Practice administrators only.

One page lists members (role, surgeon, last login, two-factor, locked out) and pending
invitations, with forms to invite, resend, withdraw, change a role, deactivate,
reactivate and unlock, and the idle-logout setting. Every form works as a plain POST that
redirects back to the page; with htmx it swaps the page's body (``#team-body``) in place.
State changes live in ``practices.invitations`` and ``practices.team``.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import invitations, team
from .access import Action
from .audit import AuditAction, record
from .forms_team import InviteForm, MemberRoleForm, SessionSettingsForm
from .models import Invitation, Membership, Role, settings_for
from .permissions import practice_required

team_admin_required = practice_required(Action.MANAGE_TEAM)


def _two_factor_user_ids(user_ids: list[int]) -> set[int] | None:
    """Users with a TOTP authenticator, or None while allauth's MFA app is not installed."""
    if not apps.is_installed("allauth.mfa"):
        return None
    from allauth.mfa.models import Authenticator

    return set(
        Authenticator.objects.filter(
            user_id__in=user_ids, type=Authenticator.Type.TOTP
        ).values_list("user_id", flat=True)
    )


def _lockout():
    """``practices.lockout`` (django-axes behind it), or None where it is not installed."""
    try:
        from . import lockout
    except ImportError:
        return None
    return lockout


def _locked_emails(emails: list[str]) -> set[str] | None:
    """Lower-cased addresses locked out now (``practices.lockout.locked_out``), or None."""
    lockout = _lockout()
    if lockout is None:
        return None
    return set(lockout.locked_out(emails))


def _team_context(request, **extra) -> dict:
    memberships = list(
        Membership.objects.select_related("user").order_by(
            "-is_active", "user__last_name", "user__email"
        )
    )
    users = [m.user for m in memberships]
    two_factor = _two_factor_user_ids([u.pk for u in users])
    locked = _locked_emails([u.email for u in users])
    rows = [
        {
            "membership": m,
            "user": m.user,
            "is_me": m.user_id == request.user.pk,
            "two_factor": None if two_factor is None else m.user_id in two_factor,
            "locked": None if locked is None else m.user.email.lower() in locked,
            "form": MemberRoleForm(
                initial={"role": m.role, "is_surgeon": m.is_surgeon},
                auto_id=f"member-{m.pk}-%s",
            ),
        }
        for m in memberships
    ]
    # Pending and expired ones (an expired link can be resent); used and withdrawn ones are
    # history (the audit log has them).
    open_invitations = Invitation.objects.select_related("invited_by").filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    )
    context = {
        "rows": rows,
        "active_count": sum(1 for m in memberships if m.is_active),
        "invitations": list(open_invitations),
        "now": timezone.now(),
        "invite_form": InviteForm(),
        "session_form": SessionSettingsForm(instance=settings_for(request.practice)),
        "two_factor_known": two_factor is not None,
        "lockout_known": locked is not None,
        "roles": Role.choices,
    }
    context.update(extra)
    return context


def _render_team(request, status: int = 200, **extra):
    context = _team_context(request, **extra)
    if request.htmx:
        # htmx swaps only 2xx answers: a refused form comes back as 200 with its errors.
        response = render(request, "practices/team_body.html", context)
    else:
        response = render(request, "practices/team.html", context, status=status)
    response["Vary"] = "HX-Request"
    return response


def _done(request):
    """After a change: the page again (htmx swaps its body; a plain form is redirected)."""
    if request.htmx:
        return _render_team(request)
    return redirect("team")


@team_admin_required
def team_page(request):
    return _render_team(request)


def _report_sent(request, sent: invitations.Sent, verb: str) -> None:
    if sent.emailed:
        messages.success(request, f"Invitation {verb} to {sent.invitation.email}.")
    else:
        messages.warning(
            request,
            f"The invitation for {sent.invitation.email} was saved, but the email could not "
            "be sent. Try “Resend” in a few minutes.",
        )


@require_POST
@team_admin_required
def invite(request):
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            sent = invitations.invite(
                request.practice,
                form.cleaned_data["email"],
                form.cleaned_data["role"],
                is_surgeon=form.cleaned_data["is_surgeon"],
                by=request.user,
                request=request,
            )
        except invitations.InvitationRefused as exc:
            form.add_error("email", exc)
        else:
            _report_sent(request, sent, "sent")
            return _done(request)
    return _render_team(request, status=400, invite_form=form)


@require_POST
@team_admin_required
def invitation_resend(request, invitation_id: int):
    invitation = get_object_or_404(Invitation.objects.select_related("practice"), pk=invitation_id)
    try:
        sent = invitations.resend(invitation, by=request.user, request=request)
    except invitations.InvitationRefused as exc:
        messages.error(request, exc.messages[0])
    else:
        _report_sent(request, sent, "sent again")
    return _done(request)


@require_POST
@team_admin_required
def invitation_revoke(request, invitation_id: int):
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    if invitations.revoke(invitation, by=request.user, request=request):
        messages.success(
            request, f"The invitation of {invitation.email} is withdrawn; its link no longer works."
        )
    return _done(request)


def _membership(member_id: int) -> Membership:
    # Inside the request's practice scope: another practice's member is a 404.
    return get_object_or_404(Membership.objects.select_related("user"), pk=member_id)


@require_POST
@team_admin_required
def member_role(request, member_id: int):
    membership = _membership(member_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return _done(request)
    try:
        changed = team.change_role(
            membership,
            form.cleaned_data["role"],
            is_surgeon=form.cleaned_data["is_surgeon"],
            by=request.user,
            request=request,
        )
    except team.TeamChangeRefused as exc:
        messages.error(request, exc.messages[0])
    else:
        if changed:
            membership.refresh_from_db()
            messages.success(
                request,
                f"{membership.user.email} is now {membership.get_role_display()}"
                f"{' (surgeon)' if membership.is_surgeon else ''}.",
            )
    return _done(request)


@require_POST
@team_admin_required
def member_deactivate(request, member_id: int):
    membership = _membership(member_id)
    try:
        team.deactivate(membership, by=request.user, request=request)
    except team.TeamChangeRefused as exc:
        messages.error(request, exc.messages[0])
    else:
        if membership.user_id == request.user.pk:
            # Their own sessions were just ended, this one included: end it here too, so
            # the answer does not try to save a session that is gone.
            logout(request)
            if request.htmx:
                response = HttpResponse()
                response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
                return response
            return redirect(settings.LOGIN_URL)
        messages.success(
            request,
            f"{membership.user.email} is deactivated and logged out. Their history stays.",
        )
    return _done(request)


@require_POST
@team_admin_required
def member_reactivate(request, member_id: int):
    membership = _membership(member_id)
    if team.reactivate(membership, by=request.user, request=request):
        messages.success(request, f"{membership.user.email} can work in the practice again.")
    return _done(request)


@require_POST
@team_admin_required
def member_unlock(request, member_id: int):
    membership = _membership(member_id)
    lockout = _lockout()
    if lockout is None:
        messages.error(request, "Account lockout is not set up on this server.")
        return _done(request)
    lockout.unlock(membership.user.email, by=request.user, request=request)
    messages.success(request, f"{membership.user.email} can try to log in again.")
    return _done(request)


@require_POST
@team_admin_required
def session_settings(request):
    form = SessionSettingsForm(request.POST, instance=settings_for(request.practice))
    if not form.is_valid():
        return _render_team(request, status=400, session_form=form)
    before = form.initial.get("idle_logout_minutes")
    with transaction.atomic():
        form.save()
        minutes = form.cleaned_data["idle_logout_minutes"]
        if minutes != before:
            record(
                request,
                AuditAction.CHANGED,
                object_type="practice_settings",
                object_id=request.practice.pk,
                summary=f"Idle logout after {minutes} minutes (was {before})",
            )
    messages.success(request, f"Everyone is now logged out after {minutes} idle minutes.")
    return _done(request)


urlpatterns = [
    path("settings/team/", team_page, name="team"),
    path("settings/team/invite/", invite, name="team_invite"),
    path("settings/team/sessions/", session_settings, name="team_sessions"),
    path(
        "settings/team/invitations/<int:invitation_id>/resend/",
        invitation_resend,
        name="team_invitation_resend",
    ),
    path(
        "settings/team/invitations/<int:invitation_id>/revoke/",
        invitation_revoke,
        name="team_invitation_revoke",
    ),
    path("settings/team/members/<int:member_id>/role/", member_role, name="team_member_role"),
    path(
        "settings/team/members/<int:member_id>/deactivate/",
        member_deactivate,
        name="team_member_deactivate",
    ),
    path(
        "settings/team/members/<int:member_id>/reactivate/",
        member_reactivate,
        name="team_member_reactivate",
    ),
    path(
        "settings/team/members/<int:member_id>/unlock/",
        member_unlock,
        name="team_member_unlock",
    ),
]
