"""The Open Dental query output, columns shuffled and extra columns, through the preset."""

import io
from datetime import date
from decimal import Decimal

from referrals.importing import mapping as mapping_mod
from referrals.importing import presets, sources
from referrals.importing.pipeline import import_file
from referrals.models import MilestoneEvent, Referral, ReferringOffice

HEADER = "ProcStatus,HmPhone,PatNum,RefDate,LName,FName,Birthdate,RefLName,RefFName,RefTitle,"
HEADER += "BusinessName,Address,RefZip,RefNPI,ProcCode,ProcDate,ProcFee"
ANN = (
    "555-0101,101,2024-01-05,Lee,Ann,1980-01-02,Smith,Jane,DDS,Smile Dental,1 Main,10001,1234567893"
)
ROWS = [
    f"2,{ANN},D0140,2024-01-10,95.00",
    f'2,{ANN},D7240,2024-02-01,"1,200.00"',
    f"6,{ANN},D7140,2024-02-01,150.00",
    "1,555-0103,103,2024-04-01,Ng,Al,1970-12-31,Smith,Jane,DDS,Smile Dental Care LLC,1 Main,"
    "10001,1234567893,D6010,2024-05-01,2000",
    ",555-0102,102,2024-03-01,Roe,Bo,0001-01-01,Brown,Tom,DMD,,2 Main,10002,,,,",
]


DATA = ("\n".join([HEADER, *ROWS]) + "\n").encode()


def test_open_dental_export_grouped_into_cases():
    data = DATA
    info = sources.inspect(io.BytesIO(data), "od.csv")
    preset = presets.builtin("open-dental")
    mapping = presets.mapping_for(preset, info.header)
    assert mapping.problems(info.header) == []
    cases = list(mapping_mod.apply(io.BytesIO(data), info, mapping))
    assert [c.line for c in cases] == [2, 5, 6]
    first, _, second = (c.values for c in cases)
    assert first["consult_date"] == "2024-01-10"
    assert first["surgery_date"] == "2024-02-01"
    assert first["production"] == "1295.00"
    assert first["case_type"] == "third_molars"
    assert first["provider_npi"] == "1234567893"
    assert first["referring_office"] == "Smile Dental"
    assert second["patient_dob"] == "unknown"
    assert second["referring_office"] == "Dr. Tom Brown"
    assert second["surgery_date"] == "" and second["case_type"] == "other"


def test_open_dental_export_imports_through_the_suggested_preset(in_practice):
    info = sources.inspect(io.BytesIO(DATA), "od.csv")
    preset = presets.find_for(info.header)
    assert preset is not None and preset.name == "open-dental"
    mapping = presets.mapping_for(preset, info.header)
    report = import_file(in_practice, io.BytesIO(DATA), info, mapping)
    assert report.errors == [] and report.written
    assert Referral.objects.count() == 3
    # One office for Jane Smith's NPI whatever the business name says; Tom Brown, without a
    # business name, is an office of his own.
    assert sorted(ReferringOffice.objects.values_list("name", flat=True)) == [
        "Dr. Tom Brown",
        "Smile Dental",
    ]
    surgery = MilestoneEvent.objects.get(kind="surgery_completed")
    assert surgery.production == Decimal("1295.00")
    assert surgery.referral.patient.chart_number == "101"
    consults = MilestoneEvent.objects.filter(kind="consult_completed")
    # Only Ann Lee's case had an evaluation; Al Ng's implant is only planned.
    assert [m.referral.patient.chart_number for m in consults] == ["101"]
    ng = Referral.objects.get(patient__chart_number="103")
    assert ng.case_type == "implants"


def _us_dates(text: str) -> str:
    # The grid exported with a US workstation's date format: 2024-01-05 -> 01/05/2024.
    import re

    return re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", r"\2/\3/\1", text)


def test_open_dental_grid_with_us_dates_imports_through_the_same_preset(in_practice):
    data = _us_dates(DATA.decode()).replace("01/01/0001", "0001-01-01").encode()
    info = sources.inspect(io.BytesIO(data), "od.csv")
    preset = presets.find_for(info.header)
    mapping = presets.mapping_for(preset, info.header, info.samples)
    assert mapping.date_format == "mdy"
    report = import_file(in_practice, io.BytesIO(data), info, mapping)
    assert report.errors == [] and report.written
    assert sorted(Referral.objects.values_list("received_on", flat=True).distinct()) == [
        date(2024, 1, 5),
        date(2024, 3, 1),
        date(2024, 4, 1),
    ]
    ng = Referral.objects.get(patient__chart_number="103")
    assert ng.patient.date_of_birth == date(1970, 12, 31)
