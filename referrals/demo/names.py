"""Synthetic names, addresses and numbers for the demo practice.

Nothing here is a real person or office: names are drawn from common word lists, phone and
fax numbers use the 555-01xx block reserved for fiction, e-mail addresses end in the
reserved ``.example`` domain. Every function takes the caller's ``random.Random`` so the
demo is the same for the same seed.
"""

import datetime as dt
import random

FIRST_NAMES = [
    "Aaron",
    "Abigail",
    "Adrian",
    "Aisha",
    "Alan",
    "Alice",
    "Amara",
    "Andre",
    "Angela",
    "Ava",
    "Beatrice",
    "Ben",
    "Bianca",
    "Brandon",
    "Caleb",
    "Camila",
    "Carlos",
    "Carmen",
    "Chloe",
    "Claire",
    "Colin",
    "Daniel",
    "Daria",
    "David",
    "Diana",
    "Dylan",
    "Eleanor",
    "Eli",
    "Elena",
    "Emma",
    "Ethan",
    "Evelyn",
    "Felix",
    "Fiona",
    "Gabriel",
    "Grace",
    "Hannah",
    "Harper",
    "Hector",
    "Henry",
    "Imani",
    "Isaac",
    "Ivy",
    "Jack",
    "Jade",
    "Jamal",
    "Jasmine",
    "Jonah",
    "Julia",
    "Kai",
    "Karen",
    "Keisha",
    "Kevin",
    "Laila",
    "Leo",
    "Liam",
    "Lucy",
    "Maya",
    "Marcus",
    "Maria",
    "Mason",
    "Mei",
    "Mila",
    "Miles",
    "Nadia",
    "Naomi",
    "Nathan",
    "Nina",
    "Noah",
    "Nora",
    "Oliver",
    "Omar",
    "Owen",
    "Paige",
    "Paul",
    "Priya",
    "Quinn",
    "Rafael",
    "Rachel",
    "Riley",
    "Rosa",
    "Ruby",
    "Ryan",
    "Samuel",
    "Sara",
    "Sofia",
    "Tariq",
    "Tessa",
    "Theo",
    "Uma",
    "Victor",
    "Violet",
    "Wes",
    "Willow",
    "Xavier",
    "Yara",
    "Zane",
    "Zoe",
]

LAST_NAMES = [
    "Abbott",
    "Acosta",
    "Alvarez",
    "Archer",
    "Baker",
    "Banks",
    "Barrett",
    "Bennett",
    "Blake",
    "Brennan",
    "Brooks",
    "Caldwell",
    "Carver",
    "Castillo",
    "Chandler",
    "Chen",
    "Coleman",
    "Cortez",
    "Dalton",
    "Delgado",
    "Donovan",
    "Dunn",
    "Ellison",
    "Emerson",
    "Farrell",
    "Fischer",
    "Fleming",
    "Fowler",
    "Garner",
    "Gibbs",
    "Goodwin",
    "Graves",
    "Hale",
    "Hampton",
    "Harmon",
    "Hayes",
    "Hensley",
    "Holloway",
    "Huang",
    "Ingram",
    "Jensen",
    "Keller",
    "Kendall",
    "Kim",
    "Lambert",
    "Landry",
    "Lawson",
    "Lindqvist",
    "Lowe",
    "Maddox",
    "Malone",
    "Marsh",
    "Mendoza",
    "Mercer",
    "Monroe",
    "Nakamura",
    "Nash",
    "Novak",
    "Osei",
    "Pacheco",
    "Palmer",
    "Patel",
    "Pearson",
    "Quintero",
    "Ramsey",
    "Reyes",
    "Rhodes",
    "Romero",
    "Russo",
    "Santos",
    "Sawyer",
    "Schultz",
    "Shah",
    "Shepherd",
    "Sinclair",
    "Soto",
    "Stanton",
    "Sullivan",
    "Tanaka",
    "Thornton",
    "Tran",
    "Vance",
    "Vargas",
    "Wade",
    "Walsh",
    "Warner",
    "Webb",
    "Whitaker",
    "Wolfe",
    "Yates",
    "Young",
    "Zamora",
]

OFFICE_PLACES = [
    "Maple Grove",
    "Lakeshore",
    "Cedar Ridge",
    "Willow Creek",
    "Stonebridge",
    "Harbor View",
    "Oak Hollow",
    "Pine Valley",
    "Riverbend",
    "Meadowbrook",
    "Brookside",
    "Elm Street",
    "Hillcrest",
    "Sunnyside",
    "Fairview",
    "Briarwood",
    "Clearwater",
    "Foxhall",
    "Glenwood",
    "Highland Park",
    "Ivy Lane",
    "Juniper",
    "Kingsbridge",
    "Lakeview",
    "Millbrook",
    "North Shore",
    "Orchard Hill",
    "Parkside",
    "Quarry Road",
    "Rosewood",
    "Silver Lake",
    "Tall Oaks",
    "Union Square",
    "Valley Forge",
    "Westfield",
    "Whitestone",
    "Birchwood",
    "Canal Street",
    "Deer Run",
    "Eastgate",
    "Forest Hills",
    "Garden City",
    "Heritage",
    "Indian Pond",
    "Jefferson Square",
    "Kettle Brook",
    "Laurel",
    "Main Street",
    "Northgate",
    "Old Mill",
    "Prospect",
    "Red Barn",
    "Spring Valley",
    "Summit",
    "Three Rivers",
    "Upland",
    "Village Green",
    "Windsor",
    "Ashford",
    "Bay Ridge",
]

GP_SUFFIXES = (
    "Family Dentistry",
    "Dental Care",
    "Dental Group",
    "Dental Associates",
    "Smiles",
    "Dental Studio",
    "General Dentistry",
    "Family Dental",
    "Dental Arts",
    "Dental Center",
)

# Specialists who refer to an oral surgeon, with the cases they typically send.
SPECIALIST_SUFFIXES = (
    "Periodontics",
    "Orthodontics",
    "Endodontics",
    "Pediatric Dentistry",
)

STREETS = [
    "Main St",
    "Oak Ave",
    "Maple Ave",
    "Park Rd",
    "Church St",
    "High St",
    "Washington Ave",
    "Lake Rd",
    "Elm St",
    "Mill Rd",
    "Spring St",
    "River Rd",
    "Hillside Ave",
    "Union St",
    "Pleasant St",
    "Center St",
    "Franklin Ave",
    "Chestnut St",
    "Broad St",
    "Ridge Rd",
]

# Synthetic towns around a fictional practice in New York state.
TOWNS = (
    ("Lakeside", "14450"),
    ("Brookfield", "14454"),
    ("Fairport Falls", "14460"),
    ("Westmoor", "14468"),
    ("Cedar Hollow", "14472"),
    ("North Haven", "14480"),
    ("Millbrook Center", "14486"),
    ("Port Ellis", "14502"),
    ("Greystone", "14506"),
    ("Ashby", "14512"),
)

AREA_CODES = ("585", "315", "716", "607")


def person_name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def phone(rng: random.Random, area: str | None = None) -> str:
    """A fictional number: 555-0100 to 555-0199 are reserved for fiction in the NANP."""
    return f"({area or rng.choice(AREA_CODES)}) 555-01{rng.randrange(100):02d}"


def npi(rng: random.Random) -> str:
    """A 10-digit NPI that passes the Luhn check (prefix 80840), as real ones do."""
    body = "1" + "".join(str(rng.randrange(10)) for _ in range(8))
    digits = [int(c) for c in "80840" + body]
    total = 0
    # Luhn: double every second digit from the right of the payload (check digit excluded).
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def office_names(rng: random.Random, count: int, specialists: int) -> list[tuple[str, bool]]:
    """``count`` distinct office names; the first ``specialists`` are specialist offices."""
    gp = [f"{p} {s}" for p in OFFICE_PLACES for s in GP_SUFFIXES]
    spec = [f"{p} {s}" for p in OFFICE_PLACES for s in SPECIALIST_SUFFIXES]
    rng.shuffle(gp)
    rng.shuffle(spec)
    names = [(n, True) for n in _distinct(spec, specialists)]
    names += [(n, False) for n in _distinct(gp, count - specialists)]
    return names


def _distinct(pool: list[str], count: int) -> list[str]:
    # Past the pool (thousands of offices for a benchmark), number the repeats like
    # franchises do ("... Dental Care 2").
    return [
        pool[i % len(pool)] + ("" if i < len(pool) else f" {i // len(pool) + 1}")
        for i in range(count)
    ]


def domain_for(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum()) + ".example"


def street_address(rng: random.Random) -> str:
    return f"{rng.randrange(10, 9900)} {rng.choice(STREETS)}"


def town(rng: random.Random) -> tuple[str, str]:
    return rng.choice(TOWNS)


def date_of_birth(rng: random.Random, on: dt.date, min_age: int, max_age: int) -> dt.date:
    days = rng.randrange(min_age * 365, max_age * 365 + 1)
    return on - dt.timedelta(days=days)
