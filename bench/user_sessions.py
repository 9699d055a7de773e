"""Finding one user's open sessions (to end them when they are deactivated): a scan that
decodes every live session, against the login-time index (practices.UserSession).

Creates N live database sessions spread over N/2 users (and the index rows a login would
write), then times both ways of finding the sessions of one user. Deletes what it made.

    bench/run_with_services.sh .venv/bin/python bench/user_sessions.py [--sessions 20000]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from practices.models import User, UserSession  # noqa: E402


def scan(user_id: int) -> list[str]:
    """What deactivation would do without an index: decode every live session."""
    wanted = str(user_id)
    store = SessionStore()
    return [
        s.session_key
        for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=2000)
        if store.decode(s.session_data).get(SESSION_KEY) == wanted
    ]


def indexed(user_id: int) -> list[str]:
    return list(UserSession.objects.filter(user_id=user_id).values_list("session_key", flat=True))


def timed(fn, user_id: int, repeat: int) -> tuple[float, list[str]]:
    runs = []
    found: list[str] = []
    for _ in range(repeat):
        start = time.perf_counter()
        found = fn(user_id)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000, found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    users = User.objects.bulk_create(
        [User(email=f"bench-session-{i}@example.test") for i in range(args.sessions // 2)]
    )
    store = SessionStore()
    expires = timezone.now() + timedelta(days=14)
    sessions, index = [], []
    for i in range(args.sessions):
        user = users[i % len(users)]
        key = f"bench{i:035d}"
        data = store.encode(
            {SESSION_KEY: str(user.pk), "practice_id": 1, "_auth_user_hash": "x" * 64}
        )
        sessions.append(Session(session_key=key, session_data=data, expire_date=expires))
        index.append(UserSession(user=user, session_key=key))
    Session.objects.bulk_create(sessions, batch_size=5000)
    UserSession.objects.bulk_create(index, batch_size=5000)
    try:
        target = users[len(users) // 2].pk
        scan_ms, by_scan = timed(scan, target, args.repeat)
        index_ms, by_index = timed(indexed, target, args.repeat)
        assert sorted(by_scan) == sorted(by_index) and len(by_index) == 2
        print(f"live sessions: {args.sessions:,} ({len(users):,} users)")
        print(f"decode-every-session scan: {scan_ms:8.1f} ms (median of {args.repeat})")
        print(f"login-time index lookup:   {index_ms:8.2f} ms (median of {args.repeat})")
    finally:
        UserSession.objects.filter(session_key__startswith="bench").delete()
        Session.objects.filter(session_key__startswith="bench").delete()
        User.objects.filter(email__startswith="bench-session-").delete()


if __name__ == "__main__":
    main()
