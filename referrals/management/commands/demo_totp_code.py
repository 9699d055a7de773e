"""manage.py demo_totp_code [EMAIL]: the current two-factor code of a demo login.

For trying the demo without an authenticator app. Only demo logins (the synthetic
``@demo….example`` accounts that ``seed_demo`` makes): a real person's code comes from
their own app, never from the server.
"""

import time

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management.base import BaseCommand, CommandError

from referrals.demo import demo_two_factor
from referrals.demo.identity import is_demo_email

TOTP_PERIOD = 30


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo login (demo accounts only)."

    def add_arguments(self, parser):
        parser.add_argument("email", nargs="?", default="admin@demo.example")

    def handle(self, *args, email: str, **options):
        email = email.strip().lower()
        if not is_demo_email(email):
            raise CommandError(f"{email} is not a demo login: only demo accounts have this.")
        factor = demo_two_factor([email]).get(email)
        if factor is None:
            raise CommandError(f"{email} has no two-factor (is the demo seeded?).")
        now = time.time()
        code = format_hotp_value(hotp_value(factor.secret, int(now) // TOTP_PERIOD))
        left = TOTP_PERIOD - int(now) % TOTP_PERIOD
        self.stdout.write(f"{code}  (valid for {left} more seconds)")
