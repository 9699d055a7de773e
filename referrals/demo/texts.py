"""Clinical wording for the demo's referrals and milestones. Generic, never about a person."""

from ..choices import CaseType as C

REFERRAL_REASONS = {
    C.THIRD_MOLARS: [
        "Impacted lower third molars, recurrent pericoronitis.",
        "Partially erupted #17 and #32, food trap and pain.",
        "Third molars evaluation before orthodontic finishing.",
        "Four impacted third molars on panoramic film; please evaluate.",
    ],
    C.IMPLANTS: [
        "Missing #19, patient wants an implant.",
        "Failing bridge #3-#5, implant consultation.",
        "Edentulous lower arch, evaluate for implant-retained denture.",
        "Single implant #8 after trauma years ago.",
    ],
    C.EXTRACTIONS: [
        "Non-restorable #30, extraction.",
        "Fractured root tip #4, please extract.",
        "Multiple non-restorable teeth, extraction before denture.",
    ],
    C.BONE_GRAFT: [
        "Insufficient bone at #14 for implant, sinus lift evaluation.",
        "Socket preservation after extraction of #9.",
        "Ridge augmentation before implants in the lower left.",
    ],
    C.BIOPSY: [
        "White lesion lateral tongue, two weeks, please biopsy.",
        "Radiolucency apical to #24, evaluate for pathology.",
        "Persistent ulcer on the lower lip.",
    ],
    C.ORTHOGNATHIC: [
        "Class III skeletal, orthodontist requests surgical evaluation.",
        "Open bite, evaluation for jaw surgery with the orthodontist.",
    ],
    C.TMJ: [
        "Jaw pain and clicking on opening, limited opening.",
        "Chronic TMJ pain not responding to night guard.",
    ],
    C.TRAUMA: [
        "Avulsed #8 after sports injury, seen in our office today.",
        "Suspected mandible fracture after a fall.",
        "Dentoalveolar fracture upper anterior after an accident.",
    ],
    C.OTHER: [
        "Exposure of impacted canine #6 for the orthodontist.",
        "Evaluation for frenectomy.",
        "Sedation needed for extensive treatment, please evaluate.",
    ],
}

CONSULT = {
    C.THIRD_MOLARS: [
        (
            "Mesioangular impaction #17 and #32, close to the nerve canal.",
            "Remove all four under IV sedation.",
        ),
        ("Partially erupted lower third molars with pericoronitis.", "Remove #17 and #32."),
        ("Four developing third molars, insufficient space.", "Remove all four third molars."),
    ],
    C.IMPLANTS: [
        ("Adequate bone height and width at the site.", "Single implant with delayed loading."),
        ("Thin ridge, adequate height.", "Implant with simultaneous graft."),
        ("Edentulous mandible, good bone volume.", "Two implants for an overdenture."),
    ],
    C.EXTRACTIONS: [
        ("Non-restorable tooth with periapical lesion.", "Extraction with socket preservation."),
        ("Retained root tip, no infection.", "Surgical extraction."),
    ],
    C.BONE_GRAFT: [
        ("4 mm of bone below the sinus.", "Sinus lift, implant in 6 months."),
        ("Horizontal ridge defect.", "Ridge augmentation with membrane."),
    ],
    C.BIOPSY: [
        ("1 cm leukoplakic lesion, no induration.", "Excisional biopsy."),
        ("Well-defined radiolucency, vital teeth.", "Incisional biopsy and pathology."),
    ],
    C.ORTHOGNATHIC: [
        (
            "Skeletal Class III with crossbite.",
            "Bimaxillary surgery after pre-surgical orthodontics.",
        ),
        ("Anterior open bite, vertical excess.", "Le Fort I osteotomy."),
    ],
    C.TMJ: [
        ("Disc displacement with reduction.", "Arthrocentesis."),
        ("Myofascial pain, no joint pathology.", "Conservative care; arthrocentesis if no relief."),
    ],
    C.TRAUMA: [
        ("Avulsion with intact socket.", "Reimplantation and splinting."),
        ("Non-displaced fracture of the mandible.", "Closed reduction."),
    ],
    C.OTHER: [
        ("Palatally impacted canine.", "Exposure and bonding for orthodontic traction."),
        ("High labial frenum.", "Frenectomy."),
    ],
}

PROCEDURES = {
    C.THIRD_MOLARS: [
        "Removal of four impacted third molars, IV sedation",
        "Removal of #17 and #32",
    ],
    C.IMPLANTS: [
        "Implant placement #19",
        "Implant placement #8 with graft",
        "Two implants, mandible",
    ],
    C.EXTRACTIONS: ["Surgical extraction with socket graft", "Extraction of root tip"],
    C.BONE_GRAFT: ["Sinus lift, left", "Ridge augmentation with membrane"],
    C.BIOPSY: ["Excisional biopsy", "Incisional biopsy"],
    C.ORTHOGNATHIC: ["Le Fort I osteotomy", "Bilateral sagittal split osteotomy"],
    C.TMJ: ["Arthrocentesis, right TMJ", "Arthrocentesis, bilateral"],
    C.TRAUMA: ["Reimplantation and splinting", "Closed reduction of mandible fracture"],
    C.OTHER: ["Exposure and bonding of canine", "Frenectomy"],
}

DECLINE_REASONS = [
    "Cost; will revisit after insurance renews.",
    "Wants to think it over.",
    "Prefers to monitor for now.",
    "Chose a removable option instead.",
    "Insurance does not cover the procedure.",
]
CANCEL_REASONS = [
    "Patient chose another provider.",
    "Referring dentist treated the problem.",
    "Insurance did not authorize.",
    "Patient moved away.",
]
POSTOP_NOTES = [
    "Healing well, sutures removed.",
    "Mild swelling, healing as expected.",
    "Healing well; implant stable.",
    "Follow-up complete, no complications.",
]
NO_SHOW_NOTE = "Did not attend; voicemail left."
UNREACHABLE_NOTE = "No response to rebooking calls."
CLOSED_NOTE = "Treatment complete."
