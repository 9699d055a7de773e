"""The invitation link: a public page where an invited person joins the practice.

GET shows who invites whom, to which practice and role (it changes nothing: mail scanners
open links too). POST accepts: a new person sets their name and password and is logged in;
a person who already has an account joins with it and logs in as usual. A link that is
unknown, expired, withdrawn or used shows why, in words (404 or 410).
"""

from allauth.account.internal.flows.login import record_authentication
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from . import invitations
from .forms_team import AcceptInvitationForm
from .middleware import SESSION_KEY


def _login_backend() -> str:
    # The first configured backend that loads users from the database: a lockout backend
    # (django-axes) placed first only refuses logins and could not restore the session.
    for path_ in settings.AUTHENTICATION_BACKENDS:
        if issubclass(import_string(path_), ModelBackend):
            return path_
    return settings.AUTHENTICATION_BACKENDS[0]


def _unusable(request, exc: invitations.InvitationUnusable):
    return render(
        request, "practices/invitation_unusable.html", {"reason": exc.reason}, status=exc.status
    )


@never_cache
@sensitive_post_parameters("password1", "password2")
def accept_invitation(request, token: str):
    try:
        invitation = invitations.find(token)
    except invitations.InvitationUnusable as exc:
        return _unusable(request, exc)
    account = invitations.existing_user(invitation)
    form = AcceptInvitationForm(request.POST or None) if account is None else None
    if request.method == "POST" and (form is None or form.is_valid()):
        data = form.cleaned_data if form is not None else {}
        try:
            user, invitation, created = invitations.accept(
                token,
                password=data.get("password1"),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                request=request,
            )
        except invitations.InvitationUnusable as exc:
            return _unusable(request, exc)
        except ValidationError as exc:
            form.add_error("password1", exc)
        else:
            practice = invitation.practice
            if created:
                login(request, user, backend=_login_backend())
                # She typed her new password a moment ago: a password authentication, as
                # allauth counts them, so the two-factor enrolment the practice may send her
                # to next does not ask for that password again.
                record_authentication(request, user, method="password", email=user.email)
                request.session[SESSION_KEY] = practice.pk
                messages.success(request, f"Welcome to {practice.name}.")
                return redirect("home")
            if request.user.is_authenticated and request.user.pk == user.pk:
                request.session[SESSION_KEY] = practice.pk
                messages.success(request, f"You joined {practice.name}.")
                return redirect("home")
            # An existing account proves itself with its own password (and second factor):
            # the link alone must never log anyone into an account that already exists.
            messages.success(
                request,
                f"You joined {practice.name}. Log in with your usual password to start.",
            )
            return redirect(settings.LOGIN_URL)
    context = {"invitation": invitation, "account": account, "form": form}
    status = 400 if form is not None and form.errors else 200
    return render(request, "practices/invitation_accept.html", context, status=status)


urlpatterns = [
    path("invitations/<str:token>/", accept_invitation, name="accept_invitation"),
]
