"""CDT procedure codes (ADA Current Dental Terminology) as an oral-surgery practice reads them:
which codes are an evaluation (the consult) and which surgical codes make which case type.

The ranges follow the CDT 2024 category structure (checked from memory, not against a
downloaded code set: see docs/imports.md, "CDT codes and case types")."""

import re

from ..choices import CaseType

# Evaluations an oral surgeon bills at the consult: D0140 limited (problem focused), D0150
# comprehensive, D0160 detailed and extensive, D0170 re-evaluation (limited), D9310
# consultation requested by another dentist or physician.
EVALUATION_CODES = frozenset({"D0140", "D0150", "D0160", "D0170", "D9310"})

# (from, to, case type), inclusive. When a code lies in several ranges the NARROWEST range wins
# (D6104, bone graft at implant placement, is a bone graft although it sits inside the implant
# services D6010-D6199). Codes in no range are not surgical (imaging, anaesthesia, consults).
DEFAULT_RANGES: list[tuple[str, str, str]] = [
    # Implant services (CDT category D6000-D6199): placement, abutments, implant crowns.
    ("D6010", "D6199", CaseType.IMPLANTS.value),
    # D6104 bone graft at time of implant placement.
    ("D6104", "D6104", CaseType.BONE_GRAFT.value),
    # D7140 extraction of an erupted tooth; D7210 surgical extraction of an erupted tooth
    # (not an impaction).
    ("D7140", "D7140", CaseType.EXTRACTIONS.value),
    ("D7210", "D7210", CaseType.EXTRACTIONS.value),
    # Impactions: D7220 soft tissue, D7230 partially bony, D7240 completely bony, D7241
    # completely bony with unusual complications. Impactions are third molars in practice.
    ("D7220", "D7241", CaseType.THIRD_MOLARS.value),
    # D7250 removal of residual tooth roots.
    ("D7250", "D7250", CaseType.EXTRACTIONS.value),
    # D7251 coronectomy: intentional partial removal of an impacted tooth (a third molar near
    # the nerve).
    ("D7251", "D7251", CaseType.THIRD_MOLARS.value),
    # Biopsies: D7285 hard tissue, D7286 soft tissue, D7287 exfoliative cytology, D7288 brush.
    ("D7285", "D7288", CaseType.BIOPSY.value),
    # Excision of lesions and tumors, removal of cysts (D7410-D7465): oral pathology.
    ("D7410", "D7465", CaseType.BIOPSY.value),
    # Treatment of fractures, simple (D7610-D7680) and compound (D7710-D7780).
    ("D7610", "D7780", CaseType.TRAUMA.value),
    # Reduction of dislocation and management of other TMJ dysfunctions (D7810-D7899).
    ("D7810", "D7899", CaseType.TMJ.value),
    # D7940 osteoplasty for orthognathic deformities; D7941-D7945 mandibular osteotomies;
    # D7946-D7949 LeFort I, II, III.
    ("D7940", "D7949", CaseType.ORTHOGNATHIC.value),
    # D7950 osseous graft of mandible or maxilla, D7951 sinus augmentation (lateral open
    # approach), D7952 sinus augmentation (vertical approach), D7953 bone replacement graft for
    # ridge preservation, D7955 repair of maxillofacial soft and/or hard tissue defect.
    ("D7950", "D7955", CaseType.BONE_GRAFT.value),
]

_CODE = re.compile(r"^D?(\d{4})$")


def normalise_code(code: str) -> str:
    """' d7240 ' -> 'D7240'; '7240' -> 'D7240'; anything not CDT-shaped comes back stripped
    and upper-cased (it matches no range)."""
    code = code.strip().upper()
    match = _CODE.match(code)
    return f"D{match.group(1)}" if match else code


def case_type_for(code: str, ranges=DEFAULT_RANGES) -> str | None:
    """The case type of a surgical code, or None when the code is not a surgical one."""
    code = normalise_code(code)
    if not _CODE.match(code):
        return None
    best: tuple[int, str] | None = None
    for low, high, case_type in ranges:
        low, high = normalise_code(low), normalise_code(high)
        if low <= code <= high:
            span = int(high[1:]) - int(low[1:])
            if best is None or span < best[0]:
                best = (span, case_type)
    return best[1] if best else None
