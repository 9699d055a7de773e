"""Procedure rows grouped into cases (referrals/importing/procedures.py) and CDT ranges."""

from referrals.importing import cdt
from referrals.importing.procedures import ProcedureRow, group

CASE = {
    "chart_number": "C1",
    "patient_first_name": "Ann",
    "patient_last_name": "Lee",
    "patient_dob": "1980-01-02",
    "referral_date": "2024-01-05",
    "referring_office": "Smile Dental",
    "source_type": "doctor",
}


def proc(line, code="", date="", fee="", status="complete", **case):
    values = {**CASE, **case}
    values.update(
        procedure_code=code, procedure_date=date, procedure_fee=fee, procedure_status=status
    )
    return ProcedureRow(line, values)


def test_cdt_ranges_narrowest_wins_and_codes_normalise():
    assert cdt.normalise_code(" d7240 ") == "D7240"
    assert cdt.normalise_code("7240") == "D7240"
    assert cdt.case_type_for("D7240") == "third_molars"
    assert cdt.case_type_for("D7210") == "extractions"
    assert cdt.case_type_for("D6010") == "implants"
    assert cdt.case_type_for("D6104") == "bone_graft"
    assert cdt.case_type_for("D7953") == "bone_graft"
    assert cdt.case_type_for("D7946") == "orthognathic"
    assert cdt.case_type_for("D7880") == "tmj"
    assert cdt.case_type_for("D7670") == "trauma"
    assert cdt.case_type_for("D7286") == "biopsy"
    assert cdt.case_type_for("D0140") is None
    assert cdt.case_type_for("D0330") is None
    assert cdt.case_type_for("X") is None


def test_consult_surgery_production_case_type_and_decision():
    rows = [
        proc(2, "D0140", "2024-01-10", "$95.00"),
        proc(3, "D0330", "2024-01-10", "$120.00"),
        proc(4, "D7240", "2024-02-01", "$1,234.50"),
        proc(5, "D7140", "2024-02-01", "$150.00"),
    ]
    [case] = list(group(rows))
    assert case.line == 2
    v = case.values
    assert v["consult_date"] == "2024-01-10"
    assert v["surgery_date"] == "2024-02-01"
    assert v["decision"] == "accepted"
    assert v["decision_date"] == "2024-02-01"
    assert v["production"] == "1599.50"
    assert v["case_type"] == "third_molars"
    assert "procedure_code" not in v


def test_out_of_order_rows_of_two_cases_keep_first_line_order():
    rows = [
        proc(2, "D7240", "2024-03-01", "500"),
        proc(3, "D0140", "2024-01-20", "90", chart_number="C2"),
        proc(4, "D7210", "2024-02-15", "300"),
        proc(5, "D0150", "2024-02-01", "90"),
        proc(6, "D0140", "2024-01-09", "90"),
    ]
    cases = list(group(rows))
    assert [c.line for c in cases] == [2, 3]
    first = cases[0].values
    assert first["consult_date"] == "2024-01-09"
    assert first["surgery_date"] == "2024-02-15"
    assert first["case_type"] == "third_molars"  # highest completed fee
    assert first["production"] == "980.00"
    second = cases[1].values
    assert second["consult_date"] == "2024-01-20"
    assert second["surgery_date"] == "" and second["production"] == ""


def test_deleted_rows_are_ignored():
    rows = [
        proc(2, "D0140", "2024-01-10", "95"),
        proc(3, "D7240", "2024-01-20", "900", status="deleted"),
    ]
    [case] = list(group(rows))
    assert case.values["surgery_date"] == ""
    assert case.values["case_type"] == "other"


def test_planned_only_surgery_gives_case_type_but_no_milestone():
    rows = [
        proc(2, "D0140", "2024-01-10", "95"),
        proc(3, "D6010", "2024-03-01", "2000", status="planned"),
    ]
    [case] = list(group(rows))
    v = case.values
    assert v["case_type"] == "implants"
    assert v["surgery_date"] == "" and v["decision"] == "" and v["production"] == ""
    assert v["consult_date"] == "2024-01-10"


def test_surgery_without_evaluation_consult_is_surgery_day():
    [case] = list(group([proc(2, "D7210", "2024-02-01", "300")]))
    assert case.values["consult_date"] == "2024-02-01"
    assert case.values["case_type"] == "extractions"


def test_no_procedures_keeps_the_case_without_milestones():
    [case] = list(group([proc(2, status="")]))
    v = case.values
    assert v["chart_number"] == "C1"
    assert v["consult_date"] == v["surgery_date"] == v["production"] == ""
    assert v["case_type"] == "other"


def test_mapped_case_type_wins_and_first_row_patient_fields_kept():
    rows = [
        proc(2, "D7240", "2024-02-01", "500", case_type="bone_graft"),
        proc(3, "D0140", "2024-01-10", "95", patient_first_name="Other"),
    ]
    [case] = list(group(rows))
    assert case.values["case_type"] == "bone_graft"
    assert case.values["patient_first_name"] == "Ann"


def test_a_fee_that_is_not_money_reaches_the_parser_as_production():
    [case] = list(group([proc(2, "D7240", "2024-02-01", "n/a")]))
    assert case.values["production"] == "n/a"


def test_different_referral_dates_are_different_cases():
    rows = [
        proc(2, "D7240", "2024-02-01", "500"),
        proc(3, "D6010", "2025-02-01", "2000", referral_date="2025-01-05"),
    ]
    assert [c.values["case_type"] for c in group(rows)] == ["third_molars", "implants"]
