"""One object of every kind a route can take, for our practice and for another one.

The route matrix (tests/security/test_route_matrix.py) builds this once per module and
requests every URL with one practice's objects. Every name in a practice carries its
``tag`` ("Lakeside", "Hilltop"), and ``Objects.identifying`` lists those strings, so "their
data is not in the body" is a substring check. Money figures are odd on purpose (98,765.43 of
production, 55,555 of revenue at risk, 77,777 of production in the last 12 months,
1,234,567 of case value) so a page that shows money to the wrong role is caught by
looking for them.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.choices import AlertKind
from alerts.models import Alert
from alerts.services import raise_alert
from analytics.choices import OutreachKind, ReferrerStatus
from analytics.models import ReferrerSnapshot
from analytics.outreach import log_outreach
from communications.models import Letter, LetterStatus
from communications.status_links import create_status_link
from portability.models import ExportJob, ExportStatus
from practices.api_keys import create_api_key
from practices.invitations import invite
from practices.models import ApiKey, Invitation, Membership, Practice, Role, User
from practices.scoping import practice_scope
from referrals.choices import CaseType, LetterChannel, SourceType
from referrals.choices import MilestoneKind as K
from referrals.importing.jobs import create_job
from referrals.importing.mapping import Mapping
from referrals.importing.presets import save_preset
from referrals.models import (
    Attachment,
    ImportJob,
    ImportPreset,
    MilestoneEvent,
    OfficeEvent,
    OnlineReferral,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)
from referrals.services import ReferralInput, create_referral, record_milestone

from ..factories import MembershipFactory, OfficeFactory, PatientFactory, UserFactory
from ..online_referral_helpers import image_bytes, make_submission, upload

MONEY_MARKERS = ("98,765", "98765", "55,555", "55555", "77,777", "77777", "1,234,567", "1234567")
STAFF_ROLES = (Role.ADMIN, Role.COORDINATOR, Role.CLINICIAN, Role.FRONT_DESK)


@dataclass
class Objects:
    """A practice and one of everything in it."""

    tag: str
    practice: Practice
    members: dict[str, User]  # role -> user
    support: User  # is_staff, works in this practice (the Django admin)
    office: ReferringOffice
    other_office: ReferringOffice  # for merging
    provider: ReferringProvider
    patient: Patient
    referral: Referral  # walked to surgery completed, with production
    booked: Referral  # consult scheduled only: anyone may reschedule or undo it
    event: MilestoneEvent
    office_event: OfficeEvent
    online: OnlineReferral
    attachment: Attachment
    letter: Letter  # in the print queue
    alert: Alert
    outreach: object
    import_job: ImportJob
    wizard_job: ImportJob  # an upload at its mapping step (the wizard's pages)
    preset: ImportPreset
    api_key: ApiKey
    raw_api_key: str
    status_token: str
    status_link: object
    membership: Membership
    invitation: Invitation
    export_job: ExportJob  # a finished export of all data, still downloadable
    identifying: list[str] = field(default_factory=list)
    twin: Patient | None = None  # a second patient (the "not duplicates" pair)


def _at(days_ago: int, hour: int = 10) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _walk_to_surgery(referral: Referral, surgeon: User) -> MilestoneEvent:
    record_milestone(referral, K.CONSULT_SCHEDULED, occurred_at=_at(6), scheduled_for=_at(5))
    record_milestone(
        referral,
        K.CONSULT_COMPLETED,
        occurred_at=_at(5),
        findings="Impacted lower third molars.",
        recommendation="Extraction under IV sedation.",
        recorded_by=surgeon,
    )
    record_milestone(referral, K.TREATMENT_ACCEPTED, occurred_at=_at(5, 11))
    record_milestone(
        referral,
        K.SURGERY_SCHEDULED,
        occurred_at=_at(4),
        scheduled_for=_at(1),
        procedure="Extraction of #17 and #32",
    )
    return record_milestone(
        referral,
        K.SURGERY_COMPLETED,
        occurred_at=_at(1, 11),
        procedure="Extraction of #17 and #32",
        production=Decimal("98765.43"),
        recorded_by=surgeon,
    )


def build_practice(tag: str, slug: str) -> Objects:
    """A practice named after ``tag`` with one of every object (run with DB access)."""
    with scopes_disabled():
        practice = Practice.objects.create(
            name=f"{tag} Oral Surgery",
            slug=slug,
            time_zone="America/New_York",
            default_case_value=Decimal("1234567.00"),
        )
        members = {}
        for role in STAFF_ROLES:
            user = UserFactory(email=f"{role}@{slug}.test", first_name=tag, last_name=role)
            MembershipFactory(practice=practice, user=user, role=role)
            members[role] = user
        support = UserFactory(email=f"support@{slug}.test", is_staff=True)
        MembershipFactory(practice=practice, user=support, role=Role.ADMIN)
        support.user_permissions.set(
            Permission.objects.filter(content_type__app_label__in=["practices", "referrals"])
        )
    with practice_scope(practice):
        office = OfficeFactory(
            practice=practice,
            name=f"{tag} Family Dental",
            preferred_channel=LetterChannel.MAIL,
            address=f"1 {tag} Road",
            city="Springfield",
            state="IL",
        )
        other_office = OfficeFactory(practice=practice, name=f"{tag} Smiles Dental")
        provider = office.providers.create(
            practice=practice, first_name="Evelyn", last_name=f"{tag}doc"
        )
        patient = PatientFactory(practice=practice, first_name="Jordan", last_name=f"{tag}patient")
        twin = PatientFactory(practice=practice, first_name="Morgan", last_name=f"{tag}twin")

        def new_referral(received_days_ago: int) -> Referral:
            return create_referral(
                practice,
                ReferralInput(
                    patient=patient,
                    source_type=SourceType.DOCTOR,
                    case_type=CaseType.THIRD_MOLARS,
                    received_on=timezone.localdate() - dt.timedelta(days=received_days_ago),
                    referring_office=office,
                    referring_provider=provider,
                    reason=f"{tag} reason for referral",
                ),
            )

        referral = new_referral(7)
        event = _walk_to_surgery(referral, members[Role.CLINICIAN])
        booked = new_referral(3)
        record_milestone(booked, K.CONSULT_SCHEDULED, occurred_at=_at(2), scheduled_for=_at(-3))
        letter = Letter.objects.filter(referral=booked, status=LetterStatus.PRINT_QUEUED).get()
        office_event = office.history.first()

        online = make_submission(
            practice,
            files=[upload(f"{tag}-pano.png", image_bytes())],
            patient_last_name=f"{tag}online",
            office_name=f"{tag} Online Dental",
        )
        attachment = online.attachments.get()

        alert = raise_alert(
            practice,
            kind=AlertKind.DECLINING,
            office_id=office.pk,
            opened_on=timezone.localdate(),
            title=f"{tag} Family Dental is declining",
        )
        outreach = log_outreach(
            office,
            kind=OutreachKind.CALL,
            occurred_on=timezone.localdate(),
            by=members[Role.COORDINATOR],
            notes=f"{tag} outreach note",
        )
        ReferrerSnapshot.objects.create(
            practice=practice,
            office=office,
            as_of=timezone.localdate(),
            status=ReferrerStatus.DECLINING,
            count_90=2,
            monthly_counts=[3] * 25,
            baseline_rate=8.0,
            recent_rate=2.0,
            drop_months=2,
            revenue_at_risk=Decimal("55555.00"),
            production_12=Decimal("77777.00"),
            priority=9.0,
            reason=f"{tag} dropped from 8 a month to 2",
        )
        import_job = ImportJob.objects.create(
            practice=practice,
            original_name=f"{tag}-history.csv",
            uploaded_by=members[Role.ADMIN],
            total_rows=1,
            errors=[{"line": 2, "column": "patient", "message": f"{tag} row problem"}],
        )
        import_job.file.save(f"{slug}.csv", ContentFile(b"patient\nx\n"), save=True)
        export_job = ExportJob.objects.create(
            practice=practice,
            requested_by=members[Role.ADMIN],
            status=ExportStatus.DONE,
            counts={"patients": 1},
            finished_at=timezone.now(),
            expires_at=timezone.now() + dt.timedelta(hours=24),
        )
        export_job.file.save(f"{slug}.zip", ContentFile(f"{tag} export".encode()), save=True)
        # A PMS export of its own headers, waiting in the wizard (at its mapping step).
        export = ContentFile(
            "Pt Last,Pt First,Chart #,Birthdate,Ref Date,Referred By\n"
            f"{tag}patient,Ann,{tag}-C1,03/04/1980,01/02/2024,"
            f'"Dr. {tag}doc Smith, {tag} Family Dental"\n'.encode(),
            name=f"{tag}-history.csv",
        )
        wizard_job = create_job(practice, export, user=members[Role.ADMIN], mapping_step=True)
        preset = save_preset(
            practice,
            f"{tag} monthly",
            ["Pt Last", "Pt First"],
            Mapping(columns={"Pt Last": "patient_last_name", "Pt First": "patient_first_name"}),
            members[Role.ADMIN],
        )
        created = create_api_key(practice, f"{tag} PMS", created_by=members[Role.ADMIN])
        status_link, status_token = create_status_link(office, by=members[Role.FRONT_DESK])
        membership = Membership.objects.get(user=members[Role.FRONT_DESK])
        invitation = invite(
            practice, f"invitee@{slug}.test", Role.CLINICIAN, by=members[Role.ADMIN]
        ).invitation

    return Objects(
        tag=tag,
        practice=practice,
        members=members,
        support=support,
        office=office,
        other_office=other_office,
        provider=provider,
        patient=patient,
        referral=referral,
        booked=booked,
        event=event,
        office_event=office_event,
        online=online,
        attachment=attachment,
        letter=letter,
        alert=alert,
        outreach=outreach,
        import_job=import_job,
        wizard_job=wizard_job,
        preset=preset,
        api_key=created.api_key,
        raw_api_key=created.raw_key,
        status_token=status_token,
        status_link=status_link,
        membership=membership,
        invitation=invitation,
        export_job=export_job,
        twin=twin,
        # Strings only this practice's data contains (a page of the other practice must
        # show none of them). The tag alone would also match an email domain in a header.
        identifying=[
            f"{tag} Oral Surgery",
            f"{tag} Family Dental",
            f"{tag}patient",
            f"{tag}doc",
            f"{tag}online",
            f"{tag}-history.csv",
            f"{tag} outreach note",
            f"{tag} reason for referral",
            f"@{slug}.test",
        ],
    )
