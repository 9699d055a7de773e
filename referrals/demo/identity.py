"""Who the demo practices and their logins are, and whether they exist already."""

from dataclasses import dataclass

from practices.models import Practice, Role, User

from . import names

DEMO_PASSWORD = "demo-pass-2026"  # a demo on localhost: printed, never a real secret
# The demo administrators' authenticator key (the practice requires two-factor of its
# administrators): printed with the logins, to type into an authenticator app. Like the
# password, a demo's on localhost, never a real secret.
DEMO_TOTP_SECRET = "DEMOPRACTICEKEY2DEMOPRACTICEKEY2"
TIME_ZONE = "America/New_York"


@dataclass(frozen=True)
class DemoUser:
    key: str  # how the generator refers to the person (journeys.Staff)
    local_part: str
    role: str
    is_surgeon: bool
    first_name: str
    last_name: str


DEMO_USERS = (
    DemoUser("admin", "admin", Role.ADMIN, False, "Dana", "Whitfield"),
    DemoUser("front_desk", "frontdesk", Role.FRONT_DESK, False, "Lena", "Ortiz"),
    DemoUser("surgeon", "surgeon", Role.CLINICIAN, True, "Elena", "Marsh"),
    DemoUser("surgeon2", "surgeon2", Role.CLINICIAN, True, "Marcus", "Hale"),
    DemoUser("coordinator", "coordinator", Role.COORDINATOR, False, "Priya", "Shah"),
)
SURGEON_KEYS = tuple(u.key for u in DEMO_USERS if u.is_surgeon)


def demo_slug(number: int) -> str:
    """demo, demo-2, demo-3..."""
    return "demo" if number == 1 else f"demo-{number}"


def demo_name(number: int) -> str:
    towns = [town for town, _zip in names.TOWNS]
    town = towns[(number - 1) % len(towns)]
    suffix = "" if number <= len(towns) else f" {(number - 1) // len(towns) + 1}"
    return f"{town}{suffix} Oral & Maxillofacial Surgery"


def demo_email(user: DemoUser, slug: str) -> str:
    return f"{user.local_part}@{slug}.example"


def is_demo_email(email: str) -> bool:
    """Whether ``email`` is one of the demo logins (of any number of demo practices)."""
    local, _, domain = email.partition("@")
    slug = domain.removesuffix(".example")
    return (
        domain.endswith(".example")
        and (slug == "demo" or (slug.startswith("demo-") and slug[5:].isdigit()))
        and local in {u.local_part for u in DEMO_USERS}
    )


def existing_demo(practices: int) -> tuple[list[str], list[str]]:
    """The demo slugs and login e-mails of ``practices`` demo practices that already exist."""
    slugs = [demo_slug(k) for k in range(1, practices + 1)]
    emails = [demo_email(u, slug) for slug in slugs for u in DEMO_USERS]
    found_slugs = sorted(Practice.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    found_emails = sorted(User.objects.filter(email__in=emails).values_list("email", flat=True))
    return found_slugs, found_emails
