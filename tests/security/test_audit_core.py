"""The audit log's core: one INSERT per record, account events per practice, append-only."""

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test import RequestFactory
from django_scopes import scopes_disabled

from practices.audit import record, record_account_event
from practices.models import AuditAction, AuditEntry
from tests.factories import PatientFactory


@pytest.fixture
def request_of(admin_user, practice):
    def build(path="/cases/1/"):
        request = RequestFactory().get(path, HTTP_USER_AGENT="Mozilla/5.0 test")
        request.user = admin_user
        request.practice = practice
        return request

    return build


def test_record_writes_who_what_when_where(in_practice, request_of, django_assert_num_queries):
    patient = PatientFactory(practice=in_practice)
    with django_assert_num_queries(1):
        record(request_of(), AuditAction.VIEWED, obj=patient)
    entry = AuditEntry.objects.get()
    assert entry.practice_id == in_practice.pk
    assert entry.actor_label == "admin@lakeside.test"
    assert entry.action == AuditAction.VIEWED
    assert (entry.object_type, entry.object_id, entry.patient_id) == (
        "patient",
        str(patient.pk),
        patient.pk,
    )
    assert entry.ip_address == "127.0.0.1"
    assert entry.user_agent == "Mozilla/5.0 test"
    assert entry.path == "/cases/1/"


def test_failed_login_of_a_member_lands_in_each_of_their_practices(
    admin_user, practice, request_of
):
    record_account_event(
        request_of("/login/"), AuditAction.LOGIN_FAILED, email="ADMIN@lakeside.test"
    )
    record_account_event(request_of("/login/"), AuditAction.LOGIN_FAILED, email="nobody@x.test")
    with scopes_disabled():
        rows = list(AuditEntry.objects.order_by("id").values_list("practice_id", "actor_label"))
    assert rows == [(practice.pk, "admin@lakeside.test"), (None, "nobody@x.test")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize("statement", ["UPDATE {t} SET action = 'deleted'", "DELETE FROM {t}"])
def test_the_log_refuses_update_and_delete(in_practice, request_of, statement):
    record(request_of(), AuditAction.VIEWED, object_type="report")
    table = AuditEntry._meta.db_table
    with (
        pytest.raises(ProgrammingError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement.format(t=table))
    assert AuditEntry.objects.get().action == AuditAction.VIEWED


@pytest.mark.parametrize(
    ("header", "stored"),
    [("203.0.113.7, 10.0.0.1", "203.0.113.7"), ("unknown", None), ("<script>", None)],
)
def test_a_forged_proxy_header_never_breaks_the_insert(
    in_practice, request_of, settings, header, stored
):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    request = request_of()
    request.META["HTTP_X_FORWARDED_FOR"] = header
    record(request, AuditAction.VIEWED, object_type="report")
    assert AuditEntry.objects.get().ip_address == stored
