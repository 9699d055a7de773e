"""factory-boy factories for tests and benchmarks. Names and numbers are synthetic."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone
from django_scopes import scopes_disabled

from practices.models import Membership, Practice, Role, User
from practices.two_factor import enrol_totp, has_totp, two_factor_required
from referrals.choices import CaseType, MilestoneKind, SourceType, Status
from referrals.models import MilestoneEvent, Patient, Referral, ReferringOffice, ReferringProvider

# Every enrolled test user's authenticator app holds this key; ``tests.conftest.totp_code``
# computes its current code with allauth's own functions.
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


class ModelFactory(factory.django.DjangoModelFactory):
    """Writes its rows cross-tenant: test setup makes rows of any practice, whatever scope
    the test is in (with row-level security a row of another practice would be refused)."""

    class Meta:
        abstract = True

    @classmethod
    def _generate(cls, strategy, params):
        # Around the whole generation: sub-factories and post-generation hooks write too.
        with scopes_disabled():
            return super()._generate(strategy, params)


class PracticeFactory(ModelFactory):
    class Meta:
        model = Practice

    name = factory.Sequence(lambda n: f"Riverside Oral Surgery {n}")
    slug = factory.Sequence(lambda n: f"practice-{n}")
    time_zone = "America/New_York"
    default_case_value = Decimal("1800.00")


class UserFactory(ModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.django.Password("correct-horse-42")

    @factory.post_generation
    def two_factor(self, create, extracted, **kwargs):
        # A platform operator may enter any practice as its administrator: enrolled, like one.
        wanted = extracted or (extracted is None and self.is_superuser)
        if create and wanted and not has_totp(self):
            enrol_totp(self, secret=TEST_TOTP_SECRET)


class MembershipFactory(ModelFactory):
    """A member; one the practice's policy requires to have two-factor gets a TOTP
    authenticator as if they had enrolled (``two_factor=False`` leaves them without)."""

    class Meta:
        model = Membership
        skip_postgeneration_save = True

    practice = factory.SubFactory(PracticeFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ADMIN

    @factory.post_generation
    def two_factor(self, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        wanted = extracted or two_factor_required(self.practice, self.role, self.user)
        if wanted and not has_totp(self.user):
            enrol_totp(self.user, secret=TEST_TOTP_SECRET)


class OfficeFactory(ModelFactory):
    class Meta:
        model = ReferringOffice

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Maple Family Dental {n}")
    zip_code = factory.Sequence(lambda n: f"{10000 + n:05d}")
    phone = factory.Sequence(lambda n: f"555-01{n % 100:02d}")
    email = factory.Sequence(lambda n: f"office{n}@dental.example")


class ProviderFactory(ModelFactory):
    class Meta:
        model = ReferringProvider

    office = factory.SubFactory(OfficeFactory)
    practice = factory.SelfAttribute("office.practice")
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Doe{n}")
    email = factory.Sequence(lambda n: f"dr{n}@dental.example")


class PatientFactory(ModelFactory):
    class Meta:
        model = Patient

    practice = factory.SubFactory(PracticeFactory)
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Synthetic{n}")
    date_of_birth = dt.date(1990, 5, 17)
    chart_number = factory.Sequence(lambda n: f"C{n:06d}")


class ReferralFactory(ModelFactory):
    """A bare referral row (no events); use referrals.services.create_referral for intake."""

    class Meta:
        model = Referral

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.SubFactory(PatientFactory, practice=factory.SelfAttribute("..practice"))
    referring_office = factory.SubFactory(
        OfficeFactory, practice=factory.SelfAttribute("..practice")
    )
    referring_provider = factory.SubFactory(
        ProviderFactory,
        office=factory.SelfAttribute("..referring_office"),
        practice=factory.SelfAttribute("..practice"),
    )
    source_type = SourceType.DOCTOR
    case_type = CaseType.THIRD_MOLARS
    received_on = factory.LazyFunction(timezone.localdate)
    status = Status.RECEIVED
    status_changed_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def with_received_event(obj, create, extracted, **kwargs):
        if create:
            MilestoneEvent.objects.create(
                practice=obj.practice,
                referral=obj,
                kind=MilestoneKind.RECEIVED,
                occurred_at=timezone.now(),
            )
