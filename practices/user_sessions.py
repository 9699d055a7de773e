"""Which sessions a user has open, so that deactivating a member ends them at once.

An index (``UserSession``) written at login, rather than a scan of the session table:
a session's owner is inside its signed, encoded data, so finding one user's sessions by
scanning means reading and decoding every live session of every practice (measured in
``bench/user_sessions.py``: linear in all sessions; the index is one indexed lookup).
The index holds keys only, and each key is deleted through the configured session
engine, so it works for database, cache and cached-database sessions alike.

Sessions opened before the index existed are not in it; they are still refused on their
next request, because ``PracticeMiddleware`` treats an inactive membership as none.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.utils import timezone

from .models import User, UserSession


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


@receiver(user_logged_in, dispatch_uid="practices.user_sessions.index_login")
def index_login(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if key is None or not isinstance(user, User):
        return
    # Rows older than the longest a session can live belong to sessions that are gone
    # (expired without a logout): pruned here, one user at a time, so the index stays small.
    oldest = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    UserSession.objects.filter(user=user, created_at__lt=oldest).delete()
    UserSession.objects.update_or_create(session_key=key, defaults={"user": user})


@receiver(user_logged_out, dispatch_uid="practices.user_sessions.unindex_logout")
def unindex_logout(sender, request, user, **kwargs) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


def end_sessions_of(user: User) -> int:
    """Delete every open session of ``user`` (they are logged out everywhere at their next
    request). Returns how many sessions were indexed."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    store = _session_store()
    for key in keys:
        store(session_key=key).delete()
    UserSession.objects.filter(session_key__in=keys).delete()
    return len(keys)
