"""Offices of an imported file matched to the practice's offices, not multiplied: PMS id,
the doctor's NPI, normalised name and ZIP; similar offices listed and merged only when the
admin confirms (referrals/importing/offices.py and matching.py)."""

import dataclasses
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from referrals.importing.mapping import apply, suggest
from referrals.importing.matching import Matcher, Row
from referrals.importing.offices import file_key, normalise_name, office_candidates
from referrals.importing.parsing import ParsedRow, RowParser
from referrals.importing.pipeline import import_file
from referrals.importing.reading import RawRow
from referrals.importing.sources import inspect
from referrals.importing.vocabulary import COLUMNS
from referrals.importing.writing import BatchWriter
from referrals.models import Referral, ReferringOffice, ReferringProvider

from .factories import OfficeFactory, ProviderFactory

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=ZoneInfo("America/New_York"))

BASE = {
    "chart_number": "C100",
    "patient_first_name": "Ann",
    "patient_last_name": "Lee",
    "patient_dob": "1990-01-02",
    "referral_date": "2023-01-05",
    "source_type": "doctor",
    "referring_office": "Smile Dental Care",
    "referring_provider": "Dr. Jane Smith",
    "office_zip": "12345",
    "case_type": "third_molars",
}


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def values(**kw) -> dict[str, str]:
    return {c: "" for c in COLUMNS} | BASE | kw


def parsed(line: int, npi: str = "", external_id: str = "", **kw) -> ParsedRow:
    row, errors = RowParser(dt.date(2024, 6, 1)).parse(RawRow(line, values(**kw), len(COLUMNS)))
    assert not errors, errors
    return dataclasses.replace(row, provider_npi=npi, office_external_id=external_id)


def import_rows(practice, rows: list[ParsedRow], confirmed=None, batch_size=100) -> Matcher:
    matcher = Matcher(confirmed_offices=confirmed)
    writer = BatchWriter(practice, matcher)
    with transaction.atomic():
        for start in range(0, len(rows), batch_size):
            batch = [Row(p.line, p, []) for p in rows[start : start + batch_size]]
            matcher.resolve(batch)
            assert all(r.ok for r in batch), [r.errors for r in batch]
            writer.write(batch)
        writer.finish()
    return matcher


def raw(line: int, npi: str = "", external_id: str = "", **kw) -> RawRow:
    v = values(**kw) | {"provider_npi": npi, "office_external_id": external_id}
    return RawRow(line, v, len(v))


# --- the normalised name ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Smile Dental Care, LLC", "smile dental care"),
        ("Smile Dental Care", "smile dental care"),
        ("  SMILE   dental care.  ", "smile dental care"),
        ("Smith & Jones Dentistry", "smith and jones dentistry"),
        ("Smith and Jones Dentistry", "smith and jones dentistry"),
        ("The Smile Center", "smile center"),
        ("Lakeview Dental, P.C.", "lakeview dental"),
        ("Lakeview Dental PLLC", "lakeview dental"),
        ("Lakeview Dental, Inc.", "lakeview dental"),
        ("Lakeview Dental Co", "lakeview dental"),
        ("Lakeview Dental Ltd", "lakeview dental"),
        ("Lakeview Dental, P.A.", "lakeview dental"),
        ("Jane Roe DDS, PC", "jane roe"),
        ("Jane Roe, D.M.D.", "jane roe"),
        ("Dr. O'Brien's Dental", "dr obriens dental"),
        ("Clínica Dental Peña", "clinica dental pena"),
        # Kept: these words may tell two practices apart.
        ("Smile Dental Group", "smile dental group"),
        ("Inc", "inc"),
    ],
)
def test_normalise_name(name, expected):
    assert normalise_name(name) == expected


def test_file_key_prefers_the_pms_id_then_the_npi_then_name_and_zip():
    assert file_key("Smile", "12345", "1234567893", "OD-7") == "ext:OD-7"
    assert file_key("Smile", "12345", "1234567893", "") == "npi:1234567893"
    assert file_key("Smile Dental, LLC", "12345-6789", "", "") == "name:smile dental|12345"
    assert file_key("The Smile Dental", " 12345 ", "", "") == file_key(
        "Smile Dental", "12345", "", ""
    )


# --- candidates for the wizard --------------------------------------------------------------


def test_office_candidates_list_each_office_once_with_its_best_match(
    in_practice, django_assert_num_queries
):
    by_id = OfficeFactory(practice=in_practice, name="Lakeview", zip_code="11111", external_id="7")
    by_npi = OfficeFactory(practice=in_practice, name="Harbor Dental", zip_code="22222")
    ProviderFactory(practice=in_practice, office=by_npi, npi="1234567893")
    by_name = OfficeFactory(practice=in_practice, name="Smile Dental Care", zip_code="12345")
    elsewhere = OfficeFactory(practice=in_practice, name="Oak Family Dental", zip_code="33333")
    close = OfficeFactory(practice=in_practice, name="Maplewood Dental Arts", zip_code="44444")
    rows = [
        raw(2, external_id="7", referring_office="Lakeview Dentistry"),
        raw(3, npi="1234567893", referring_office="Harbour Dental Studio"),
        raw(4, referring_office="Smile Dental Care, LLC", office_zip="12345"),
        raw(5, referring_office="Smile Dental Care LLC", office_zip="12345"),
        raw(6, referring_office="Oak Family Dental", office_zip="55555"),
        raw(7, referring_office="Maplewood Dental Art", office_zip="44444"),
        raw(8, referring_office="Brand New Dental", office_zip="12345"),
        raw(9, referring_office="", referring_provider="", office_zip="", source_type="self"),
    ]
    # One query for offices, one for doctors: never one per row.
    with django_assert_num_queries(2):
        candidates = office_candidates(rows)
    found = {c.name: c for c in candidates}
    assert len(candidates) == 6
    assert (found["Lakeview Dentistry"].how, found["Lakeview Dentistry"].match_id) == (
        "external_id",
        by_id.pk,
    )
    assert (found["Harbour Dental Studio"].how, found["Harbour Dental Studio"].match_id) == (
        "npi",
        by_npi.pk,
    )
    smile = found["Smile Dental Care, LLC"]
    assert (smile.how, smile.match_id, smile.rows, smile.certain) == (
        "name_zip",
        by_name.pk,
        2,
        True,
    )
    assert smile.key == "name:smile dental care|12345"
    oak = found["Oak Family Dental"]
    assert (oak.how, oak.match_id, oak.match_name, oak.certain) == (
        "similar",
        elsewhere.pk,
        "Oak Family Dental",
        False,
    )
    maple = found["Maplewood Dental Art"]
    assert (maple.how, maple.match_id, maple.certain) == ("similar", close.pk, False)
    new = found["Brand New Dental"]
    assert (new.how, new.match_id, new.certain) == ("new", None, True)
    # The uncertain ones first: they are what the admin has to look at.
    assert [c.certain for c in candidates[:2]] == [False, False]


def test_candidates_stay_inside_the_practice(in_practice, other_practice):
    from django_scopes import scopes_disabled

    with scopes_disabled():
        OfficeFactory(practice=other_practice, name="Smile Dental Care", zip_code="12345")
    [candidate] = office_candidates([raw(2)])
    assert candidate.how == "new"


# --- the matcher and the writer ---------------------------------------------------------------


def test_the_same_office_under_a_business_suffix_is_matched_by_name_and_zip(in_practice):
    office = OfficeFactory(practice=in_practice, name="Smile Dental Care", zip_code="12345")
    matcher = import_rows(
        in_practice,
        [
            parsed(2, referring_office="Smile Dental Care, LLC"),
            parsed(3, chart_number="C101", referring_office="The Smile Dental Care"),
        ],
    )
    assert ReferringOffice.objects.count() == 1
    assert set(Referral.objects.values_list("referring_office_id", flat=True)) == {office.pk}
    assert matcher.tally.offices_created == 0


def test_rows_with_the_same_npi_are_one_office_and_one_doctor(in_practice):
    import_rows(
        in_practice,
        [
            parsed(2, npi="1234567893", referring_office="Smile Dental Care"),
            parsed(3, npi="1234567893", chart_number="C101", referring_office="Smile Dentistry"),
            parsed(
                4,
                npi="1234567893",
                chart_number="C102",
                referring_office="Smile Dentistry",
                referring_provider="Smith, Jane",
            ),
        ],
    )
    [office] = ReferringOffice.objects.all()
    assert office.name == "Smile Dental Care"
    [doctor] = ReferringProvider.objects.all()
    assert (doctor.office_id, doctor.npi, doctor.last_name) == (office.pk, "1234567893", "Smith")
    assert Referral.objects.filter(referring_office=office).count() == 3


def test_an_existing_doctors_npi_finds_their_office_and_them(in_practice):
    office = OfficeFactory(practice=in_practice, name="Harbor Dental", zip_code="22222")
    doctor = ProviderFactory(
        practice=in_practice, office=office, first_name="Jane", last_name="Smyth", npi="1234567893"
    )
    import_rows(in_practice, [parsed(2, npi="1234567893", referring_office="Harbour Dental LLC")])
    assert ReferringOffice.objects.count() == 1
    assert ReferringProvider.objects.count() == 1
    referral = Referral.objects.get()
    assert (referral.referring_office_id, referral.referring_provider_id) == (office.pk, doctor.pk)


def test_an_office_is_matched_by_its_pms_id_and_a_new_one_keeps_it(in_practice):
    known = OfficeFactory(practice=in_practice, name="Lakeview", zip_code="11111", external_id="7")
    import_rows(
        in_practice,
        [
            parsed(2, external_id="7", referring_office="Lakeview Dentistry", office_zip="99999"),
            parsed(3, external_id="8", chart_number="C101", referring_office="Brand New Dental"),
        ],
    )
    assert Referral.objects.get(patient__chart_number="C100").referring_office_id == known.pk
    new = ReferringOffice.objects.exclude(pk=known.pk).get()
    assert (new.name, new.external_id) == ("Brand New Dental", "8")


def test_a_similar_office_is_not_merged_unless_confirmed(in_practice):
    office = OfficeFactory(practice=in_practice, name="Smile Dental Care", zip_code="12345")
    rows = [parsed(2, office_zip="54321")]
    import_rows(in_practice, rows)
    assert ReferringOffice.objects.count() == 2
    assert Referral.objects.get().referring_office_id != office.pk


def test_a_confirmed_similar_office_is_merged(in_practice):
    office = OfficeFactory(practice=in_practice, name="Smile Dental Care", zip_code="12345")
    [candidate] = office_candidates([raw(2, office_zip="54321")])
    assert candidate.how == "similar"
    matcher = import_rows(
        in_practice, [parsed(2, office_zip="54321")], confirmed={candidate.key: str(office.pk)}
    )
    assert ReferringOffice.objects.count() == 1
    assert Referral.objects.get().referring_office_id == office.pk
    assert matcher.tally.offices_created == 0


def test_a_confirmed_new_office_is_kept_apart(in_practice):
    office = OfficeFactory(practice=in_practice, name="Maplewood Dental Arts", zip_code="44444")
    [candidate] = office_candidates(
        [raw(2, referring_office="Maplewood Dental Art", office_zip="44444")]
    )
    assert (candidate.how, candidate.match_id) == ("similar", office.pk)
    import_rows(
        in_practice,
        [parsed(2, referring_office="Maplewood Dental Art", office_zip="44444")],
        confirmed={candidate.key: "new"},
    )
    assert ReferringOffice.objects.count() == 2
    assert Referral.objects.get().referring_office.name == "Maplewood Dental Art"


def test_reimporting_matches_every_office_doctor_patient_and_referral(in_practice):
    rows = [
        parsed(2, npi="1234567893", referring_office="Smile Dental Care, LLC"),
        parsed(3, chart_number="C101", external_id="OD-9", referring_office="Lakeview"),
        parsed(4, chart_number="C102", referring_office="Oak Dental", office_zip="33333-1234"),
    ]
    import_rows(in_practice, rows)
    before = (
        ReferringOffice.objects.count(),
        ReferringProvider.objects.count(),
        Referral.objects.count(),
    )
    assert before == (3, 3, 3)
    matcher = import_rows(in_practice, [dataclasses.replace(r) for r in rows])
    counts = matcher.tally.as_counts()
    assert counts["offices_created"] == counts["providers_created"] == 0
    assert counts["referrals_created"] == counts["patients_created"] == 0
    assert counts["referrals_matched"] == 3
    assert (counts["offices_matched"], counts["providers_matched"]) == (3, 3)


def test_the_queries_per_batch_do_not_grow_with_the_offices(
    in_practice, django_assert_max_num_queries
):
    for n in range(20):
        ProviderFactory(
            practice=in_practice,
            office=OfficeFactory(practice=in_practice, name=f"Office {n}", zip_code="12345"),
            npi=f"{1000000000 + n}",
        )
    rows = [
        parsed(
            n + 2,
            chart_number=f"C{n}",
            npi=f"{1000000000 + n % 40}",
            referring_office=f"Office {n % 60}",
            external_id=f"X{n % 50}" if n % 3 == 0 else "",
        )
        for n in range(300)
    ]
    # Three batches of 100 rows: the same handful of queries each, never one per row or
    # per office (COPY into a table under row-level security is two statements).
    with django_assert_max_num_queries(40):
        import_rows(in_practice, rows, batch_size=100)
    assert Referral.objects.count() == 300


# --- through the whole pipeline: a file, its suggested mapping, the admin's answers ---------

EXPORT = (
    b"PatNum,LName,FName,Birthdate,RefDate,BusinessName,RefZip,RefNPI,RefLName,RefFName\n"
    b'1,Lee,Ann,1990-01-02,2023-01-05,"Smile Dental Care, LLC",12345,,Smith,Jane\n'
    b"2,Park,Bo,1985-03-04,2023-02-06,Smile Dentistry,99999,1234567893,Roe,Ray\n"
    b"3,Ng,Al,1970-12-31,2023-03-07,Smile Dentistry Inc,99999,1234567893,Roe,Ray\n"
    b"4,Kim,Jo,1970-12-30,2023-03-08,Oak Family Dental,55555,,Stone,Bob\n"
)


def import_export(practice, offices=None):
    stream = io.BytesIO(EXPORT)
    info = inspect(stream, "export.csv")
    mapping = suggest(info, stream)
    if offices is not None:
        mapping.offices = offices
    return import_file(practice, stream, info, mapping)


def test_a_file_imports_with_its_offices_matched_and_the_confirmed_ones_merged(in_practice):
    smile = OfficeFactory(practice=in_practice, name="Smile Dental Care", zip_code="12345")
    oak = OfficeFactory(practice=in_practice, name="Oak Family Dental", zip_code="33333")
    stream = io.BytesIO(EXPORT)
    info = inspect(stream, "export.csv")
    mapping = suggest(info, stream)
    stream.seek(0)
    candidates = {c.name: c for c in office_candidates(apply(stream, info, mapping))}
    assert {n: c.how for n, c in candidates.items()} == {
        "Smile Dental Care, LLC": "name_zip",
        "Smile Dentistry": "new",
        "Oak Family Dental": "similar",
    }
    assert candidates["Smile Dentistry"].rows == 2
    report = import_export(in_practice, {candidates["Oak Family Dental"].key: str(oak.pk)})
    assert report.counts["offices_created"] == 1
    by_chart = dict(Referral.objects.values_list("patient__chart_number", "referring_office__name"))
    assert by_chart == {
        "1": "Smile Dental Care",
        "2": "Smile Dentistry",
        "3": "Smile Dentistry",
        "4": "Oak Family Dental",
    }
    assert Referral.objects.get(patient__chart_number="1").referring_office_id == smile.pk
    assert ReferringProvider.objects.get(npi="1234567893").last_name == "Roe"
    # The same file again: nothing new.
    again = import_export(in_practice, {candidates["Oak Family Dental"].key: str(oak.pk)})
    assert again.counts["referrals_created"] == again.counts["offices_created"] == 0
    assert again.counts["referrals_matched"] == 4


def test_a_confirmed_office_of_another_practice_is_ignored(in_practice, other_practice):
    from django_scopes import scopes_disabled

    with scopes_disabled():
        theirs = OfficeFactory(practice=other_practice, name="Smile Dental Care", zip_code="1")
    key = file_key("Smile Dental Care", "12345", "", "")
    import_rows(in_practice, [parsed(2)], confirmed={key: str(theirs.pk)})
    referral = Referral.objects.get()
    assert referral.referring_office_id != theirs.pk
    assert referral.referring_office.practice_id == in_practice.pk
