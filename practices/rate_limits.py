"""Rate limits of the doors a stranger can knock on, read from ``settings.RATE_LIMITS``.

Three counters do the counting, each where it belongs: allauth counts its own account
pages (login, password reset), DRF throttles the API per key
(``referrals.api.throttling``), and django-ratelimit counts the public pages of our own
(the referral form, the GP status page) through ``hit`` below. All of them keep their
counts in the Django cache (Redis in production) and all of them answer 429 with a
``Retry-After`` header: the pages through ``too_many_requests`` and the ``429.html``
template, the API as JSON.

A rate is ``"COUNT/PERIOD"``, PERIOD being ``s``, ``m``, ``h`` or ``d`` with an optional
number (``"5/10m"``): the notation django-ratelimit and allauth read, which DRF is taught
in its throttle.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from .audit import client_address

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(rate: str) -> Rate:
    match = _RATE.match(rate)
    if not match:
        raise ValueError(f"A rate is COUNT/PERIOD, e.g. 5/10m or 600/m, not {rate!r}")
    count, multiplier, unit = match.groups()
    return Rate(int(count), int(multiplier or 1) * _SECONDS[unit])


def rate_for(name: str) -> Rate | None:
    """The configured rate called ``name``, or None when that limit is switched off."""
    rate = settings.RATE_LIMITS.get(name)
    return parse_rate(rate) if rate else None


def duration_text(seconds: int) -> str:
    """'40 seconds', '3 minutes', '2 hours': a wait as a person reads it (rounded up)."""
    if seconds >= 3600:
        amount, unit = math.ceil(seconds / 3600), "hour"
    elif seconds >= 60:
        amount, unit = math.ceil(seconds / 60), "minute"
    else:
        amount, unit = max(seconds, 1), "second"
    return f"{amount} {unit}" if amount == 1 else f"{amount} {unit}s"


def client_key(request: HttpRequest) -> str:
    # The address the audit log and the lockout see (RATELIMIT_IP_META_KEY behind a proxy,
    # its first entry when the header lists several). An IPv6 client is counted by its /64:
    # one machine commonly holds a whole /64.
    address = client_address(request)
    if address and ":" in address:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return address or "unknown"


def hit(request: HttpRequest, name: str) -> int | None:
    """Count this request against the limit ``name`` of its client address, and return
    the seconds to wait when it is over, else None.

    django-ratelimit counts in fixed windows with one atomic INCR, so concurrent requests
    of many processes cannot slip through between a read and a write. If the cache cannot
    be reached the request goes through: a limit exists to protect the service, and
    refusing every GP office while Redis restarts would do the attacker's work.
    """
    rate = settings.RATE_LIMITS.get(name)
    if not rate:
        return None
    try:
        usage = get_usage(
            request, group=name, key=lambda _group, req: client_key(req), rate=rate, increment=True
        )
    except (RedisError, OSError) as exc:
        logger.warning(
            "rate limit %s not checked: cache unavailable (%s)", name, type(exc).__name__
        )
        return None
    if usage is None or not usage["should_limit"]:
        return None
    # time_left is -1 when the cache refused to count: the whole window is the safe answer.
    if usage["time_left"] < 0:
        return parse_rate(rate).seconds
    return max(usage["time_left"], 1)


def too_many_requests(
    request: HttpRequest,
    *,
    retry_after: int,
    template: str = "429.html",
    context: dict | None = None,
) -> HttpResponse:
    """The 429 page: what happened, how long to wait, and a Retry-After header that says
    the same to a program."""
    retry_after = max(int(math.ceil(retry_after)), 1)
    response = render(
        request,
        template,
        {
            "retry_after": retry_after,
            "wait": duration_text(retry_after),
            **(context or {}),
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


# allauth's pages by URL name -> allauth's action counted there.
_ALLAUTH_ACTIONS = {
    "login": "login",
    "account_login": "login",
    "account_reset_password": "reset_password",
    "account_reset_password_from_key": "reset_password_from_key",
    "account_reauthenticate": "reauthenticate",
    "account_change_password": "change_password",
    "password_change": "change_password",
}
_ALLAUTH_REASONS = {
    "login": "There were too many login attempts from your network in a short time.",
    "reset_password": "There were too many password-reset requests in a short time.",
    "reset_password_from_key": (
        "This password-reset page was opened too many times from your network in a short time."
    ),
}


def handler429(request: HttpRequest) -> HttpResponse:
    """allauth's answer when one of its limits is hit (allauth finds it as
    ``config.urls.handler429``): our 429 page, with the Retry-After allauth leaves out.

    allauth counts in a sliding window of timestamps, so after the whole window of the
    action's longest rate a new attempt is surely let through: that is the wait given.
    """
    from allauth.account import app_settings as account_settings

    url_name = getattr(getattr(request, "resolver_match", None), "url_name", None)
    configured = account_settings.RATE_LIMITS
    action = _ALLAUTH_ACTIONS.get(url_name)
    texts = [configured.get(action)] if action else list(configured.values())
    rates = [
        parse_rate("/".join(part.strip().split("/")[:2]))
        for text in texts
        if text
        for part in text.split(",")
    ]
    return too_many_requests(
        request,
        retry_after=max((rate.seconds for rate in rates), default=60),
        context={"reason": _ALLAUTH_REASONS.get(action)},
    )
