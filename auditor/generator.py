"""A seeded synthetic trust: roster, staff exports in the platforms' real formats, manifest,
exemptions and the truth behind every export row (for ``auditor demo``, the tests and the
trust-scale benchmark).

``generate_world(out, profile, seed, as_of)`` writes the layout of ../shared/datasets/dev-world::

    roster/schools.csv, pupils.csv, contacts.csv, staff.csv   canonical roster CSV (DESIGN.md)
    exports/<staff_id>/<archive>.zip                           one to three exports per member of staff
    manifest.csv                                               staff_ref,path
    exemptions.csv                                             staff_ref,person_ref,relationship,approved_by,review_date
    truth.json                                                 {as_of, profile, seed, rows: [...]}

Truth rows are exactly one per row the importer stores: one per list entry, except that an
account in both the followers and the following list of one archive at the same second is one
``mutual`` row (``auditor.ingest.merge_mutual``). Each row says who is really behind the entry
(``person_ref``, ``role``, ``truth_kind``), how the name was written (``tier``, the vocabulary of
dev-world's truth.json and ../shared/tools/score.py) and, for pupils, the age on ``as_of``.

Same seed, profile and date give byte-identical files (zip entries carry a fixed date; every
random choice comes from a ``random.Random`` seeded by a string, which Python hashes with
SHA-512, so PYTHONHASHSEED does not matter). Nothing reads the clock.

What makes the world realistic, without being tuned to any one dataset:

- Names come from frequency lists compiled by hand from public statistics (data/names/*.txt,
  each naming its source): children's forenames by birth-year era, adults' from older eras,
  surnames by frequency, and Irish, Welsh, Polish, South Asian, African and Caribbean names in
  shares set from the 2021 Census (see ``HERITAGE``), varied from school to school.
- Families: siblings across year groups and schools, parents who mostly but not always share
  the children's surname (double-barrelled children, step-parents, single carers), grandparents
  who are emergency contacts for cousins in two families, phones and e-mails on most contacts.
- Pupils on roll (Reception–Year 6, Year 7–13) and leavers of the last years (end of Year 6,
  Year 11, Year 13, and some mid-year), so past pupils are both under and over 18 and 19.
- Staff with roles; a few are parents of pupils (they are also roster contacts) or aunts and
  uncles of pupils; their declared relatives go into exemptions.csv.
- Everyone has at most one account per platform, with one username and display name, so a
  pupil seen by three members of staff is the same account three times. Names on accounts
  vary the way real display names do (preferred names, nicknames, emoji, 𝓯𝓪𝓷𝓬𝔂 letters, no
  accents, initials, typos, handles with birth years), for adults as much as for pupils.
- A member of staff's exports are mostly adults (one circle of acquaintances across their
  platforms, townspeople shared with local colleagues, colleagues, pages they follow), with
  namesakes (adults who share a pupil's or parent's common full name) and a small number of
  pupils, past pupils and parents, more for staff who live locally.
- Layouts: mostly the current one per platform, with some older ones (Facebook 2018/2020,
  Instagram 2018/2020/2023/late 2025, TikTok user_data.json, Snapchat 2020, LinkedIn 2018,
  vCard 2.1 with quoted-printable), dated in their era; Meta's mojibake in Facebook and
  Instagram JSON; members that are not connections beside the lists (Facebook's friend
  suggestions, Snapchat's HTML twin), and Instagram's dismissed suggestions, which are rows.

Profiles: ``small`` (tests: two tiny schools, every layout once, well under a second),
``demo`` (two schools, a few hundred pupils, about 30 staff, a few seconds) and ``trust``
(10 schools, about 8,400 pupils, 3,600 past pupils, 16,000 contacts, 1,000 staff, 2,000
exports and 470,000 rows; written staff by staff, so memory holds the roster, not the exports).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import zipfile
from bisect import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from itertools import accumulate
from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path

from anyascii import anyascii

from auditor.ages import age_on
from auditor.errors import InputError

DEFAULT_AS_OF = date(2026, 11, 1)
PLATFORMS = ("facebook", "instagram", "tiktok", "snapchat", "linkedin", "vcard")
ROSTER_ROLES = frozenset({"pupil", "past_pupil", "contact"})


# -- profiles ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchoolPlan:
    """One school: its phase and how many pupils each year group holds."""

    phase: str  # "primary" (Reception–Year 6) or "secondary" (Year 7–13)
    per_year: int
    sixth_form_per_year: int = 0
    staff: int = 10


@dataclass(frozen=True)
class Profile:
    """The size and mix of one kind of world."""

    name: str
    schools: tuple[SchoolPlan, ...]
    leaver_years: int  # how many past summers of leavers the MIS still holds
    leaver_share: float  # the share of each leaving cohort still held
    export_scale: float  # multiplies the size of every friend / follower list
    every_layout: bool = False  # give every layout at least one export (tests)
    staff_parent_share: float = 0.06
    relative_share: float = 0.03


PROFILES = {
    "small": Profile(
        "small", (SchoolPlan("primary", 4, staff=4), SchoolPlan("secondary", 5, 4, staff=5)),
        leaver_years=6, leaver_share=0.6, export_scale=0.07, every_layout=True,
        staff_parent_share=0.25, relative_share=0.15,
    ),
    "demo": Profile(
        "demo", (SchoolPlan("primary", 30, staff=13), SchoolPlan("secondary", 50, 30, staff=19)),
        leaver_years=8, leaver_share=0.3, export_scale=0.55,
    ),
    "trust": Profile(
        "trust",
        tuple([SchoolPlan("primary", 60, staff=62)] * 6 + [SchoolPlan("secondary", 240, 135, staff=157)] * 4),
        leaver_years=8, leaver_share=0.28, export_scale=0.96,
    ),
}


# -- name lists ----------------------------------------------------------------------------------
def _rank_weights(count: int) -> list[float]:
    """Frequency by rank, Zipf-like but flat at the top (the lists are ordered, not counted)."""
    return [1.0 / (rank + 8) for rank in range(count)]


@dataclass
class NameList:
    names: list[str]
    cumulative: list[float]

    @classmethod
    def of(cls, names: list[str]) -> NameList:
        return cls(names, list(accumulate(_rank_weights(len(names)))))

    def pick(self, rng: random.Random) -> str:
        return self.names[bisect(self.cumulative, rng.random() * self.cumulative[-1])]

    def rank(self, name: str) -> int | None:
        try:
            return self.names.index(name)
        except ValueError:
            return None


def _read_sections(filename: str) -> dict[str, list[str]]:
    text = resources.files("auditor.data").joinpath("names", filename).read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None:
            current.append(line)
    return sections


# Heritage groups: the file that holds their names, the share of families in an average school,
# and how often their children are given a name from the general England and Wales lists. The
# shares were set by hand from the 2021 Census ethnic groups of England and Wales (Asian 9.3%,
# Black 4.0%, White other 6.2%), with Irish and Welsh names weighted above their census groups
# because far more British families carry them; each school varies them (see ``schools``).
HERITAGE = {
    "british": ("", 0.70, 1.0),
    "irish": ("irish.txt", 0.05, 0.5),
    "welsh": ("welsh.txt", 0.03, 0.45),
    "polish": ("polish.txt", 0.04, 0.35),
    "muslim": ("south_asian.txt", 0.07, 0.08),
    "indian": ("south_asian.txt", 0.04, 0.25),
    "african": ("african.txt", 0.04, 0.35),
    "caribbean": ("caribbean.txt", 0.03, 0.65),
}
ERAS = ((2015, "2015-2023"), (2005, "2005-2014"), (1995, "1995-2004"), (1975, "1975-1994"), (0, "1950-1974"))
FLAGS = {"irish": "🇮🇪", "welsh": "🏴", "polish": "🇵🇱", "muslim": "🇵🇰", "indian": "🇮🇳", "african": "🇳🇬",
         "caribbean": "🇯🇲", "british": "🇬🇧"}


class NameBank:
    """Every name list, loaded once from the package's data/names folder."""

    def __init__(self) -> None:
        boys, girls = _read_sections("england_wales_boys.txt"), _read_sections("england_wales_girls.txt")
        self.general = {("M", era): NameList.of(names) for era, names in boys.items()}
        self.general.update({("F", era): NameList.of(names) for era, names in girls.items()})
        self.surnames: dict[str, NameList] = {
            "british": NameList.of(_read_sections("england_wales_surnames.txt")["surnames"])}
        self.feminine: dict[str, str] = {}
        self.one_sex: dict[str, str] = {}
        self.heritage: dict[tuple[str, str], NameList] = {}
        for group, (filename, _, _) in HERITAGE.items():
            if not filename:
                continue
            sections = _read_sections(filename)
            prefix = f"{group}-" if f"{group}-boys" in sections else ""
            for section, key in (("boys", "boys"), ("girls", "girls"), ("men", "men"), ("women", "women")):
                self.heritage[(group, key)] = NameList.of(sections[prefix + section])
            surnames = []
            for line in sections[prefix + "surnames"]:
                name, _, sex = line.partition(" (")
                masculine, _, feminine = name.partition("|")
                if feminine:
                    self.feminine[masculine] = feminine
                if sex:
                    self.one_sex[masculine] = sex.rstrip(")").upper()
                surnames.append(masculine)
            self.surnames[group] = NameList.of(surnames)
        self.nicknames: dict[str, list[str]] = {}
        for line in _read_sections("nicknames.txt")["nicknames"]:
            full, _, short = line.partition(":")
            self.nicknames[full.strip()] = [s.strip() for s in short.split(",") if s.strip()]
        self.spellings: dict[str, list[str]] = {}
        spellings = _read_sections("spellings.txt")
        for line in spellings["forenames"] + spellings["surnames"]:
            group = [s.strip() for s in line.split(",") if s.strip()]
            for name in group:
                self.spellings.setdefault(name, []).extend(n for n in group if n != name)
        # Names the general lists hold because British Muslim, Hindu and Sikh families give them
        # (Muhammad, Maryam ...): drawn from those families' own lists, not for other families.
        shared = {"Adam", "Zara", "Sara", "Hana", "Maya", "Tara", "Kiran", "Isa"}
        self.south_asian = {n for (group, _), lst in self.heritage.items() if group in ("muslim", "indian")
                            for n in lst.names} - shared
        self.common_forenames = {n for (_, era), lst in self.general.items() if era in ("1975-1994", "1950-1974", "1995-2004")
                                 for n in lst.names[:40]}
        self.common_surnames = set(self.surnames["british"].names[:60])

    @staticmethod
    def era(birth_year: int) -> str:
        for start, label in ERAS:
            if birth_year >= start:
                return label
        return ERAS[-1][1]

    def forename(self, rng: random.Random, heritage: str, sex: str, birth_year: int) -> str:
        child = birth_year >= 2003
        _, _, general_share = HERITAGE[heritage]
        key = (heritage, ("boys" if sex == "M" else "girls") if child else ("men" if sex == "M" else "women"))
        if key in self.heritage and rng.random() >= (general_share if child else general_share * 0.7):
            return self.heritage[key].pick(rng)
        general = self.general[(sex, self.era(birth_year))]
        name = general.pick(rng)
        while name in self.south_asian and heritage not in ("muslim", "indian"):
            name = general.pick(rng)
        return name

    def surname(self, rng: random.Random, heritage: str) -> str:
        name = self.surnames[heritage].pick(rng)
        while name in self.one_sex:  # Begum, Bibi: women's names, never a family's surname
            name = self.surnames[heritage].pick(rng)
        return name

    def surname_for(self, surname: str, sex: str) -> str:
        """The form of a family surname a person of ``sex`` carries (Kowalski → Kowalska;
        a Sikh family's Singh → Kaur for a girl), part by part for double-barrelled names."""
        if "-" in surname:
            return "-".join(self.surname_for(part, sex) for part in surname.split("-"))
        if sex == "F":
            return self.feminine.get(surname, surname)
        return surname


@cache
def name_bank() -> NameBank:
    return NameBank()


# -- people --------------------------------------------------------------------------------------
@dataclass(eq=False)
class Account:
    """One person's account on one platform: what every export shows of it."""

    tier: str
    given: str = ""
    middle: str = ""
    family: str = ""
    username: str | None = None
    phone: str | None = None
    email: str | None = None
    company: str = ""
    position: str = ""
    url: str = ""

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.given, self.middle, self.family) if p)


@dataclass(eq=False)
class Person:
    """Anyone in the world: pupils, contacts, staff and the adults in staff's lists."""

    key: str
    forename: str
    surname: str
    sex: str
    birth: date
    heritage: str
    middle: str = ""
    preferred: str = ""
    ref: str | None = None
    role: str = "adult"  # pupil | past_pupil | contact | staff | adult
    kind: str = "adult"  # truth_kind
    school: str | None = None
    phone: str | None = None
    email: str | None = None
    year_group: str = ""
    admitted: date | None = None
    left: date | None = None
    upn: str = ""
    title: str = ""
    platforms: frozenset[str] = frozenset()
    accounts: dict[str, Account] = field(default_factory=dict)
    shared: bool = True  # seen by several members of staff: its choices get their own seed

    def age(self, on: date) -> int:
        """Whole years on ``on`` (truth.json's ages use auditor.ages.age_on, the tool's rule)."""
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


@dataclass(eq=False)
class Carer:
    person: Person
    relationship: str  # as the MIS writes it: Mother, Step-father, Grandmother ...
    responsible: bool


@dataclass(eq=False)
class Family:
    heritage: str
    surname: str  # the children's surname
    carers: list[Carer] = field(default_factory=list)
    children: list[Person] = field(default_factory=list)


@dataclass(eq=False)
class School:
    ref: str
    name: str
    town: str
    urn: str
    la: str
    estab: str
    plan: SchoolPlan
    mix: dict[str, float]
    domain: str
    heritage: Choice = field(init=False)

    def __post_init__(self) -> None:
        self.heritage = Choice(self.mix)


@dataclass(eq=False)
class Staff:
    person: Person
    school: School
    role: str
    local: bool
    parent_of: Family | None = None
    relatives: list[tuple[Person, str]] = field(default_factory=list)  # roster person, relationship


@dataclass
class Roster:
    schools: list[School]
    families: list[Family]
    pupils: list[Person]
    staff: list[Staff]
    exemptions: list[tuple[str, str, str, str, str]]


def new_person(names: NameBank, rng: random.Random, key: str, heritage: str, sex: str, birth: date,
               surname: str | None = None, role: str = "adult") -> Person:
    """Someone of ``heritage``: forename of their birth era, a middle name for some, and the
    form of the family surname their sex carries."""
    surname = names.surname_for(surname or names.surname(rng, heritage), sex)
    if heritage == "muslim" and sex == "F" and birth.year < 2003 and rng.random() < 0.3:
        surname = rng.choice(("Begum", "Bibi"))  # Bangladeshi women's name, not the family's
    if heritage == "indian" and surname in ("Singh", "Kaur"):
        surname = "Kaur" if sex == "F" else "Singh"
    forename = names.forename(rng, heritage, sex, birth.year)
    middle = ""
    if rng.random() < (0.55 if heritage == "british" else 0.3):
        middle = names.forename(rng, heritage if rng.random() < 0.5 else "british", sex, birth.year - rng.randrange(0, 40))
        if middle == forename:
            middle = ""
    return Person(key=key, forename=forename, surname=surname, sex=sex, birth=birth, heritage=heritage,
                  middle=middle, role=role, kind=role)


# -- random helpers ------------------------------------------------------------------------------
def _rng(seed: int, *purpose: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (seed, *purpose)))


def _weighted(rng: random.Random, table: dict[str, float]) -> str:
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


class Choice:
    """A fixed weighted choice, with its cumulative weights worked out once."""

    def __init__(self, table: dict[str, float]) -> None:
        self.keys = list(table)
        self.cumulative = list(accumulate(table.values()))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> str:
        return self.keys[bisect(self.cumulative, rng.random() * self.total)]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _day_between(rng: random.Random, start: date, end: date) -> date:
    if end <= start:
        return start
    return start + timedelta(days=int(rng.random() * ((end - start).days + 1)))



# -- roster --------------------------------------------------------------------------------------
TOWN_STEMS = ("Ash", "Brook", "Elm", "Oak", "Thorn", "Hazel", "Wil", "Mill", "Kings", "Market", "Church", "Holt",
              "Stan", "Whit", "Red", "Green", "Fern", "Lark", "Marsh", "Bram", "Hollin", "Shep", "Clay", "Wood")
TOWN_ENDS = ("field", "ford", "ham", "ton", "bury", "ley", "wood", "by", "worth", "stead", "gate", "bridge", "well",
             "combe", "hurst", "thorpe")
SAINTS = ("St Mary's", "St John's", "St Peter's", "Holy Trinity", "St Andrew's", "Christ Church", "St Joseph's",
          "All Saints", "St Michael's", "St Anne's")


def _school_year_start(on: date) -> int:
    """The calendar year the school year containing ``on`` began (September)."""
    return on.year if on.month >= 9 else on.year - 1


def _birth_for_year_group(rng: random.Random, year_group: int, school_year: int) -> date:
    """A date of birth for a pupil in ``year_group`` (0 = Reception) in the school year
    beginning in September ``school_year``: born 1 September – 31 August, five years before
    Reception."""
    start = date(school_year - 5 - year_group, 9, 1)
    return _day_between(rng, start, date(start.year + 1, 8, 31))


def _upn(la: str, estab: str, year: int, serial: int) -> str:
    """A well-formed UPN: check letter, LA, establishment, year of allocation, serial."""
    body = f"{la}{estab}{year % 100:02d}{serial:03d}"
    alphabet = "ABCDEFGHJKLMNPQRTUVWXYZ"
    total = sum(weight * int(ch) for weight, ch in enumerate(body, start=2))
    return alphabet[total % 23] + body


def _mobile(rng: random.Random) -> str:
    return f"07{rng.choice('123457789')}{rng.randrange(10)}{rng.randrange(10)} {rng.randrange(1000000):06d}"


MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.co.uk")


def _ascii_word(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", anyascii(text).lower())


def _personal_email(rng: random.Random, forename: str, surname: str, birth_year: int) -> str:
    first, last = _ascii_word(forename) or "info", _ascii_word(surname) or "mail"
    local = rng.choice((f"{first}.{last}", f"{first}{last}{birth_year % 100:02d}", f"{first[0]}{last}",
                        f"{first}_{last}{rng.randrange(1, 99)}", f"{last}.{first}"))
    return f"{local}@{rng.choice(MAIL_DOMAINS)}"


class RosterBuilder:
    """Schools, families, pupils on roll and leavers, contacts and staff for one profile."""

    def __init__(self, profile: Profile, seed: int, as_of: date, names: NameBank) -> None:
        self.profile, self.seed, self.as_of, self.names = profile, seed, as_of, names
        self.rng = _rng(seed, "roster")
        self.school_year = _school_year_start(as_of)
        self.families: list[Family] = []
        self.open_families: dict[str, list[Family]] = {}  # by school ref, families that may gain children
        self.grandparents: dict[str, list[Person]] = {}  # by surname: shared emergency contacts
        self.keys: Counter[str] = Counter()
        self.all_schools: list[School] = []

    def key(self, prefix: str) -> str:
        self.keys[prefix] += 1
        return f"{prefix}{self.keys[prefix]}"

    # schools
    def schools(self) -> list[School]:
        rng = self.rng
        la = rng.choice(("825", "826", "830", "873", "919", "936"))
        towns = rng.sample([s + e for s in TOWN_STEMS for e in TOWN_ENDS], len(self.profile.schools))
        schools = []
        for number, (plan, town) in enumerate(zip(self.profile.schools, towns, strict=True), start=1):
            if plan.phase == "primary":
                name = rng.choice((f"{town} Primary School", f"{rng.choice(SAINTS)} C of E Primary School, {town}",
                                   f"{town} Park Primary Academy", f"{town} Infant and Junior School"))
                estab = f"{2000 + rng.randrange(900):04d}"
            else:
                name = rng.choice((f"{town} Academy", f"{town} High School", f"{town} School and Sixth Form",
                                   f"{rng.choice(SAINTS)} Catholic High School, {town}"))
                estab = f"{4000 + rng.randrange(900):04d}"
            mix = {group: share * rng.uniform(0.4, 1.8) for group, (_, share, _) in HERITAGE.items()}
            total = sum(mix.values())
            schools.append(School(
                ref=f"S{number:02d}", name=name, town=town, urn=str(136000 + rng.randrange(14000)), la=la,
                estab=estab, plan=plan, mix={g: v / total for g, v in mix.items()},
                domain=f"{_ascii_word(town)}.example.sch.uk",
            ))
        return schools

    # people
    def person(self, rng: random.Random, heritage: str, sex: str, birth: date, surname: str | None = None,
               role: str = "adult") -> Person:
        return new_person(self.names, rng, self.key("h"), heritage, sex, birth, surname, role)

    def new_family(self, rng: random.Random, school: School, child_birth: date) -> Family:
        heritage = _weighted(rng, school.mix)
        partner_heritage = heritage if rng.random() < 0.88 else _weighted(rng, school.mix)
        father_name = self.names.surname(rng, heritage)
        mother_name = father_name if rng.random() < 0.7 else self.names.surname(rng, partner_heritage)
        shape = _weighted(rng, {"couple": 0.62, "single_mother": 0.18, "single_father": 0.03, "step": 0.1,
                                "grandparents": 0.02, "foster": 0.01, "double_barrel": 0.04})
        children_surname = father_name
        if shape in ("single_mother", "step"):
            children_surname = father_name if rng.random() < 0.6 else mother_name
        if shape == "double_barrel" and mother_name != father_name:
            children_surname = f"{father_name}-{mother_name}" if rng.random() < 0.6 else f"{mother_name}-{father_name}"
        family = Family(heritage=heritage, surname=children_surname)

        def adult(sex: str, surname: str, gap: tuple[int, int], heritage_: str = heritage) -> Person:
            born = _day_between(rng, date(child_birth.year - gap[1], 1, 1), date(child_birth.year - gap[0], 12, 31))
            return self.person(rng, heritage_, sex, born, surname, role="contact")

        mother = adult("F", mother_name, (20, 44), partner_heritage)
        father = adult("M", father_name, (21, 50))
        if shape in ("couple", "double_barrel"):
            family.carers += [Carer(mother, "Mother", True), Carer(father, "Father", True)]
            if rng.random() < 0.5:
                family.carers.reverse()
        elif shape == "single_mother":
            family.carers.append(Carer(mother, "Mother", True))
        elif shape == "single_father":
            family.carers.append(Carer(father, "Father", True))
        elif shape == "step":
            step = adult("M", self.names.surname(rng, _weighted(rng, school.mix)), (22, 50))
            family.carers += [Carer(mother, "Mother", True), Carer(step, "Step-father", False)]
        elif shape == "grandparents":
            family.carers.append(Carer(adult("F", family.surname, (42, 70)), "Grandmother", True))
            family.carers.append(Carer(adult("M", family.surname, (44, 74)), "Grandfather", True))
        else:
            foster_name = self.names.surname(rng, "british")
            family.carers.append(Carer(adult("F", foster_name, (30, 60), "british"), "Foster Carer", False))
        extra = _weighted(rng, {"0": 0.7, "1": 0.25, "2": 0.05})
        for _ in range(int(extra)):
            family.carers.append(self.emergency_contact(rng, family, child_birth))
        for number, carer in enumerate(family.carers):
            person = carer.person
            person.title = self.title(rng, person, carer.relationship)
            if rng.random() < 0.9:
                person.phone = person.phone or _mobile(rng)
            if rng.random() < (0.85 if number < 2 else 0.4):
                person.email = person.email or _personal_email(rng, person.forename, person.surname, person.birth.year)
        self.families.append(family)
        return family

    def emergency_contact(self, rng: random.Random, family: Family, child_birth: date) -> Carer:
        surname = rng.choice([c.person.surname for c in family.carers] or [family.surname])
        present = {id(c.person) for c in family.carers}
        shared = [p for p in self.grandparents.get(surname, []) if id(p) not in present]
        sex = rng.choice("FM")
        if rng.random() < 0.45:
            if shared and rng.random() < 0.5:
                person = rng.choice(shared)
            else:
                born = _day_between(rng, date(child_birth.year - 75, 1, 1), date(child_birth.year - 42, 12, 31))
                person = self.person(rng, family.heritage, sex, born, surname, role="contact")
                self.grandparents.setdefault(surname, []).append(person)
            return Carer(person, "Grandmother" if person.sex == "F" else "Grandfather", False)
        born = _day_between(rng, date(child_birth.year - 50, 1, 1), date(child_birth.year - 18, 12, 31))
        person = self.person(rng, family.heritage, sex, born, surname if rng.random() < 0.6 else None, role="contact")
        label = rng.choice(("Aunt", "Family Friend", "Neighbour")) if sex == "F" else rng.choice(("Uncle", "Family Friend"))
        return Carer(person, label, False)

    @staticmethod
    def title(rng: random.Random, person: Person, relationship: str) -> str:
        if rng.random() < 0.02:
            return "Dr"
        if person.sex == "M":
            return "Mr"
        return _weighted(rng, {"Mrs": 0.55, "Ms": 0.3, "Miss": 0.15})

    def family_for(self, rng: random.Random, school: School, birth: date) -> Family:
        """An existing family with room for a sibling born ``birth``, or a new one."""
        nearby = self.open_families.get(school.ref, [])
        if nearby and rng.random() < 0.34:
            for _ in range(6):
                family = rng.choice(nearby)
                gaps = [abs((birth - c.birth).days) for c in family.children]
                if len(family.children) < 5 and all(g > 300 for g in gaps):
                    return family
        family = self.new_family(rng, school, birth)
        self.open_families.setdefault(school.ref, []).append(family)
        if rng.random() < 0.5:  # in the catchment of the trust's schools of the other phase too
            for other in self.all_schools:
                if other.plan.phase != school.plan.phase:
                    self.open_families.setdefault(other.ref, []).append(family)
        return family

    def pupil(self, rng: random.Random, school: School, birth: date, year_group: int, left: date | None) -> Person:
        family = self.family_for(rng, school, birth)
        sex = "M" if rng.random() < 0.51 else "F"
        child = self.person(rng, family.heritage, sex, birth, family.surname, role="past_pupil" if left else "pupil")
        if any(c.forename == child.forename for c in family.children):
            child.forename = self.names.forename(rng, "british", sex, birth.year)
        nicknames = self.names.nicknames.get(child.forename)
        if nicknames and rng.random() < 0.12:
            child.preferred = nicknames[0]
        elif child.middle and rng.random() < 0.02:
            child.preferred = child.middle
        child.school, child.left = school.ref, left
        child.year_group = "R" if year_group == 0 else str(year_group)
        first_year = 0 if school.plan.phase == "primary" else 7
        entry_year = (_school_year_start(left) if left else self.school_year) - (year_group - first_year)
        if rng.random() < 0.9 or year_group == first_year:
            child.admitted = date(entry_year, 9, rng.choice((3, 4, 5, 6)))
        else:  # joined mid-way through the school
            child.admitted = _day_between(rng, date(entry_year, 9, 1), date(entry_year + year_group - first_year, 7, 15))
        if school.plan.phase == "secondary" and year_group >= 12 and rng.random() < 0.3:
            child.admitted = date(entry_year + 5, 9, 4)  # joined the sixth form from elsewhere
        child.admitted = min(child.admitted, left or self.as_of)  # the MIS knows no later admission
        family.children.append(child)
        return child

    def give_upns(self, pupils: list[Person], schools: list[School]) -> None:
        """Pupil numbers, and UPNs as the first school allocated them on entry to Reception: a
        trust primary's own, or (for pupils who came from elsewhere, as every secondary pupil
        did) another school's. Serials count per school and year, so no two pupils share one."""
        serials: Counter[tuple[str, str, int]] = Counter()
        rng = _rng(self.seed, "upn")
        primaries = [s for s in schools if s.plan.phase == "primary"]
        by_ref = {s.ref: s for s in schools}
        for number, pupil in enumerate(pupils, start=1):
            pupil.ref = f"P{number:06d}"
            school = by_ref[pupil.school or ""]
            reception = (pupil.birth.year if pupil.birth.month >= 9 else pupil.birth.year - 1) + 5
            started_here = school.plan.phase == "primary" and pupil.admitted is not None \
                and pupil.admitted.year <= reception and rng.random() < 0.97
            if started_here:
                la, estab = school.la, school.estab
            elif primaries and rng.random() < 0.4:
                first = rng.choice(primaries)
                la, estab = first.la, first.estab
            else:
                la, estab = f"{rng.randrange(201, 940)}", f"{rng.randrange(2000, 3999)}"
            serials[(la, estab, reception)] += 1
            pupil.upn = _upn(la, estab, reception, serials[(la, estab, reception)])

    def build(self) -> Roster:
        schools = self.all_schools = self.schools()
        pupils: list[Person] = []
        for school in schools:
            rng = _rng(self.seed, "pupils", school.ref)
            plan = school.plan
            years = range(7) if plan.phase == "primary" else range(7, 14)
            slots: list[tuple[int, date | None]] = []
            for year in years:
                size = plan.sixth_form_per_year if year >= 12 else plan.per_year
                size = max(1, size + rng.randint(-(size // 25), size // 25))
                slots += [(year, None)] * size
            for back in range(1, self.profile.leaver_years + 1):
                summer = date(self.school_year - back + 1, 7, rng.randint(18, 23))
                exits = [(6, plan.per_year)] if plan.phase == "primary" else [
                    (11, round(plan.per_year * 0.45) if plan.sixth_form_per_year else plan.per_year),
                    (13, plan.sixth_form_per_year)]
                for year, size in exits:
                    slots += [(year, summer)] * round(size * self.profile.leaver_share)
                for _ in range(round(plan.per_year * len(years) * 0.01 * self.profile.leaver_share * 3)):
                    year = rng.choice(list(years)[:-1])
                    slots.append((year, _day_between(rng, date(summer.year - 1, 9, 10), summer - timedelta(days=20))))
            rng.shuffle(slots)
            for year, left in slots:
                school_year = _school_year_start(left) if left else self.school_year
                birth = _birth_for_year_group(rng, year, school_year)
                pupils.append(self.pupil(rng, school, birth, year, left))
        pupils.sort(key=lambda p: (p.school, p.left is not None, -(p.left or date.min).toordinal(),
                                   0 if p.year_group == "R" else int(p.year_group), p.surname, p.forename))
        self.give_upns(pupils, schools)
        contact_number = 0
        for family in self.families:
            for carer in family.carers:
                if carer.person.ref is None:
                    contact_number += 1
                    carer.person.ref = f"C{contact_number:06d}"
        staff = StaffBuilder(self, schools).build()
        return Roster(schools, self.families, pupils, staff, exemptions_for(staff, self.as_of))


# -- staff ---------------------------------------------------------------------------------------
ROLES = {
    "primary": {"Class Teacher": 0.22, "Teaching Assistant": 0.24, "Higher Level Teaching Assistant": 0.03,
                "SENCO": 0.015, "Deputy Headteacher": 0.015, "Administrator": 0.04, "Office Manager": 0.015,
                "Site Manager": 0.015, "Cleaner": 0.04, "Lunchtime Supervisor": 0.1, "Cook": 0.03, "Governor": 0.15,
                "Volunteer": 0.06, "Sports Coach": 0.02, "Breakfast Club Assistant": 0.03},
    "secondary": {"Teacher": 0.42, "Head of Department": 0.06, "Head of Year": 0.03, "Assistant Headteacher": 0.02,
                  "Deputy Headteacher": 0.01, "Teaching Assistant": 0.1, "Cover Supervisor": 0.03,
                  "Science Technician": 0.02, "IT Technician": 0.015, "Administrator": 0.05, "Exams Officer": 0.01,
                  "Librarian": 0.01, "Site Manager": 0.01, "Cleaner": 0.03, "Learning Mentor": 0.02,
                  "Careers Adviser": 0.01, "Governor": 0.07, "Volunteer": 0.02, "Sports Coach": 0.02,
                  "Pastoral Manager": 0.02, "Catering Assistant": 0.02},
}
# Roles that parents of pupils often hold, and the age range of each kind of role.
PARENT_ROLES = {"Teaching Assistant", "Lunchtime Supervisor", "Governor", "Volunteer", "Administrator",
                "Breakfast Club Assistant", "Cook", "Cleaner", "Catering Assistant"}
LOCAL_SHARE = {"Teaching Assistant": 0.75, "Lunchtime Supervisor": 0.9, "Governor": 0.75, "Volunteer": 0.9,
               "Administrator": 0.65, "Cleaner": 0.8, "Cook": 0.75, "Breakfast Club Assistant": 0.85,
               "Catering Assistant": 0.8, "Site Manager": 0.6}
FEMALE_SHARE = {"Teaching Assistant": 0.9, "Lunchtime Supervisor": 0.92, "Class Teacher": 0.85, "Teacher": 0.64,
                "Site Manager": 0.1, "IT Technician": 0.25, "Cleaner": 0.75, "Cook": 0.8}


class StaffBuilder:
    def __init__(self, roster: RosterBuilder, schools: list[School]) -> None:
        self.roster, self.schools = roster, schools
        self.seed, self.as_of, self.names = roster.seed, roster.as_of, roster.names

    def build(self) -> list[Staff]:
        staff: list[Staff] = []
        base = _rng(self.seed, "staff-ids").randrange(1000, 5000)
        for school in self.schools:
            rng = _rng(self.seed, "staff", school.ref)
            families = [f for f in self.roster.families if any(c.school == school.ref for c in f.children)]
            parents_used: set[int] = set()
            for number in range(school.plan.staff):
                role = "Headteacher" if number == 0 else _weighted(rng, ROLES[school.plan.phase])
                member = self.member(rng, school, role, families, parents_used)
                staff.append(member)
        for number, member in enumerate(staff):
            member.person.ref = f"T{base + number:06d}"
        self.add_relatives(staff)
        used: set[str] = set()
        for member in staff:  # a second j.smith at a school is j.smith2, as IT departments do it
            local, _, domain = (member.person.email or "").partition("@")
            email, number = member.person.email, 1
            while email in used:
                number += 1
                email = f"{local}{number}@{domain}"
            used.add(email or "")
            member.person.email = email
        return staff

    def member(self, rng: random.Random, school: School, role: str, families: list[Family],
               parents_used: set[int]) -> Staff:
        local = rng.random() < LOCAL_SHARE.get(role, 0.35)
        share = self.roster.profile.staff_parent_share * (2.5 if role in PARENT_ROLES else 0.6)
        if families and rng.random() < share:
            for _ in range(8):
                family = rng.choice(families)
                carers = [c for c in family.carers if c.relationship in ("Mother", "Father")
                          and id(c.person) not in parents_used and c.person.age(self.as_of) >= 21]
                if carers:
                    carer = rng.choice(carers)
                    parents_used.add(id(carer.person))
                    return self.staff_parent(school, role, carer.person, family)
        low, high = {"Governor": (30, 72), "Volunteer": (19, 75), "Headteacher": (38, 62)}.get(role, (21, 64))
        age = rng.randint(low, high)
        birth = _day_between(rng, date(self.as_of.year - age - 1, self.as_of.month, 1),
                             date(self.as_of.year - age, self.as_of.month, 1))
        sex = "F" if rng.random() < FEMALE_SHARE.get(role, 0.7) else "M"
        person = self.roster.person(rng, _weighted(rng, school.mix), sex, birth, role="staff")
        return self.finish(Staff(person, school, role, local))

    def staff_parent(self, school: School, role: str, contact: Person, family: Family) -> Staff:
        """A parent who works at the school: the staff record and the roster contact are one
        human, with one set of accounts."""
        person = Person(key=contact.key, forename=contact.forename, surname=contact.surname, sex=contact.sex,
                        birth=contact.birth, heritage=contact.heritage, middle=contact.middle, role="staff",
                        kind="staff")
        person.accounts = contact.accounts  # the same accounts, whichever record names them
        member = Staff(person, school, role, local=True, parent_of=family)
        member.relatives += [(c, "own child") for c in family.children]
        for carer in family.carers:
            if carer.person is not contact and carer.relationship in ("Mother", "Father", "Step-father"):
                member.relatives.append((carer.person, "spouse"))
        return self.finish(member)

    def finish(self, member: Staff) -> Staff:
        person, school = member.person, member.school
        person.school = school.ref
        first = _ascii_word(person.forename)[:1] or "x"
        person.email = f"{first}.{_ascii_word(person.surname)}@{school.domain}"
        if member.role in ("Governor", "Volunteer"):
            person.email = _personal_email(_rng(self.seed, "mail", person.key), person.forename, person.surname,
                                           person.birth.year)
        return member

    def add_relatives(self, staff: list[Staff]) -> None:
        """A few staff are aunts or uncles of pupils in the trust: the pupil's parent is their
        brother or sister (sharing their surname when it is the father's side)."""
        rng = _rng(self.seed, "relatives")
        by_school: dict[str, list[Family]] = {}
        for family in self.roster.families:
            for child in family.children:
                if child.left is None:
                    by_school.setdefault(child.school or "", []).append(family)
        for member in staff:
            if member.parent_of is not None or rng.random() >= self.roster.profile.relative_share:
                continue
            families = by_school.get(member.school.ref) or [f for fs in by_school.values() for f in fs]
            family = rng.choice(families)
            sibling = next((c.person for c in family.carers if c.relationship in ("Mother", "Father")), None)
            if sibling is None:
                continue
            member.person.heritage = sibling.heritage
            if sibling.sex == "M" or rng.random() < 0.3:
                member.person.surname = self.names.surname_for(
                    sibling.surname if "-" not in sibling.surname else sibling.surname.split("-")[0], member.person.sex)
            for child in family.children:
                if child.left is None:
                    member.relatives.append((child, "niece" if child.sex == "F" else "nephew"))
            member.relatives.append((sibling, "sister" if sibling.sex == "F" else "brother"))
            self.finish(member)  # the e-mail address follows the surname


def exemptions_for(staff: list[Staff], as_of: date) -> list[tuple[str, str, str, str, str]]:
    """Declared relatives, approved and due for review at the end of the next school year."""
    review = date(_school_year_start(as_of) + 1, 8, 31).isoformat()
    rows = []
    for member in staff:
        approver = "Chair of Governors" if member.role == "Headteacher" else "Headteacher"
        for person, relationship in member.relatives:
            rows.append((member.person.ref or "", person.ref or "", relationship, approver, review))
    return rows


# -- how names are written -----------------------------------------------------------------------
EMOJI = ("🦋", "⭐", "🔥", "🎮", "🐾", "🌸", "✨", "💕", "😊", "🌈", "🏀", "🎀", "👑", "💙", "🌙", "🦄", "🍀", "⚽",
         "💜", "🐶", "🎶", "🌻", "💫", "😎", "🤍", "🖤", "🏉", "🎣", "🐝", "🌺", "💖", "☕", "🍕", "🎧", "🏆", "🌊")
# Mathematical alphanumeric styles (NFKC folds them back to ASCII): capital A, small a, holes.
MATH_STYLES = (
    (0x1D400, 0x1D41A, {}),  # bold
    (0x1D4D0, 0x1D4EA, {}),  # bold script
    (0x1D56C, 0x1D586, {}),  # bold fraktur
    (0x1D5D4, 0x1D5EE, {}),  # sans-serif bold
    (0x1D63C, 0x1D656, {}),  # sans-serif bold italic
    (0x1D538, 0x1D552, {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"}),  # double-struck
    (0x1D670, 0x1D68A, {}),  # monospace
)
KEYBOARD_NEIGHBOURS = {
    "a": "sqz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo", "j": "hk",
    "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et", "s": "ad", "t": "ry",
    "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}
# Weights of each way of writing a display name: (pupils and young adults, older adults).
DISPLAY_WEIGHTS = {
    "exact": (30, 56), "preferred": (0, 0), "upper": (4, 2), "decorated": (12, 5), "deco-unicode": (3, 1),
    "no-accents": (0, 0), "middle": (3, 5), "spelling": (4, 4), "nickname": (8, 8), "swapped": (2, 1),
    "typo": (3, 3), "initial": (8, 6), "first-only-emoji": (5, 2),
}
PLATFORM_DISPLAY = {  # multipliers where a platform's names are written differently
    "linkedin": {"decorated": 0.1, "deco-unicode": 0.0, "first-only-emoji": 0.0, "upper": 0.2, "initial": 0.3,
                 "swapped": 0.3, "nickname": 0.5, "middle": 2.0, "typo": 0.3},
    "vcard": {"decorated": 0.1, "deco-unicode": 0.0, "first-only-emoji": 0.1, "initial": 2.5, "nickname": 1.5,
              "swapped": 1.5, "middle": 0.5},
}
HANDLE_TIERS = {"h-first.last": 22, "h-firstlastyyyy": 16, "h-first_last_yy": 14, "h-last.first": 8,
                "h-first_l_yyyy": 14, "h-xfirstx_yy": 10}
ADULT_HANDLES = {"{first}{last}": 12, "{first}.{last}": 12, "{first}_{last}": 6, "{f}{last}{yy}": 10,
                 "{first}{last}{yy}": 8, "{first}.{last}{yyyy}": 6, "{first}_{last}{yy}": 6, "{first}_{l}{yyyy}": 5,
                 "x{first}x{yy}": 5, "{first}_{nnn}": 6, "{last}.{first}": 4, "{first}{last}_": 2, "{first}.{l}": 3,
                 "{first}{last}{nn}": 6, "its{first}": 1, "{last}{first}{nn}": 2}
ROSTER_HANDLES = {"h-first.last": "{first}.{last}", "h-firstlastyyyy": "{first}{last}{yyyy}",
                  "h-first_last_yy": "{first}_{last}{yy}", "h-last.first": "{last}.{first}",
                  "h-first_l_yyyy": "{first}_{l}{yyyy}", "h-xfirstx_yy": "x{first}x{yy}"}
ROSTER_HANDLE_CHOICE = Choice(HANDLE_TIERS)
ADULT_HANDLE_CHOICE = Choice(ADULT_HANDLES)
HANDLE_LIMITS = {"instagram": 30, "tiktok": 24, "snapchat": 15}
SNAP_SOURCES = ("added by added me back", "added by suggested", "added by username", "added by phone",
                "added by search", "added by qr code", "added by mention", "added by group chat")
JOBS = ("Accountant", "Nurse", "Project Manager", "Software Engineer", "Sales Manager", "Solicitor", "Electrician",
        "Operations Manager", "Account Manager", "Marketing Executive", "HR Business Partner", "Pharmacist",
        "Police Officer", "Paramedic", "Civil Engineer", "Financial Adviser", "Customer Service Advisor",
        "Estate Agent", "Plumber", "Physiotherapist", "Social Worker", "Data Analyst", "Store Manager",
        "Recruitment Consultant", "Architect", "Graphic Designer", "Logistics Coordinator", "Mortgage Adviser",
        "Office Manager", "Chef", "Hairdresser", "Personal Trainer", "Lecturer", "Business Analyst", "Director")
COMPANIES = ("{s} & {s2}", "{s} Group", "{t} Borough Council", "{t} NHS Foundation Trust", "{s} Solicitors",
             "{s} Construction Ltd", "Self-employed", "{t} College", "{s} Associates", "{t} Building Society",
             "{s} Logistics", "{s} Consulting", "{t} Leisure Centre", "{s} & Sons", "{t} Housing Association")


def deco_unicode(text: str, style: int) -> str:
    capital, small, holes = MATH_STYLES[style % len(MATH_STYLES)]
    out = []
    for ch in text:
        if ch in holes:
            out.append(holes[ch])
        elif "A" <= ch <= "Z":
            out.append(chr(capital + ord(ch) - 65))
        elif "a" <= ch <= "z":
            out.append(chr(small + ord(ch) - 97))
        else:
            out.append(ch)
    return "".join(out)


def make_typo(rng: random.Random, word: str) -> str:
    """One slip of the keyboard, never on the first letter: swap, drop, double or neighbour."""
    if len(word) < 4 or not word.isalpha():
        return word
    for _ in range(6):
        i = rng.randrange(1, len(word) - 1)
        op = rng.choice(("swap", "drop", "double", "near"))
        if op == "swap":
            typo = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif op == "drop":
            typo = word[:i] + word[i + 1:]
        elif op == "double":
            typo = word[:i] + word[i] + word[i:]
        else:
            near = KEYBOARD_NEIGHBOURS.get(word[i].lower(), "")
            typo = word[:i] + rng.choice(near) + word[i + 1:] if near else word
        if typo != word and typo.lower() != word.lower():
            return typo
    return word


class Namer:
    """Gives each person one account per platform: the display name and handle every export
    shows of it, written the way real display names vary. Handles are unique per platform."""

    def __init__(self, seed: int, names: NameBank, as_of: date) -> None:
        self.seed, self.names, self.as_of = seed, names, as_of
        self.taken: dict[str, set[str]] = {p: set() for p in PLATFORMS}
        self.tier_choices: dict[tuple, Choice] = {}

    def account(self, person: Person, platform: str, exact: bool = False,
                rng: random.Random | None = None) -> Account:
        """The person's account on ``platform`` (made once, then the same every time).
        ``exact`` writes the name as it is (a namesake whose name is the whole point). People
        seen by one member of staff only draw from that member's ``rng`` (seeding a generator
        per person costs more than the rest of the person)."""
        account = person.accounts.get(platform)
        if account is None:
            if person.shared or rng is None:
                rng = _rng(self.seed, "account", person.key, platform)
            account = self.make(rng, person, platform, exact)
            person.accounts[platform] = account
        return account

    def make(self, rng: random.Random, person: Person, platform: str, exact: bool) -> Account:
        on_roster = person.role in ROSTER_ROLES
        if person.kind == "page":
            handle = self.free(platform, _ascii_word(person.forename)[:HANDLE_LIMITS.get(platform, 30)], rng)
            return Account(tier="adult", given=person.forename, username=handle if platform != "facebook" else None)
        if platform in ("instagram", "tiktok"):
            tier, handle = self.handle(rng, person, platform, on_roster)
            return Account(tier=tier, username=handle)
        tier = "exact" if exact else self.display_tier(rng, person, platform, person.birth.year >= 1996)
        given, middle, family = self.display(rng, person, tier)
        account = Account(tier=tier, given=given, middle=middle, family=family)
        if platform == "snapchat":
            account.username = self.handle(rng, person, platform, on_roster)[1]
            if not on_roster and rng.random() < 0.04:
                account.given = account.middle = account.family = ""  # Snapchat allows an empty display name
        elif platform == "linkedin":
            self.linkedin(rng, person, account)
        elif platform == "vcard":
            account.phone = person.phone if person.phone and rng.random() < 0.95 else _mobile(rng)
            if person.email and rng.random() < 0.35:
                account.email = person.email
            elif rng.random() < 0.12:
                account.email = _personal_email(rng, person.forename, person.surname, person.birth.year)
        return account

    # display names
    def display_tier(self, rng: random.Random, person: Person, platform: str, young: bool) -> str:
        """Which way this person's name is written, among the ways that apply to it."""
        applies = (
            bool(person.preferred and person.preferred != person.forename),
            not (person.forename + person.surname).isascii(),
            bool(person.middle),
            person.forename in self.names.spellings or person.surname in self.names.spellings,
            bool([n for n in self.names.nicknames.get(person.forename, []) if n != person.preferred]),
            len(person.forename) >= 4 or len(person.surname) >= 4,
        )
        key = (platform, young, applies)
        choice = self.tier_choices.get(key)
        if choice is None:
            preferred, accents, middle, spelling, nickname, typo = applies
            weights = {tier: pair[0 if young else 1] for tier, pair in DISPLAY_WEIGHTS.items()}
            if preferred:
                weights["preferred"], weights["exact"] = 45, 12
            if accents:
                weights["no-accents"] = 20
            for tier, ok in (("middle", middle), ("spelling", spelling), ("nickname", nickname), ("typo", typo)):
                if not ok:
                    weights[tier] = 0
            for tier, factor in PLATFORM_DISPLAY.get(platform, {}).items():
                weights[tier] *= factor
            choice = self.tier_choices[key] = Choice({t: w for t, w in weights.items() if w > 0})
        return choice.pick(rng)

    def display(self, rng: random.Random, person: Person, tier: str) -> tuple[str, str, str]:
        """(given, middle, family) as the account writes them, for one tier."""
        first, last = person.forename, person.surname
        if tier == "preferred":
            return person.preferred, "", last
        if tier == "upper":
            return first.upper(), "", last.upper()
        if tier == "decorated":
            emoji = FLAGS.get(person.heritage, "⭐") if rng.random() < 0.12 else rng.choice(EMOJI)
            where = rng.random()
            if where < 0.6:
                return first, "", f"{last} {emoji}"
            if where < 0.8:
                return first, emoji, last
            return f"{emoji} {first}", "", last
        if tier == "deco-unicode":
            style = rng.randrange(len(MATH_STYLES))
            return deco_unicode(first, style), "", (deco_unicode(last, style) if rng.random() < 0.75 else last)
        if tier == "no-accents":
            return anyascii(first), "", anyascii(last)
        if tier == "middle":
            return first, person.middle.split()[0], last
        if tier == "spelling":
            if first in self.names.spellings and (last not in self.names.spellings or rng.random() < 0.6):
                return rng.choice(self.names.spellings[first]), "", last
            return first, "", rng.choice(self.names.spellings[last])
        if tier == "nickname":
            return rng.choice([n for n in self.names.nicknames[first] if n != person.preferred]), "", last
        if tier == "swapped":
            return last, "", first
        if tier == "typo":
            if len(last) >= 4 and (len(first) < 4 or rng.random() < 0.6):
                return first, "", make_typo(rng, last)
            return make_typo(rng, first), "", last
        if tier == "initial":
            return first, "", last[0] + ("." if rng.random() < 0.2 else "")
        if tier == "first-only-emoji":
            return first, "", rng.choice(EMOJI)
        return first, "", last

    # handles
    def free(self, platform: str, base: str, rng: random.Random) -> str:
        """``base`` if no one on ``platform`` has it yet, else ``base`` with digits."""
        taken, candidate = self.taken[platform], base or "user"
        while candidate in taken:
            candidate = f"{base}{rng.randrange(10, 9999)}"
        taken.add(candidate)
        return candidate

    def handle(self, rng: random.Random, person: Person, platform: str, on_roster: bool) -> tuple[str, str]:
        """(tier, username): a free username in one of the shapes people pick."""
        first = person.preferred if person.preferred and rng.random() < 0.7 else person.forename
        digits = int(rng.random() * 100000)
        parts = {"first": _ascii_word(first) or "user", "last": _ascii_word(person.surname) or "x",
                 "yyyy": f"{person.birth.year}", "yy": f"{person.birth.year % 100:02d}",
                 "nn": f"{digits % 100:02d}", "nnn": f"{digits // 100:03d}"}
        parts.update(f=parts["first"][0], l=parts["last"][0])
        limit = HANDLE_LIMITS.get(platform, 30)
        taken = self.taken[platform]
        choice, templates = (ROSTER_HANDLE_CHOICE, ROSTER_HANDLES) if on_roster else (ADULT_HANDLE_CHOICE, None)
        tier = choice.pick(rng)  # the first try needs no table; the rare clash falls back to the rest
        candidate = (templates[tier] if templates else tier).format(**parts)[:limit]
        if candidate not in taken:
            taken.add(candidate)
            return (tier if on_roster else "adult"), candidate
        shapes = dict(HANDLE_TIERS if on_roster else ADULT_HANDLES)
        del shapes[tier]
        while shapes:
            tier = _weighted(rng, shapes)
            candidate = (templates[tier] if templates else tier).format(**parts)[:limit]
            if candidate not in taken:
                taken.add(candidate)
                return (tier if on_roster else "adult"), candidate
            del shapes[tier]
        base = ("{first}.{last}" if on_roster else "{first}{last}").format(**parts)[: limit - 4]
        return ("h-first.last" if on_roster else "adult"), self.free(platform, base, rng)

    def linkedin(self, rng: random.Random, person: Person, account: Account) -> None:
        first, last = _ascii_word(person.forename) or "member", _ascii_word(person.surname) or "x"
        taken = self.taken["linkedin"]
        while True:
            slug = rng.choice((f"{first}-{last}-{rng.getrandbits(32):08x}", f"{first}{last}", f"{first}-{last}",
                               f"{first}-{last}-{rng.randrange(1000)}", f"{first}{last}{rng.randrange(100)}"))
            if slug not in taken:
                taken.add(slug)
                break
        account.url = f"https://www.linkedin.com/in/{slug}"
        account.username = slug
        age = person.age(self.as_of)
        if person.role in ("pupil", "past_pupil") and age < 23:
            account.company = rng.choice(("{t} College", "University of {t}", "{t} Sixth Form")).format(
                t=rng.choice(TOWN_STEMS) + rng.choice(TOWN_ENDS))
            account.position = "Student" if rng.random() < 0.8 else "Apprentice"
        else:
            account.company = rng.choice(COMPANIES).format(
                s=self.names.surname(rng, "british"), s2=self.names.surname(rng, "british"),
                t=rng.choice(TOWN_STEMS) + rng.choice(TOWN_ENDS))
            account.position = rng.choice(JOBS)
        if person.email and rng.random() < 0.15:
            account.email = person.email


# -- who is in each member of staff's exports ----------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """Who is really behind an entry, as truth.json records it."""

    ref: str | None
    role: str
    kind: str
    school: str | None = None
    age: int | None = None


ADULT = Identity(None, "adult", "adult")
NAMESAKE = Identity(None, "adult", "namesake")
PAGE = Identity(None, "adult", "page")
HIDDEN = Identity(None, "adult", "hidden")


@dataclass(eq=False)
class Entry:
    """One row of an export. A ``mutual`` entry is written into both the followers and the
    following list at the same second, which the importer reads back as one row."""

    person: Person
    who: Identity
    account: Account
    kind: str
    ts: int | None


@dataclass
class ExportPlan:
    platform: str
    layout: str
    exported: datetime
    size: int
    file: str = ""
    invitations: bool = False  # LinkedIn "Complete" export with Invitations.csv


# layout -> (share of exports on the platform, years it was current or None for now)
LAYOUTS = {
    "facebook": (("facebook-2022", 0.86, None), ("facebook-2020", 0.08, (2020, 2021)),
                 ("facebook-2018", 0.06, (2018, 2019))),
    "instagram": (("instagram-2023", 0.62, None), ("instagram-2023-early", 0.12, (2023, 2023)),
                  ("instagram-2025", 0.14, None), ("instagram-2020", 0.07, (2020, 2022)),
                  ("instagram-2018", 0.05, (2018, 2019))),
    "tiktok": (("tiktok-2024", 0.85, None), ("tiktok-2019", 0.15, (2021, 2023))),
    "snapchat": (("snapchat-2023", 0.85, None), ("snapchat-2020", 0.15, (2019, 2021))),
    "linkedin": (("linkedin-2020", 0.88, None), ("linkedin-2018", 0.12, (2018, 2019))),
    "vcard": (("vcard-3.0-iphone", 0.5, None), ("vcard-3.0-google", 0.25, None), ("vcard-2.1", 0.25, None)),
}
# Interleaved so that neighbours are different platforms: the small profile hands them out in pairs.
EVERY_LAYOUT = ("instagram-2023", "facebook-2022", "instagram-2023-early", "tiktok-2024", "instagram-2025",
                "snapchat-2023", "instagram-2020", "linkedin-2020", "instagram-2018", "vcard-3.0-iphone",
                "facebook-2020", "tiktok-2019", "snapchat-2020", "linkedin-2018", "vcard-2.1", "facebook-2018",
                "vcard-3.0-google")
LIST_SIZES = {"facebook": (240, 0.7), "instagram": (200, 0.8), "tiktok": (110, 0.9), "snapchat": (100, 0.7),
              "linkedin": (170, 0.8), "vcard": (230, 0.6)}  # median and spread of a list's length
PLATFORM_FLOOR = {"facebook": 2008, "instagram": 2012, "tiktok": 2018, "snapchat": 2014, "linkedin": 2006,
                  "vcard": 2006}
PLATFORM_FLOOR_TS = {p: int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) for p, year in PLATFORM_FLOOR.items()}
EPOCH_DAY = date(1970, 1, 1).toordinal()
YEAR = 365 * 86400
# Kinds of entry, by platform, for the adults in a list and for each kind of roster person.
# "separate" is a follower and a following at different times (two rows); "close" is a mutual
# follow plus a place on the close-friends list (two rows).
ADULT_KINDS = {
    "facebook": {"friend": 86, "following": 4, "follower": 3, "request_received": 2.5, "request_sent": 1.5,
                 "removed": 2.5, "rejected": 0.5},
    "instagram": {"mutual": 40, "follower": 28, "following": 20, "separate": 3, "request_received": 2,
                  "request_sent": 2, "close": 1, "removed": 1},
    "tiktok": {"mutual": 25, "follower": 45, "following": 28, "separate": 2},
    "snapchat": {"friend": 86, "request_sent": 4, "request_received": 4, "removed": 4, "rejected": 2},
    "linkedin": {"connection": 95, "request_received": 3, "request_sent": 2},
    "vcard": {"contact": 1},
}
ROSTER_KINDS = {
    "pupil": {
        "facebook": {"request_received": 45, "friend": 30, "removed": 10, "follower": 8, "request_sent": 4, "rejected": 3},
        "instagram": {"follower": 40, "request_received": 20, "mutual": 20, "following": 10, "request_sent": 4,
                      "separate": 6},
        "tiktok": {"follower": 55, "mutual": 25, "following": 15, "separate": 5},
        "snapchat": {"friend": 45, "request_received": 35, "removed": 10, "request_sent": 5, "rejected": 5},
        "linkedin": {"connection": 70, "request_received": 30},
        "vcard": {"contact": 1},
    },
    "past_pupil": {
        "facebook": {"friend": 70, "request_received": 10, "removed": 8, "follower": 7, "request_sent": 5},
        "instagram": {"mutual": 35, "follower": 30, "following": 15, "separate": 10, "request_received": 5,
                      "request_sent": 5},
        "tiktok": {"follower": 40, "mutual": 35, "following": 20, "separate": 5},
        "snapchat": {"friend": 70, "request_received": 12, "removed": 10, "request_sent": 8},
        "linkedin": {"connection": 85, "request_received": 15},
        "vcard": {"contact": 1},
    },
    "contact": {
        "facebook": {"friend": 80, "request_received": 8, "request_sent": 4, "removed": 4, "following": 2, "follower": 2},
        "instagram": {"mutual": 45, "follower": 20, "following": 20, "separate": 10, "request_received": 5},
        "tiktok": {"mutual": 40, "follower": 30, "following": 30},
        "snapchat": {"friend": 85, "removed": 8, "request_received": 7},
        "linkedin": {"connection": 1},
        "vcard": {"contact": 1},
    },
    "relative": {
        "facebook": {"friend": 1}, "instagram": {"mutual": 80, "close": 20}, "tiktok": {"mutual": 1},
        "snapchat": {"friend": 1}, "linkedin": {"connection": 1}, "vcard": {"contact": 1},
    },
    "colleague": {
        "facebook": {"friend": 90, "request_received": 4, "request_sent": 3, "removed": 3},
        "instagram": {"mutual": 60, "follower": 15, "following": 15, "separate": 10},
        "tiktok": {"mutual": 50, "follower": 25, "following": 25},
        "snapchat": {"friend": 1}, "linkedin": {"connection": 1}, "vcard": {"contact": 1},
    },
}
KIND_CHOICES = {("adult", p): Choice(t) for p, t in ADULT_KINDS.items()}
KIND_CHOICES.update({(c, p): Choice(t) for c, tables in ROSTER_KINDS.items() for p, t in tables.items()})
# What an older layout cannot hold, and what the same entry is there instead.
LAYOUT_KINDS = {
    "facebook-2018": {"follower": "friend"},
    "instagram-2018": {"request_received": "follower", "removed": "following"},
    "instagram-2020": {"removed": "following"},
    "snapchat-2020": {"request_received": "friend", "rejected": "friend"},
    "linkedin-2018": {"request_received": "connection", "request_sent": "connection"},
}
# Share of people of an age who use a platform (children's bands: <8, 8–10, 11–12, 13–15, 16–17;
# adults' bands: 18–24, 25–34, 35–49, 50–64, 65+). Ofcom's children's and adults' media-use
# reports give the shape; the figures are rounded guesses at it, not Ofcom's numbers.
USE = {
    "facebook": ((0, 0.01, 0.03, 0.12, 0.25), (0.55, 0.75, 0.85, 0.85, 0.7)),
    "instagram": ((0, 0.08, 0.35, 0.75, 0.85), (0.85, 0.75, 0.6, 0.4, 0.2)),
    "tiktok": ((0.03, 0.2, 0.5, 0.75, 0.75), (0.65, 0.45, 0.3, 0.2, 0.08)),
    "snapchat": ((0, 0.1, 0.45, 0.8, 0.85), (0.75, 0.45, 0.2, 0.08, 0.03)),
    "linkedin": ((0, 0, 0, 0, 0.06), (0.25, 0.45, 0.45, 0.35, 0.1)),
}
PAGE_KINDS = ("Community Noticeboard", "Running Club", "FC", "Buy and Sell", "Mums and Tots", "Dog Walkers",
              "Library", "Rugby Club", "Cricket Club", "Swimming Club", "Dance School", "Scouts", "Bakery",
              "Garden Centre", "Vets", "Leisure Centre", "Players", "Food Bank", "Parish Council", "Brass Band",
              "Choir", "Lost and Found", "Round Table", "Allotment Society", "Cycling Club")


def uses_platform(rng: random.Random, age: int, platform: str) -> bool:
    if platform == "vcard":
        return age >= 11
    children, adults = USE[platform]
    if age < 18:
        band = 0 if age < 8 else 1 if age < 11 else 2 if age < 13 else 3 if age < 16 else 4
        return rng.random() < children[band]
    band = 0 if age < 25 else 1 if age < 35 else 2 if age < 50 else 3 if age < 65 else 4
    return rng.random() < adults[band]


def _utc(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


class World:
    """Everything the exports draw on: the roster indexed by school, the town's adults and
    pages, the namer that keeps accounts consistent, and the profile's dials."""

    def __init__(self, roster: Roster, profile: Profile, seed: int, as_of: date, names: NameBank) -> None:
        self.roster, self.profile, self.seed, self.as_of, self.names = roster, profile, seed, as_of, names
        self.namer = Namer(seed, names, as_of)
        self.pupils: dict[str, list[Person]] = {}
        self.past: dict[str, list[Person]] = {}
        for pupil in roster.pupils:
            (self.past if pupil.left else self.pupils).setdefault(pupil.school or "", []).append(pupil)
        self.staff_keys = {m.person.key for m in roster.staff}
        self.families: dict[str, list[Family]] = {}
        for family in roster.families:
            for ref in {c.school for c in family.children}:
                self.families.setdefault(ref or "", []).append(family)
        self.staff_by_school: dict[str, list[Staff]] = {}
        for member in roster.staff:
            self.staff_by_school.setdefault(member.school.ref, []).append(member)
        self.namesake_sources = [
            p for p in roster.pupils + [c.person for f in roster.families for c in f.carers]
            if p.forename in names.common_forenames and p.surname in names.common_surnames]
        self.pools: dict[str, list[Person]] = {}
        self.page_lists: dict[str, list[Person]] = {}
        self.schools = {s.ref: s for s in roster.schools}

    def platforms(self, person: Person, rng: random.Random | None = None) -> frozenset[str]:
        """The platforms a person uses (by age), decided once."""
        if not person.platforms:
            if person.shared or rng is None:
                rng = _rng(self.seed, "platforms", person.key)
            age = person.age(self.as_of)
            person.platforms = frozenset(p for p in PLATFORMS if uses_platform(rng, age, p)) or frozenset({"none"})
        return person.platforms

    def identity(self, person: Person) -> Identity:
        if person.role in ("pupil", "past_pupil"):
            return Identity(person.ref, person.role, person.role, person.school, age_on(person.birth, self.as_of))
        return Identity(person.ref, person.role, person.kind)

    def stranger(self, rng: random.Random, key: str, school: School, around: int | None = None,
                 shared: bool = False) -> Person:
        """An adult who is not on the roster: near ``around`` years old, or any age."""
        if around is not None and rng.random() < 0.7:
            age = min(85, max(18, round(rng.triangular(around - 14, around + 14, around))))
        else:
            age = rng.randint(18, 80)
        birth = _day_between(rng, date(self.as_of.year - age - 1, self.as_of.month, 1),
                             date(self.as_of.year - age, self.as_of.month, 1))
        heritage = school.heritage.pick(rng)
        person = new_person(self.names, rng, key, heritage, "F" if rng.random() < 0.52 else "M", birth)
        person.shared = shared
        return person

    def pool(self, school: School) -> list[Person]:
        """The town's adults: people several local members of staff know."""
        if school.ref not in self.pools:
            rng = _rng(self.seed, "town", school.ref)
            size = max(40, len(self.pupils.get(school.ref, [])) // 2)
            self.pools[school.ref] = [self.stranger(rng, f"town-{school.ref}-{n}", school, shared=True)
                                      for n in range(size)]
        return self.pools[school.ref]

    def pages(self, school: School) -> list[Person]:
        if school.ref not in self.page_lists:
            rng = _rng(self.seed, "pages", school.ref)
            names = [school.name] + [f"{school.town} {kind}" for kind in rng.sample(PAGE_KINDS, 12)]
            self.page_lists[school.ref] = [
                Person(key=f"page-{school.ref}-{n}", forename=name, surname="", sex="X", birth=date(2000, 1, 1),
                       heritage="british", kind="page") for n, name in enumerate(names)]
        return self.page_lists[school.ref]

    def account(self, person: Person, platform: str, exact: bool = False,
                rng: random.Random | None = None) -> Account:
        account = self.namer.account(person, platform, exact, rng)
        if platform == "linkedin" and person.role == "staff" and person.key in self.staff_keys:
            member = next(m for m in self.staff_by_school[person.school or ""] if m.person.key == person.key)
            account.company, account.position = member.school.name, member.role
        return account


class StaffExports:
    """One member of staff's exports: which platforms, and every entry in each."""

    def __init__(self, world: World, member: Staff, index: int) -> None:
        self.world, self.member, self.index = world, member, index
        self.rng = _rng(world.seed, "exports", member.person.ref)
        self.person = member.person
        self.age = member.person.age(world.as_of)
        self.boost = 4.0 if world.profile.every_layout else 1.0

    # which exports
    def plans(self) -> list[ExportPlan]:
        rng, world = self.rng, self.world
        if world.profile.every_layout:
            layouts = [EVERY_LAYOUT[(2 * self.index + k) % len(EVERY_LAYOUT)] for k in range(2)]
            plans = [self.plan(rng, next(p for p, opts in LAYOUTS.items() if any(o[0] == layout for o in opts)), layout)
                     for layout in layouts]
        else:
            count = int(_weighted(rng, {"1": 0.3, "2": 0.45, "3": 0.25}))
            young, old = self.age < 30, self.age >= 50
            table = ({"instagram": 30, "tiktok": 22, "snapchat": 20, "facebook": 14, "linkedin": 6, "vcard": 8} if young
                     else {"facebook": 45, "instagram": 10, "tiktok": 4, "snapchat": 2, "linkedin": 16, "vcard": 23} if old
                     else {"facebook": 33, "instagram": 22, "tiktok": 10, "snapchat": 6, "linkedin": 14, "vcard": 15})
            chosen: list[str] = []
            while len(chosen) < count:
                platform = _weighted(rng, {p: w for p, w in table.items() if p not in chosen})
                chosen.append(platform)
            plans = []
            for platform in chosen:
                options = LAYOUTS[platform]
                layout = _weighted(rng, {o[0]: o[1] for o in options})
                plans.append(self.plan(rng, platform, layout))
        own = set(self.world.platforms(self.person)) | {p.platform for p in plans}
        self.person.platforms = frozenset(own - {"none"})
        return plans

    def plan(self, rng: random.Random, platform: str, layout: str) -> ExportPlan:
        era = next(o[2] for o in LAYOUTS[platform] if o[0] == layout)
        latest = self.world.as_of - timedelta(days=1)
        if era is None:
            day = latest - timedelta(days=rng.randrange(0, 28))
        else:
            day = min(latest, _day_between(rng, date(era[0], 1, 15), date(era[1], 12, 10)))
        exported = _utc(day, rng.randrange(7, 23)) + timedelta(minutes=rng.randrange(60), seconds=rng.randrange(60))
        median, spread = LIST_SIZES[platform]
        size = round(rng.lognormvariate(math.log(median), spread) * self.world.profile.export_scale)
        if self.member.role in ("Teaching Assistant", "Lunchtime Supervisor", "Cleaner", "Cook") and platform == "linkedin":
            size //= 3
        return ExportPlan(platform, layout, exported, max(3, min(size, 3000)),
                          invitations=platform == "linkedin" and layout == "linkedin-2020" and rng.random() < 0.4)

    # who is in them
    def entries(self, plans: list[ExportPlan]) -> list[list[Entry]]:
        rng, world = self.rng, self.world
        lists: list[list[Entry]] = [[] for _ in plans]
        seen: list[set[str]] = [set() for _ in plans]
        for person, who, category in self.roster_links(rng):
            reachable = [i for i, plan in enumerate(plans) if self.reachable(person, plan)]
            rng.shuffle(reachable)
            keep = 0.65 if category == "relative" else 0.4
            for n, i in enumerate(reachable):
                if (n == 0 or rng.random() < keep) and person.key not in seen[i]:
                    self.add(rng, lists[i], seen[i], plans[i], person, who, category)
        for colleague in self.colleagues(rng):
            who = Identity(colleague.person.ref, "staff", "colleague", colleague.school.ref)
            for i, plan in enumerate(plans):
                if plan.platform in world.platforms(colleague.person) and rng.random() < 0.7 \
                        and colleague.person.key not in seen[i]:
                    self.add(rng, lists[i], seen[i], plan, colleague.person, who, "colleague")
        circle = self.circle(rng, max(plan.size for plan in plans))
        for i, plan in enumerate(plans):
            if plan.layout in ("instagram-2023", "instagram-2025") and rng.random() < 0.3:
                self.dismissed(rng, lists[i], seen[i], plan, i)
            self.namesakes(rng, lists[i], seen[i], plan, i)
            self.pages(rng, lists[i], seen[i], plan)
            self.adults(rng, lists[i], seen[i], plan, circle, i)
        return lists

    def roster_links(self, rng: random.Random) -> list[tuple[Person, Identity, str]]:
        """The pupils, past pupils and parents this member of staff is connected with."""
        member, world = self.member, self.world
        links: list[tuple[Person, Identity, str]] = [
            (person, world.identity(person), "relative") for person, _ in member.relatives]
        taken = {p.key for p, _ in member.relatives} | {member.person.key}
        secondary = member.school.plan.phase == "secondary"
        parent_role = member.role in PARENT_ROLES
        means = {
            "contact": (3.0 if member.local else 0.35) * (1.5 if parent_role else 1.0),
            "past_pupil": (1.6 if secondary else 0.6) + (0.8 if member.local else 0.0),
            "pupil": (0.5 if secondary else 0.1) * (2.0 if member.role in ("Sports Coach", "Teaching Assistant",
                                                                          "Cover Supervisor", "Learning Mentor") else 1.0)
            + (0.2 if member.local else 0.0),
        }
        for category, mean in means.items():
            for _ in range(_poisson(rng, mean * self.boost)):
                school = member.school if rng.random() < 0.85 else world.schools[rng.choice(list(world.schools))]
                person = self.pick(rng, category, school)
                if person is not None and person.key not in taken and person.key not in world.staff_keys:
                    taken.add(person.key)
                    links.append((person, world.identity(person), category))
        return links

    def pick(self, rng: random.Random, category: str, school: School) -> Person | None:
        world = self.world
        if category == "contact":
            families = world.families.get(school.ref)
            if not families:
                return None
            family = rng.choice(families)
            weights = [1.0 if c.relationship == "Mother" else 0.8 if c.relationship == "Father" else 0.3
                       for c in family.carers]
            return rng.choices(family.carers, weights=weights)[0].person
        people = (world.past if category == "past_pupil" else world.pupils).get(school.ref)
        if not people:
            return None
        for _ in range(8):  # older pupils are far more often on social media
            person = rng.choice(people)
            age = person.age(world.as_of)
            chance = 0.02 if age < 9 else 0.1 if age < 11 else 0.3 if age < 13 else 0.6 if age < 15 else 1.0
            if rng.random() < chance:
                return person
        return None

    def reachable(self, person: Person, plan: ExportPlan) -> bool:
        if plan.platform not in self.world.platforms(person):
            return False
        return person.age(plan.exported.date()) >= 10

    def colleagues(self, rng: random.Random) -> list[Staff]:
        member, world = self.member, self.world
        same = [m for m in world.staff_by_school[member.school.ref] if m is not member]
        chosen = rng.sample(same, min(len(same), _poisson(rng, 9 + (7 if member.local else 0))))
        others = [m for ref, staff in world.staff_by_school.items() if ref != member.school.ref for m in staff]
        if others:
            chosen += rng.sample(others, min(len(others), _poisson(rng, 1.0)))
        return chosen

    def circle(self, rng: random.Random, size: int) -> list[Person]:
        """The adults this member of staff knows, across all their platforms."""
        school, world = self.member.school, self.world
        size = round(size * 1.1) + 5
        from_town = round(size * (0.35 if self.member.local else 0.08))
        pool = world.pool(school)
        people = rng.sample(pool, min(len(pool), from_town))
        ref = self.person.ref
        people += [world.stranger(rng, f"{ref}-c{n}", school, self.age) for n in range(size - len(people))]
        return people

    def add(self, rng: random.Random, entries: list[Entry], seen: set[str], plan: ExportPlan, person: Person,
            who: Identity, category: str, exact: bool = False) -> int:
        """Add ``person`` to one export; returns the number of rows that makes."""
        platform = plan.platform
        kind = KIND_CHOICES[(category, platform)].pick(rng)
        account = self.world.account(person, platform, exact, rng)
        seen.add(person.key)
        kinds = {"separate": ["follower", "following"], "close": ["mutual", "close_friend"]}.get(kind, [kind])
        remap = LAYOUT_KINDS.get(plan.layout, {})
        kinds = [remap.get(k, k) for k in kinds]
        if plan.platform == "linkedin" and not plan.invitations:
            kinds = ["connection" if k.startswith("request") else k for k in kinds]
        if len(set(kinds)) < len(kinds):
            kinds = kinds[:1]
        first = self.when(rng, person, plan, kinds[0])
        for n, kind in enumerate(kinds):
            ts = first
            if n and first is not None:  # a second event for the same account: never the same second
                ts = first - rng.randrange(3600, 86400 * 400)
            entries.append(Entry(person, who, account, kind, ts))
        return len(kinds)

    def when(self, rng: random.Random, person: Person, plan: ExportPlan, kind: str) -> int | None:
        """When the connection was made: after the platform's launch, after the person was 11
        and, for a request, in the last two years."""
        if plan.platform == "vcard":
            return None
        end = int(plan.exported.timestamp()) - 300
        start = max(end - 12 * YEAR, PLATFORM_FLOOR_TS[plan.platform])
        if person.kind != "page":
            start = max(start, (person.birth.toordinal() - EPOCH_DAY) * 86400 + 11 * YEAR)
        if kind.startswith("request") or kind == "rejected":
            start = max(start, end - 2 * YEAR)
        start = min(start, end - 3600)
        return start + int(rng.random() * (end - start + 1))

    def dismissed(self, rng: random.Random, entries: list[Entry], seen: set[str], plan: ExportPlan, i: int) -> None:
        """Suggested accounts the member of staff dismissed (Instagram's removed_suggestions):
        pupils of the school are typical suggestions. Listed people, never connections."""
        world = self.world
        pupils = [p for p in world.pupils.get(self.member.school.ref, [])
                  if p.key not in seen and self.reachable(p, plan)]
        people = rng.sample(pupils, min(len(pupils), rng.randint(0, 3)))
        people += [world.stranger(rng, f"{self.person.ref}-d{i}-{n}", self.member.school) for n in range(rng.randint(2, 9))]
        for person in people:
            seen.add(person.key)
            entries.append(Entry(person, world.identity(person) if person.role in ROSTER_ROLES else ADULT,
                                 world.account(person, plan.platform, rng=rng), "rejected",
                                 self.when(rng, person, plan, "rejected")))

    def namesakes(self, rng: random.Random, entries: list[Entry], seen: set[str], plan: ExportPlan, i: int) -> None:
        """Adults who share a pupil's or parent's common full name."""
        world = self.world
        if not world.namesake_sources:
            return
        for n in range(_poisson(rng, plan.size * 0.005 * self.boost)):
            source = rng.choice(world.namesake_sources)
            age = rng.randint(20, 70)
            birth = _day_between(rng, date(world.as_of.year - age - 1, 1, 1), date(world.as_of.year - age, 12, 31))
            twin = Person(key=f"{self.person.ref}-n{i}-{n}", forename=source.forename, surname=source.surname,
                          sex=source.sex, birth=birth, heritage=source.heritage, kind="namesake")
            twin.shared = False
            if plan.platform in world.platforms(twin, rng) or plan.platform in ("vcard", "facebook"):
                self.add(rng, entries, seen, plan, twin, NAMESAKE, "adult", exact=rng.random() < 0.7)

    def pages(self, rng: random.Random, entries: list[Entry], seen: set[str], plan: ExportPlan) -> None:
        if plan.platform not in ("facebook", "instagram", "tiktok"):
            return
        pages = self.world.pages(self.member.school)
        count = min(len(pages), _poisson(rng, 1 + plan.size * (0.02 if plan.platform == "facebook" else 0.04)))
        for page in rng.sample(pages, count):
            if page.key not in seen:
                seen.add(page.key)
                account = self.world.account(page, plan.platform)
                entries.append(Entry(page, PAGE, account, "following", self.when(rng, page, plan, "following")))

    def adults(self, rng: random.Random, entries: list[Entry], seen: set[str], plan: ExportPlan,
               circle: list[Person], i: int) -> None:
        """Fill the list to its size with the staff member's acquaintances, then strangers."""
        world, need = self.world, plan.size - len(entries)
        known = [p for p in circle if plan.platform in world.platforms(p, rng) and p.key not in seen]
        rng.shuffle(known)
        hidden = plan.layout == "linkedin-2020"
        n = 0
        while need > 0:
            if known and (plan.platform not in ("instagram", "tiktok") or rng.random() < 0.6):
                person = known.pop()
            else:
                person = world.stranger(rng, f"{self.person.ref}-s{i}-{n}", self.member.school, self.age)
                n += 1
            if hidden and rng.random() < 0.02:  # a member who hides their details: a row with only a date
                entries.append(Entry(person, HIDDEN, Account(tier="adult"), "connection",
                                     self.when(rng, person, plan, "connection")))
                seen.add(person.key)
                need -= 1
                continue
            need -= self.add(rng, entries, seen, plan, person, ADULT, "adult")


# -- writing exports in the platforms' formats ---------------------------------------------------
def pretty_json(obj: object, indent: int, ascii_only: bool = False, open_empty_lists: bool = False) -> str:
    """``json.dumps(obj, indent=indent)``, several times faster (the standard library falls back
    to pure Python when indenting). ``open_empty_lists`` writes ``[]`` over two lines, as Meta does."""
    encode = encode_basestring_ascii if ascii_only else encode_basestring
    out: list[str] = []

    def simple(value: object, level: int) -> str | None:
        """The text of a value that needs no recursion (a scalar, an empty or flat object)."""
        if isinstance(value, str):
            return encode(value)
        if value is None or isinstance(value, bool):
            return "null" if value is None else "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if not value:
            if open_empty_lists and isinstance(value, list):
                return "[\n" + " " * (indent * (level + 1)) + "\n" + " " * (indent * level) + "]"
            return "[]" if isinstance(value, list) else "{}"
        if isinstance(value, dict) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value.values()):
            inner, outer = "\n" + " " * (indent * (level + 1)), "\n" + " " * (indent * level)
            return "{" + ",".join(f"{inner}{encode(k)}: {encode(v) if isinstance(v, str) else v}"
                                  for k, v in value.items()) + outer + "}"
        return None

    def walk(value: object, level: int) -> None:
        text = simple(value, level)
        if text is not None:
            out.append(text)
            return
        if not isinstance(value, dict | list):
            raise TypeError(f"cannot write {type(value).__name__} as JSON")
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        inner, outer = "\n" + " " * (indent * (level + 1)), "\n" + " " * (indent * level)
        out.append(opening)
        items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
        for n, (key, item) in enumerate(items):
            prefix = ("," if n else "") + inner + (encode(key) + ": " if key is not None else "")
            text = simple(item, level + 1)
            if text is not None:
                out.append(prefix + text)
            else:
                out.append(prefix)
                walk(item, level + 1)
        out.append(outer + closing)

    walk(obj, 0)
    return "".join(out)


_NON_ASCII = re.compile("[^\x00-\x7f]+")


def meta_json(obj: object) -> bytes:
    """JSON as Meta writes it: two-space indent, empty lists opened over two lines, and every
    non-ASCII character stored as its UTF-8 bytes, each escaped ``\\u00XX`` (the mojibake)."""
    text = pretty_json(obj, 2, open_empty_lists=True)
    return _NON_ASCII.sub(lambda m: "".join(f"\\u00{b:02x}" for b in m[0].encode("utf-8")), text).encode()


def _stamp(ts: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


def _newest_first(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: -(e.ts or 0))


TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(TOKEN_ALPHABET) for _ in range(length))


FACEBOOK_FILES = {
    "facebook-2022": {
        "friend": ("connections/friends/your_friends.json", "friends_v2"),
        "request_received": ("connections/friends/received_friend_requests.json", "received_requests_v2"),
        "request_sent": ("connections/friends/sent_friend_requests.json", "sent_requests_v2"),
        "rejected": ("connections/friends/rejected_friend_requests.json", "rejected_requests_v2"),
        "removed": ("connections/friends/removed_friends.json", "deleted_friends_v2"),
        "follower": ("connections/followers/people_who_followed_you.json", "followers_v3"),
        "following": ("connections/followers/who_you've_followed.json", "following_v3"),
    },
    "facebook-2020": {
        "friend": ("friends_and_followers/friends.json", "friends_v2"),
        "request_received": ("friends_and_followers/friend_requests_received.json", "received_requests_v2"),
        "request_sent": ("friends_and_followers/friend_requests_sent.json", "sent_requests_v2"),
        "rejected": ("friends_and_followers/rejected_friend_requests.json", "rejected_requests_v2"),
        "removed": ("friends_and_followers/removed_friends.json", "deleted_friends_v2"),
        "follower": ("friends_and_followers/followers.json", "followers_v2"),
        "following": ("friends_and_followers/who_you_follow.json", "following_v2"),
    },
    "facebook-2018": {
        "friend": ("friends/friends.json", "friends"),
        "request_received": ("friends/received_friend_requests.json", "received_requests"),
        "request_sent": ("friends/sent_friend_requests.json", "sent_requests"),
        "rejected": ("friends/rejected_friend_requests.json", "rejected_requests"),
        "removed": ("friends/removed_friends.json", "deleted_friends"),
        "following": ("following_and_followers/following.json", "following"),
    },
}
INSTAGRAM_KEYS = {"following": "relationships_following", "request_received": "relationships_follow_requests_received",
                  "request_sent": "relationships_follow_requests_sent", "close_friend": "relationships_close_friends",
                  "removed": "relationships_unfollowed_users", "rejected": "relationships_dismissed_suggested_users"}
INSTAGRAM_FILES = {"following": "following.json", "request_received": "follow_requests_you've_received.json",
                   "request_sent": "pending_follow_requests.json", "close_friend": "close_friends.json",
                   "removed": "recently_unfollowed_profiles.json", "rejected": "removed_suggestions.json"}
SNAPCHAT_SECTIONS = {"friend": "Friends", "request_sent": "Friend Requests Sent", "removed": "Deleted Friends",
                     "rejected": "Ignored Snapchatters", "request_received": "Pending Requests"}
LINKEDIN_NOTES = (
    'Notes:\n"When exporting your connection data, you may notice that some of the email addresses are missing. '
    "You will only see email addresses for connections who have allowed their connections to see or download their "
    "email address using this setting https://www.linkedin.com/psettings/privacy/email. You can learn more here "
    'https://www.linkedin.com/help/linkedin/answer/261"\n\n'
)


class ExportWriter:
    """Turns one export's entries into the archive a platform would have produced."""

    def __init__(self, world: World, member: Staff, plan: ExportPlan, entries: list[Entry]) -> None:
        self.world, self.member, self.plan, self.entries = world, member, plan, entries
        self.rng = _rng(world.seed, "archive", member.person.ref, plan.platform)
        self.owner = member.person

    def by_kind(self, *kinds: str) -> list[Entry]:
        return [e for e in self.entries if e.kind in kinds]

    def archive(self) -> tuple[str, dict[str, bytes]]:
        """(zip file name, member path → bytes)."""
        return getattr(self, self.plan.platform)()

    # Facebook
    def facebook(self) -> tuple[str, dict[str, bytes]]:
        plan, rng = self.plan, self.rng
        files = FACEBOOK_FILES[plan.layout]
        slug = _ascii_word(self.owner.forename + self.owner.surname)
        day = plan.exported.date().isoformat()
        wrapper = f"facebook-{slug}-{day}/" if plan.layout != "facebook-2022" or rng.random() < 0.5 else ""
        members: dict[str, bytes] = {}
        for kind, (path, key) in files.items():
            entries = self.by_kind(kind)
            if not entries and kind != "friend":
                continue
            if kind == "follower":
                items = [{"name": e.account.display_name} for e in rng.sample(entries, len(entries))]
            else:
                items = [{"name": e.account.display_name, "timestamp": e.ts} for e in _newest_first(entries)]
            members[wrapper + path] = meta_json({key: items})
        name = self.world.account(self.owner, "facebook").display_name
        if plan.layout == "facebook-2018":
            profile = {"profile": {"name": {"full_name": name}}}
            members[wrapper + "profile_information/profile_information.json"] = meta_json(profile)
        else:
            profile = {"profile_v2": {"name": {"full_name": name, "first_name": self.owner.forename, "middle_name": "",
                                               "last_name": self.owner.surname},
                                      "registration_timestamp": int(plan.exported.timestamp()) - rng.randrange(10**8, 5 * 10**8)}}
            folder = "personal_information/profile_information/" if plan.layout == "facebook-2022" else "profile_information/"
            members[wrapper + folder + "profile_information.json"] = meta_json(profile)
        if plan.layout == "facebook-2022" and rng.random() < 0.3:  # suggestions: never rows, even if they name pupils
            suggestions = self.suggestions(rng)
            members[wrapper + "connections/friends/people_you_may_know.json"] = meta_json(
                {"media": [], "label_values": [{"label": "Friend suggestions",
                                                "vec": [{"value": s} for s in suggestions]}],
                 "fbid": str(rng.randrange(10**14, 10**15))})
        return f"facebook-{slug}-{day}-{_token(rng, 8)}.zip", members

    def suggestions(self, rng: random.Random) -> list[str]:
        """Names Facebook suggests (pupils of the school among them): a file beside the lists
        that is not a list of connections, so never a row."""
        pupils = self.world.pupils.get(self.member.school.ref, [])
        people = rng.sample(pupils, min(4, len(pupils)))
        people += [self.world.stranger(rng, f"{self.owner.ref}-pymk-{n}", self.member.school) for n in range(rng.randint(3, 12))]
        return [f"{person.preferred or person.forename} {person.surname}" for person in people]

    # Instagram
    def instagram(self) -> tuple[str, dict[str, bytes]]:
        plan, rng = self.plan, self.rng
        handle = self.world.account(self.owner, "instagram").username or "me"
        name = f"instagram-{handle}-{plan.exported.date().isoformat()}-{rng.randrange(10**6, 10**7)}.zip"
        if plan.layout == "instagram-2018":
            return name, {"connections.json": self.instagram_2018()}
        folder = {"instagram-2023": "connections/followers_and_following/",
                  "instagram-2025": "connections/followers_and_following/",
                  "instagram-2023-early": "followers_and_following/",
                  "instagram-2020": "followers_and_following/"}[plan.layout]

        def item(entry: Entry, title_form: bool = False) -> dict:
            username, ts = entry.account.username, entry.ts
            if title_form:  # late 2025: the username in title, no value, a /_u/ link
                return {"title": username, "string_list_data": [
                    {"href": f"https://www.instagram.com/_u/{username}", "timestamp": ts}]}
            return {"title": "", "media_list_data": [], "string_list_data": [
                {"href": f"https://www.instagram.com/{username}", "value": username, "timestamp": ts}]}

        members: dict[str, bytes] = {}
        followers = [item(e) for e in _newest_first(self.by_kind("follower", "mutual"))]
        if plan.layout == "instagram-2020":
            members[folder + "followers.json"] = meta_json({"relationships_followers": followers})
        else:
            members[folder + ("followers.json" if plan.layout == "instagram-2023-early" else "followers_1.json")] = \
                meta_json(followers)
        for kind, file in INSTAGRAM_FILES.items():
            entries = self.by_kind(kind, "mutual") if kind == "following" else self.by_kind(kind)
            if entries or kind == "following":
                title_form = plan.layout == "instagram-2025" and kind == "following"
                members[folder + file] = meta_json({INSTAGRAM_KEYS[kind]: [item(e, title_form) for e in _newest_first(entries)]})
        if plan.layout != "instagram-2020":
            members["personal_information/personal_information/personal_information.json"] = meta_json({"profile_user": [{
                "media_map_data": {}, "string_map_data": {
                    "Email": {"href": "", "value": self.owner.email or "", "timestamp": 0},
                    "Username": {"href": "", "value": handle, "timestamp": 0},
                    "Name": {"href": "", "value": f"{self.owner.forename} {self.owner.surname}", "timestamp": 0}}}]})
        return name, members

    def instagram_2018(self) -> bytes:
        def block(*kinds: str) -> dict[str, str]:
            return {e.account.username or "": _stamp(e.ts or 0, "%Y-%m-%dT%H:%M:%S+00:00")
                    for e in _newest_first(self.by_kind(*kinds))}

        doc = {"close_friends": block("close_friend"), "follow_requests_sent": block("request_sent"),
               "followers": block("follower", "mutual"), "following": block("following", "mutual"),
               "blocked_users": {}, "restricted_users": {}, "dismissed_suggested_users": {}, "following_hashtags": {}}
        return pretty_json(doc, 2, ascii_only=True).encode()

    # TikTok
    def tiktok(self) -> tuple[str, dict[str, bytes]]:
        plan = self.plan
        handle = self.world.account(self.owner, "tiktok").username

        def people(*kinds: str) -> list[dict] | None:
            items = [{"Date": _stamp(e.ts or 0), "UserName": e.account.username}
                     for e in _newest_first(self.by_kind(*kinds))]
            return items or None  # TikTok writes an empty list as null

        fans, following = people("follower", "mutual"), people("following", "mutual")
        if plan.layout == "tiktok-2019":
            doc = {"Activity": {"Follower List": {"FansList": fans}, "Following List": {"Following": following},
                                "Like List": {}, "Video Browsing History": {}},
                   "App Settings": {"Block List": {"BlockList": None}},
                   "Profile": {"Profile Information": {"ProfileMap": {"userName": handle}}}}
            member = "user_data.json"
        else:
            counts = {"followerCount": len(fans or []), "followingCount": len(following or [])}
            doc = {"Ads and data": {}, "App Settings": {"Block List": {"App": 1, "BlockList": None}, "Settings": {}},
                   "Comment": {}, "Direct Message": {}, "Income Plus Wallet Transactions": {}, "Location Review": {},
                   "Post": {}, "Profile": {"Profile Info": {"ProfileMap": {"userName": handle, **counts}}},
                   "TikTok Shop": {}, "Tiktok Live": {},
                   "Your Activity": {"Follower": {"App": 1, "IsFastLane": False, "FansList": fans},
                                     "Following": {"App": 1, "IsFastLane": False, "Following": following},
                                     "Like List": {}, "Login History": {}, "Watch History": {}}}
            member = "user_data_tiktok.json"
        body = pretty_json(doc, 2) + "\n\n"
        return f"TikTok_Data_{int(plan.exported.timestamp())}.zip", {member: body.encode()}

    # Snapchat
    def snapchat(self) -> tuple[str, dict[str, bytes]]:
        plan, rng = self.plan, self.rng
        name = f"mydata~{int(plan.exported.timestamp() * 1000)}.zip"
        if plan.layout == "snapchat-2020":
            doc = {section: [{"Username": e.account.username, "Display Name": e.account.display_name}
                             for e in self.by_kind(kind)]
                   for kind, section in (("friend", "Friends"), ("request_sent", "Friend Requests Sent"),
                                         ("blocked", "Blocked Users"), ("removed", "Deleted Friends"))}
            return name, {"json/friends.json": json.dumps(doc).encode()}

        def row(entry: Entry) -> dict:
            created = _stamp(entry.ts or 0) + " UTC"
            source = "added by phone" if entry.who.role == "contact" and rng.random() < 0.5 else rng.choice(SNAP_SOURCES)
            return {"Username": entry.account.username, "Display Name": entry.account.display_name,
                    "Creation Timestamp": created, "Last Modified Timestamp": created, "Source": source}

        sections = {title: [] for title in ("Friends", "Friend Requests Sent", "Blocked Users", "Deleted Friends",
                                             "Hidden Friend Suggestions", "Ignored Snapchatters", "Pending Requests")}
        for entry in _newest_first(self.entries):
            sections[SNAPCHAT_SECTIONS[entry.kind]].append(row(entry))
        shortcuts = [{"Shortcut Name": "".join(rng.sample(EMOJI, 2)), "Created": _stamp(int(plan.exported.timestamp())
                                                                                       - rng.randrange(10**7)) + " UTC"}
                     for _ in range(rng.randrange(3))]
        doc = {**sections, "Shortcuts": shortcuts}
        compact = rng.random() < 0.5
        if compact:  # one line, as the 2024 exports are
            text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        else:
            text = pretty_json(doc, 1)
        members = {"json/friends.json": text.encode()}
        if rng.random() < 0.4:  # "Export JSON files" also keeps the HTML pages; only the JSON is read
            members["html/friends.html"] = self.snapchat_html(doc).encode()
        return name, members

    @staticmethod
    def snapchat_html(doc: dict[str, list[dict]]) -> str:
        from html import escape

        parts = ['<!DOCTYPE html>\n<head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
                 "<title></title></head><body><div class=\"rightpanel\"><h1>Friends</h1>"]
        for section, rows in doc.items():
            if not rows:
                continue
            columns = list(rows[0])
            parts.append(f"<h3>{escape(section)}</h3><table>")
            parts.append("<tr>" + "".join(f"<th><b>{escape(c)}</b></th>" for c in columns) + "</tr>")
            for row in rows:
                parts.append("<tr>" + "".join(f"<td>{escape(str(row[c]))}</td>" for c in columns) + "</tr>")
            parts.append("</table>")
        parts.append("</div></body></html>")
        return "".join(parts)

    # LinkedIn
    def linkedin(self) -> tuple[str, dict[str, bytes]]:
        plan, rng = self.plan, self.rng
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        connections = _newest_first(self.by_kind("connection"))
        if plan.layout == "linkedin-2018":
            writer.writerow(["First Name", "Last Name", "Email Address", "Company", "Position", "Connected On"])
            for e in connections:
                a = e.account
                email = a.email or _personal_email(rng, e.person.forename, e.person.surname, e.person.birth.year)
                when = datetime.fromtimestamp(e.ts or 0, UTC)
                stamp = f"{when.month}/{when.day}/{when:%y}, {when.hour % 12 or 12}:{when:%M} {when:%p}"
                writer.writerow([self.first(a), a.family, email, a.company, a.position, stamp])
            body = out.getvalue()
        else:
            out.write(LINKEDIN_NOTES)
            writer.writerow(["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"])
            for e in connections:
                a, stamp = e.account, _stamp(e.ts or 0, "%d %b %Y")
                if e.who is HIDDEN:
                    writer.writerow(["", "", "", "", "", "", stamp])
                else:
                    writer.writerow([self.first(a), a.family, a.url, a.email or "", a.company, a.position, stamp])
            body = out.getvalue().rstrip("\n")  # LinkedIn leaves no newline after the last row
        members = {"Connections.csv": body.encode()}
        day = plan.exported.strftime("%m-%d-%Y")
        if plan.invitations:
            members["Invitations.csv"] = self.invitations().encode()
            return f"Complete_LinkedInDataExport_{day}.zip", members
        return f"Basic_LinkedInDataExport_{day}.zip", members

    @staticmethod
    def first(account: Account) -> str:
        return " ".join(p for p in (account.given, account.middle) if p)

    def invitations(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["From", "To", "Sent At", "Message", "Direction", "inviterProfileUrl", "inviteeProfileUrl"])
        me = self.world.account(self.owner, "linkedin")
        for e in _newest_first(self.by_kind("request_received", "request_sent")):
            when = datetime.fromtimestamp(e.ts or 0, UTC)
            stamp = f"{when.month}/{when.day}/{when:%y}, {when.hour % 12 or 12}:{when:%M} {when:%p}"
            if e.kind == "request_received":
                writer.writerow([e.account.display_name, me.display_name, stamp, "", "INCOMING", e.account.url, me.url])
            else:
                writer.writerow([me.display_name, e.account.display_name, stamp, "", "OUTGOING", me.url, e.account.url])
        return out.getvalue()

    # phone contacts
    def vcard(self) -> tuple[str, dict[str, bytes]]:
        plan, rng = self.plan, self.rng
        cards = [self.card(e) for e in sorted(self.entries, key=lambda e: e.account.display_name.lower())]
        body = "".join(cards).encode("utf-8")
        if plan.layout == "vcard-3.0-google":
            stamp = plan.exported.strftime("%Y%m%dT%H%M%SZ")
            return f"takeout-{stamp}-001.zip", {"Takeout/Contacts/My Contacts/My Contacts.vcf": body}
        if plan.layout == "vcard-2.1":
            return "contacts.zip", {rng.choice(("contacts.vcf", "00001.vcf", "Contacts.vcf")): body}
        owner = f"{self.owner.forename} {self.owner.surname}"
        return "contacts.zip", {f"{owner} and {max(0, len(cards) - 1)} others.vcf": body}

    def card(self, entry: Entry) -> str:
        a, layout, rng = entry.account, self.plan.layout, self.rng
        phone = a.phone or ""
        digits = phone.replace(" ", "")
        phone = rng.choice((phone, digits, "+44 " + digits[1:5] + " " + digits[5:], "+44" + digits[1:])) if digits else ""
        if layout == "vcard-2.1":
            lines = ["BEGIN:VCARD", "VERSION:2.1", _qp("N", f"{a.family};{a.given};{a.middle};;"),
                     _qp("FN", a.display_name)]
            if phone:
                lines.append(f"TEL;CELL:{phone}")
            if a.email:
                lines.append(f"EMAIL;HOME:{a.email}")
        else:
            n = ";".join(_vesc(p) for p in (a.family, a.given, a.middle, "", ""))
            lines = ["BEGIN:VCARD", "VERSION:3.0"]
            if layout == "vcard-3.0-iphone":
                lines += ["PRODID:-//Apple Inc.//iPhone OS 18.1//EN", f"N:{n}", f"FN:{_vesc(a.display_name)}"]
                if phone:
                    lines.append(f"TEL;type=CELL;type=VOICE;type=pref:{phone}")
                if a.email:
                    lines.append(f"EMAIL;type=INTERNET;type=HOME;type=pref:{a.email}")
            else:
                lines += [f"FN:{_vesc(a.display_name)}", f"N:{n}"]
                if a.email:
                    lines.append(f"EMAIL;TYPE=INTERNET;TYPE=HOME:{a.email}")
                if phone:
                    lines.append(f"TEL;TYPE=CELL:{phone}")
                lines.append("CATEGORIES:myContacts")
            lines = [_fold(line) for line in lines]
        lines.append("END:VCARD")
        return "\r\n".join(lines) + "\r\n"


def _vesc(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")


def _fold(line: str) -> str:
    """vCard 3.0 folding: lines over 75 octets continue on the next line after a space."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts, current = [], ""
    for ch in line:
        if len((current + ch).encode("utf-8")) > (75 if not parts else 74):
            parts.append(current)
            current = ""
        current += ch
    parts.append(current)
    return "\r\n ".join(parts)


def _qp(name: str, value: str) -> str:
    """A vCard 2.1 property: plain when ASCII, else UTF-8 quoted-printable with soft line breaks."""
    if value.isascii():
        return f"{name}:{value}"
    encoded = "".join(f"={b:02X}" if b > 126 or b == 61 else chr(b) for b in value.encode("utf-8"))
    head = f"{name};CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:"
    lines, line = [], head
    i = 0
    while i < len(encoded):
        token = encoded[i:i + 3] if encoded[i] == "=" else encoded[i]
        if len(line) + len(token) > 75:
            lines.append(line + "=")
            line = ""
        line += token
        i += len(token)
    lines.append(line)
    return "\r\n".join(lines)


# -- truth ---------------------------------------------------------------------------------------
def truth_row(staff_ref: str, file: str, plan: ExportPlan, entry: Entry) -> dict:
    """What truth.json says about one imported row."""
    a, who = entry.account, entry.who
    display: str | None = a.display_name or None
    username: str | None = a.username
    if plan.platform in ("instagram", "tiktok"):
        display = None
    elif plan.platform in ("facebook", "vcard") or (plan.platform == "linkedin" and plan.layout == "linkedin-2018"):
        username = None
    if who is HIDDEN:
        display = username = None
    tier = a.tier if who.role in ROSTER_ROLES else "adult"
    return {"staff_ref": staff_ref, "file": file, "platform": plan.platform, "relationship": entry.kind,
            "display_name": display, "username": username, "person_ref": who.ref, "role": who.role,
            "truth_kind": who.kind, "tier": tier, "age": who.age, "school": who.school}


# -- the world folder ----------------------------------------------------------------------------
@dataclass
class WorldSummary:
    """What was written, for the demo's table and the benchmark's report."""

    path: Path
    profile: str
    seed: int
    as_of: date
    schools: int = 0
    pupils: int = 0
    past_pupils: int = 0
    contacts: int = 0
    staff: int = 0
    exemptions: int = 0
    exports: int = 0
    rows: int = 0
    roster_rows: int = 0  # rows whose account belongs to a pupil, past pupil or contact
    bytes: int = 0
    by_platform: dict[str, int] = field(default_factory=dict)
    by_layout: dict[str, int] = field(default_factory=dict)
    by_role: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["path"], data["as_of"] = str(self.path), self.as_of.isoformat()
        return data


def _write_csv(path: Path, header: list[str], rows: Iterable[Iterable[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def write_roster(folder: Path, roster: Roster) -> None:
    """The canonical roster CSV folder of DESIGN.md."""
    folder.mkdir(parents=True)
    _write_csv(folder / "schools.csv", ["school", "name", "urn", "la", "estab"],
               ([s.ref, s.name, s.urn, s.la, s.estab] for s in roster.schools))
    _write_csv(folder / "pupils.csv", ["pupil_id", "upn", "legal_forename", "legal_surname", "preferred_forename",
                                       "middle_names", "date_of_birth", "school", "year_group", "admission_date",
                                       "leaving_date"],
               ([p.ref, p.upn, p.forename, p.surname, p.preferred, p.middle, p.birth.isoformat(), p.school,
                 p.year_group, _iso(p.admitted), _iso(p.left)] for p in roster.pupils))
    links = []
    for family in roster.families:
        for child in family.children:
            for priority, carer in enumerate(family.carers, start=1):
                c = carer.person
                links.append((c.ref or "", child.ref or "", c.title, c.forename, c.surname, carer.relationship,
                              "true" if carer.responsible else "false", priority, c.email or "", c.phone or ""))
    links.sort(key=lambda row: (row[0], row[1]))
    _write_csv(folder / "contacts.csv", ["contact_id", "pupil_id", "title", "forename", "surname", "relationship",
                                         "parental_responsibility", "priority", "email", "mobile_phone"], links)
    _write_csv(folder / "staff.csv", ["staff_id", "forename", "surname", "email", "school", "role"],
               ([m.person.ref, m.person.forename, m.person.surname, m.person.email, m.school.ref, m.role]
                for m in roster.staff))


def _zip(path: Path, members: dict[str, bytes], when: datetime) -> None:
    """A zip whose bytes depend only on its contents and ``when`` (no clock, fixed order)."""
    stamp = (max(1980, when.year), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])


class TruthWriter:
    """truth.json written row by row, so the trust profile never holds every row at once."""

    def __init__(self, path: Path, as_of: date, profile: str, seed: int) -> None:
        self.handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        head = json.dumps({"as_of": as_of.isoformat(), "profile": profile, "seed": seed})
        self.handle.write(head[:-1] + ', "rows": [')
        self.count = 0

    def add(self, rows: list[dict]) -> None:
        """One export's rows, on one line (the C encoder writes a list far faster than rows one by one)."""
        if rows:
            self.handle.write(("\n" if not self.count else ",\n") + json.dumps(rows, ensure_ascii=False)[1:-1])
            self.count += len(rows)

    def close(self) -> None:
        self.handle.write("\n]}\n")
        self.handle.close()


def generate_world(out: Path, profile: str = "demo", seed: int = 1, as_of: date = DEFAULT_AS_OF) -> WorldSummary:
    """Write a synthetic world into ``out`` (which must not exist yet, or be empty)."""
    if profile not in PROFILES:
        raise InputError(f"unknown world profile {profile!r}", hint=f"choose one of: {', '.join(PROFILES)}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: already exists and is not an empty folder; choose a new folder")
    plan = PROFILES[profile]
    names = name_bank()
    roster = RosterBuilder(plan, seed, as_of, names).build()
    out.mkdir(parents=True, exist_ok=True)
    write_roster(out / "roster", roster)
    _write_csv(out / "exemptions.csv", ["staff_ref", "person_ref", "relationship", "approved_by", "review_date"],
               roster.exemptions)
    summary = WorldSummary(path=out, profile=profile, seed=seed, as_of=as_of, schools=len(roster.schools),
                           pupils=sum(1 for p in roster.pupils if not p.left),
                           past_pupils=sum(1 for p in roster.pupils if p.left),
                           contacts=len({c.person.ref for f in roster.families for c in f.carers}),
                           staff=len(roster.staff), exemptions=len(roster.exemptions))
    world = World(roster, plan, seed, as_of, names)
    platforms, layouts, roles = Counter(), Counter(), Counter()
    truth = TruthWriter(out / "truth.json", as_of, profile, seed)
    manifest: list[tuple[str, str]] = []
    try:
        for index, member in enumerate(roster.staff):
            ref = member.person.ref or ""
            exports = StaffExports(world, member, index)
            plans = exports.plans()
            folder = out / "exports" / ref
            folder.mkdir(parents=True)
            for export_plan, entries in zip(plans, exports.entries(plans), strict=True):
                name, members = ExportWriter(world, member, export_plan, entries).archive()
                _zip(folder / name, members, export_plan.exported)
                relative = f"exports/{ref}/{name}"
                manifest.append((ref, relative))
                rows = [truth_row(ref, relative, export_plan, entry) for entry in entries]
                truth.add(rows)
                roles.update(row["role"] for row in rows)
                platforms[export_plan.platform] += len(entries)
                layouts[export_plan.layout] += 1
    finally:
        truth.close()
    _write_csv(out / "manifest.csv", ["staff_ref", "path"], manifest)
    summary.exports, summary.rows = len(manifest), truth.count
    summary.roster_rows = sum(roles[r] for r in ROSTER_ROLES)
    summary.by_platform, summary.by_layout, summary.by_role = dict(platforms), dict(layouts), dict(roles)
    summary.bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return summary
