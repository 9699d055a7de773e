"""Onboard a practice: ``manage.py create_practice "Lakeside Oral Surgery" --slug lakeside
--admin-email office@lakeside.example [--time-zone America/Chicago]``."""

from django.core.management.base import BaseCommand, CommandError

from practices.onboarding import OnboardingError, create_practice


class Command(BaseCommand):
    help = "Create a practice and its first administrator (a new user gets a one-time password)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The practice's name, as its staff and GPs know it.")
        parser.add_argument("--slug", default="", help="Short unique id (default: from the name).")
        parser.add_argument("--admin-email", required=True, help="The first administrator.")
        parser.add_argument(
            "--time-zone",
            default="America/New_York",
            help="IANA zone of the practice's dates and nightly jobs (default America/New_York).",
        )

    def handle(self, *args, name, slug, admin_email, time_zone, **options):
        try:
            practice, member = create_practice(
                name, slug=slug, admin_email=admin_email, time_zone=time_zone
            )
        except OnboardingError as exc:
            raise CommandError(str(exc)) from None
        user = member.membership.user
        self.stdout.write(
            self.style.SUCCESS(f"Created practice {practice.name!r} (slug {practice.slug}).")
        )
        if member.user_created:
            self.stdout.write(f"Created user {user.email} as the practice's administrator.")
            self.stdout.write(f"One-time password: {member.one_time_password}")
            self.stdout.write(
                "It is shown only now: give it to them. At their first login they set up "
                "two-factor (an authenticator app), then change the password at "
                "/account/password/."
            )
        else:
            self.stdout.write(
                f"Existing user {user.email} was added as the practice's administrator "
                "(their password is unchanged)."
            )
