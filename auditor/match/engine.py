"""The matcher: who is each contact account? An explicit Fellegi–Sunter model.

For each account we read its display name and handle several ways (``Reading``), look up the
roster people those readings could be through blocking dictionaries (never a loop over the
whole roster), and score each pair as a sum of log2 Bayes factors, one per comparison, each at
a named level of an ordered ladder (forename: exact legal, exact preferred, nickname, spelling
variant, Jaro-Winkler bands, phonetic, initial, missing, conflicting; surname likewise; birth
year; phone; e-mail; platform age plausibility). Agreement on a value earns more when the
value is rare in the roster (term-frequency adjustment), and a reference table of common
British surnames keeps a small school from mistaking Smith for a rare name.

A candidate is *probable* only with two independent agreeing pieces of evidence (full name +
birth year, a full name rare in the roster, a full name + middle name, or an exact phone or
e-mail); otherwise *needs review* above a lower threshold; otherwise no link. Two people within
a small margin make the match ambiguous (needs review, alternatives listed). A member of staff
who fits as well as a pupil or parent wins: a colleague is never turned into an accusation.

Everything here is pure: the roster and accounts come in, candidates with their evidence go out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import jellyfish
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from auditor.match.names import (
    HandleParse,
    ParsedName,
    Reading,
    birth_years,
    compact,
    fold,
    handle_token_sequences,
    parse_display_name,
    parse_handle,
    readings_from_tokens,
)
from auditor.match.nicknames import forms, related
from auditor.match.reference import reference_surname_frequency

MATCHER_VERSION = "2"


@dataclass(frozen=True)
class Thresholds:
    """Match weights are log2 odds; 0 is even odds."""

    probable: float = 3.0  # p ≥ 0.89, with corroboration (birth year, middle name, phone ...)
    probable_name_only: float = 5.0  # p ≥ 0.97: namesakes exist, so a name alone must be rare
    review: float = -2.5  # p ≥ 0.15 for a name alone
    review_with_year: float = -4.0  # p ≥ 0.06 when a full forename and a birth year agree
    keep: float = -4.5  # candidates kept for per-connection corroboration
    ambiguity_margin: float = 1.5  # bits between the best two people
    colleague_margin: float = 1.0  # a staff member this close to the best wins
    min_tf: float = 1 / 5000  # no name is treated as rarer than this in the population
    rare_full_name: float = 0.02  # expected roster people sharing a full name by chance
    # Near spellings. m: how often a contact who *is* the roster person writes the name a typing
    # error or a sound-alike away (misspelt, letters swapped, phonetic spelling). u comes from
    # the roster itself: the share of people whose name is that near (see RosterIndex.near_u).
    m_typo: float = 0.05
    m_sounds: float = 0.03
    near_floor: float = 0.001  # a name nobody on the roster is near is still near someone's
    # The prior: the share of contacts expected to be someone on the roster. A member of staff's
    # contacts are mostly other adults (a few per cent are pupils, parents or colleagues); a
    # linkage task where most records have a partner sets it higher.
    roster_share: float = 0.03


DEFAULT_THRESHOLDS = Thresholds()


# -- inputs ----------------------------------------------------------------------------------
@dataclass
class RosterEntry:
    """One roster person, as the matcher sees them on the audit date."""

    person_id: int
    kind: str  # pupil | contact | staff
    role: str  # pupil | past_pupil | future_pupil | parent_carer | staff
    legal_forename: str | None
    legal_surname: str | None
    preferred_forename: str | None = None
    preferred_surname: str | None = None
    middle_names: str | None = None
    former_surname: str | None = None
    title: str | None = None
    birth_year: int | None = None
    age: int | None = None
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    schools: frozenset[int] = frozenset()
    # derived by prepare()
    forenames: dict[str, str] = field(default_factory=dict)  # folded -> legal | preferred
    surnames: dict[str, str] = field(default_factory=dict)  # compact -> legal | preferred | former
    surname_parts: frozenset[str] = frozenset()
    middles: frozenset[str] = frozenset()

    def prepare(self) -> RosterEntry:
        for value, how in ((self.legal_forename, "legal"), (self.preferred_forename, "preferred")):
            tokens = parse_display_name(value).tokens if value else ()
            if tokens:
                self.forenames.setdefault(tokens[0], how)
                if "-" in tokens[0]:  # Mary-Jane: also Mary
                    self.forenames.setdefault(tokens[0].split("-")[0], how)
        parts: set[str] = set()
        for value, how in ((self.legal_surname, "legal"), (self.preferred_surname, "preferred"),
                           (self.former_surname, "former")):
            if value:
                folded = fold(value)
                if folded:
                    self.surnames.setdefault(compact(folded), how)
                    pieces = [p for p in folded.replace("-", " ").split() if len(p) >= 2]
                    if len(pieces) > 1:
                        parts.update(pieces)
        self.surname_parts = frozenset(parts)
        self.middles = frozenset(parse_display_name(self.middle_names).tokens) if self.middle_names else frozenset()
        return self

    @property
    def is_adult(self) -> bool:
        return self.kind in ("contact", "staff") or (self.age is not None and self.age >= 18)


@dataclass
class AccountView:
    """What an export says about one contact account."""

    account_id: int
    platform: str
    display_name: str | None = None
    username: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass
class Evidence:
    comparison: str
    level: str
    weight: float

    def as_dict(self) -> dict:
        return {"comparison": self.comparison, "level": self.level, "weight": round(self.weight, 2)}


@dataclass
class Candidate:
    person_id: int
    weight: float
    evidence: list[Evidence]
    pieces: int  # independent agreeing pieces of evidence
    reading: str
    year_agrees: bool = False  # a birth year agrees and the forename is written in full
    name_only: bool = True  # no evidence beyond the name (no year, middle name, phone, e-mail)
    band: str = "no_link"
    ambiguous: bool = False
    alternatives: list[int] = field(default_factory=list)

    @property
    def probability(self) -> float:
        return 1.0 / (1.0 + 2.0 ** (-self.weight))


# -- the roster index ------------------------------------------------------------------------
class RosterIndex:
    """Blocking dictionaries and term frequencies over the roster."""

    def __init__(self, entries: Iterable[RosterEntry], as_of_year: int,
                 thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.entries: list[RosterEntry] = [e.prepare() for e in entries]
        self.as_of_year = as_of_year
        self.t = thresholds
        n = max(len(self.entries), 1)
        self.n = n
        fore_count: dict[str, int] = defaultdict(int)
        adult_fore_count: dict[str, int] = defaultdict(int)
        adults = 0
        sur_count: dict[str, int] = defaultdict(int)
        middle_count: dict[str, int] = defaultdict(int)
        self.by_fore: dict[str, list[int]] = defaultdict(list)  # forename (and its forms) -> entries
        self.by_sur: dict[str, list[int]] = defaultdict(list)  # compact surname or part -> entries
        self.by_phone: dict[str, list[int]] = defaultdict(list)
        self.by_email: dict[str, list[int]] = defaultdict(list)
        self.by_phonetic: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_fore_year: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.by_fore_surinitial: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_fore_sur: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_foreinitial_sur: dict[tuple[str, str], list[int]] = defaultdict(list)
        lexicon: set[str] = set()
        for i, e in enumerate(self.entries):
            keys_f: set[str] = set()
            adults += e.kind != "pupil"
            for f in e.forenames:
                fore_count[f] += 1
                if e.kind != "pupil":
                    adult_fore_count[f] += 1
                keys_f.add(f)
                keys_f.update(forms(f))
                lexicon.add(f)
                lexicon.update(x for x in forms(f) if len(x) >= 2)
            for k in keys_f:
                self.by_fore[k].append(i)
                if e.birth_year:
                    self.by_fore_year[(k, e.birth_year)].append(i)
            keys_s: set[str] = set(e.surnames) | set(e.surname_parts)
            for s in e.surnames:
                sur_count[s] += 1
            for s in keys_s:
                self.by_sur[s].append(i)
                lexicon.add(s)
            for m in e.middles:
                middle_count[m] += 1
            for phone in e.phones:
                self.by_phone[phone].append(i)
            for email in e.emails:
                self.by_email[email].append(i)
            for f in e.forenames:
                for s in e.surnames:
                    self.by_phonetic[(_phonetic(f), _phonetic(s))].append(i)
            for k in keys_f:
                for initial in {x[0] for x in e.surnames}:
                    self.by_fore_surinitial[(k, initial)].append(i)
                for sk in keys_s:
                    self.by_fore_sur[(k, sk)].append(i)
            for initial in {x[0] for x in e.forenames}:
                for sk in keys_s:
                    self.by_foreinitial_sur[(initial, sk)].append(i)
        self.lexicon = frozenset(w for w in lexicon if len(w) >= 2)
        self.surname_lexicon = frozenset(k for k in self.by_sur if len(k) >= 2)
        self.by_person = {e.person_id: e for e in self.entries}
        self.memo = _Memo()
        self.fore_tf = {k: v / n for k, v in fore_count.items()}
        # The accounts that are *not* roster people are overwhelmingly adults, so a forename's
        # chance agreement is its frequency among the roster's adults (parents, carers, staff):
        # Aria or Freddie rarely, Simon or Karen often. Half a count smooths names no adult has.
        self.adults = max(adults, 1)
        self.adult_fore_count = dict(adult_fore_count)
        self.fore_count = dict(fore_count)
        self.fore_u: dict[str, float] = {}
        self.sur_u: dict[str, float] = {}
        self.sur_tf = {k: v / n for k, v in sur_count.items()}
        self.middle_tf = {k: v / n for k, v in middle_count.items()}
        # initials
        fi: dict[str, int] = defaultdict(int)
        si: dict[str, int] = defaultdict(int)
        for e in self.entries:
            for f in e.forenames:
                fi[f[0]] += 1
            for s in e.surnames:
                si[s[0]] += 1
        self.fore_initial_tf = {k: v / n for k, v in fi.items()}
        self.sur_initial_tf = {k: v / n for k, v in si.items()}
        # distinct forenames per surname and surnames per forename, for fuzzy comparison in blocks
        self.fores_by_sur: dict[str, set[str]] = defaultdict(set)
        self.surs_by_fore: dict[str, set[str]] = defaultdict(set)
        for e in self.entries:
            for s in e.surnames:
                self.fores_by_sur[s].update(e.forenames)
            for f in e.forenames:
                self.surs_by_fore[f].update(e.surnames)
        self.prior = math.log2(thresholds.roster_share / n)
        schools: dict[int, int] = defaultdict(int)
        pupils = 0
        for e in self.entries:
            if e.kind == "pupil":
                pupils += 1
                for s in e.schools:
                    schools[s] += 1
        self.school_share = {k: v / max(pupils, 1) for k, v in schools.items()}
        # the chance agreement of every roster name, worked out once
        self.fore_u = {name: self.tf_fore(name) for name in fore_count}
        self.sur_u = {name: self.tf_sur(name) for name in sur_count}
        self.near_u_table: dict[tuple[str, str, str], float] = {}
        self._fore_names = list(fore_count)
        self._sur_names = list(sur_count)
        self._by_sound: dict[str, dict[str, list[str]]] = {"forename": defaultdict(list), "surname": defaultdict(list)}
        for kind, names in (("forename", self._fore_names), ("surname", self._sur_names)):
            for name in names:
                self._by_sound[kind][_phonetic(name)].append(name)

    # term frequencies, floored so that no name counts as rarer than the population allows
    def _mixed(self, count_adult: int, count_all: int) -> float:
        """Contacts who are someone else are mostly adults of the parents' generation and partly
        young adults, whose names look like today's pupils': a mixture of the roster's adult and
        overall forename frequencies (half a count smooths names nobody has)."""
        adult = (count_adult + 0.5) / self.adults
        overall = (count_all + 0.5) / self.n
        return max(0.75 * adult + 0.25 * overall, self.t.min_tf)

    def tf_fore(self, name: str) -> float:
        """Chance that a contact who is someone else has this forename."""
        cached = self.fore_u.get(name)
        if cached is not None:
            return cached
        if self.adults >= 50:
            return self._mixed(self.adult_fore_count.get(name, 0), self.fore_count.get(name, 0))
        return max(self.fore_tf.get(name, 0.0), 1.0 / self.n, self.t.min_tf)

    def tf_sur(self, name: str) -> float:
        cached = self.sur_u.get(name)
        if cached is not None:
            return cached
        return max(self.sur_tf.get(name, 0.0), reference_surname_frequency(name), 1.0 / self.n, self.t.min_tf)

    def tf_fore_group(self, name: str) -> float:
        names = [name, *forms(name)]
        if self.adults >= 50:
            return self._mixed(sum(self.adult_fore_count.get(x, 0) for x in names),
                               sum(self.fore_count.get(x, 0) for x in names))
        total = sum(self.fore_tf.get(x, 0.0) for x in names)
        return max(total, 1.0 / self.n, self.t.min_tf)


    def near_u(self, kind: str, name: str, how: str) -> float:
        """Chance that a contact who is someone else has a name near this roster name (Jaro-
        Winkler ≥ 0.92, or sounding alike) without being it: the roster's own names that near,
        weighted by frequency, floored. A name with many near neighbours (Jon, Joan, John) earns
        less for a near spelling than one with none (Siobhan). Worked out once per name."""
        key = (kind, name, how)
        cached = self.near_u_table.get(key)
        if cached is not None:
            return cached
        names, tf = (self._fore_names, self.tf_fore) if kind == "forename" else (self._sur_names, self.tf_sur)
        if how == "sounds":
            sound = _phonetic(name)
            near = [x for x in self._by_sound[kind].get(sound, ()) if x != name]
        else:
            near = [x for x, _s, _i in process.extract(name, names, scorer=JaroWinkler.normalized_similarity,
                                                      score_cutoff=0.92, limit=None) if x != name]
        mass = sum(tf(x) for x in near)
        self.near_u_table[key] = value = max(mass, self.t.near_floor)
        return value

    def precompute_near(self) -> None:
        """Work out ``near_u`` for every roster name now (the self-check kit carries the table,
        since it holds no names to work it out from)."""
        for kind, names in (("forename", self._fore_names), ("surname", self._sur_names)):
            for name in names:
                self.near_u(kind, name, "typo")
                self.near_u(kind, name, "sounds")


@lru_cache(maxsize=200_000)
def _phonetic(name: str) -> str:
    return jellyfish.metaphone(name.replace("-", "")) or name


@lru_cache(maxsize=500_000)
def _jw(a: str, b: str) -> float:
    return JaroWinkler.normalized_similarity(a, b)


# -- comparisons -----------------------------------------------------------------------------
def log2(x: float) -> float:
    return math.log2(max(x, 1e-12))


class _Memo:
    """Comparisons already made, by (name, person): names repeat across thousands of contacts."""

    LIMIT = 400_000

    def __init__(self) -> None:
        self.fore: dict = {}
        self.sur: dict = {}
        self.bound: dict = {}

    def get(self, table: dict, key, compute):
        hit = table.get(key)
        if hit is None:
            if len(table) > self.LIMIT:
                table.clear()
            hit = table[key] = compute()
        return hit


class NoMemo(_Memo):
    """For indexes whose entries change between contacts (the self-check's): nothing is kept."""

    def get(self, table: dict, key, compute):
        return compute()


def compare_forename(index: RosterIndex, reading: Reading, e: RosterEntry) -> tuple[Evidence, bool]:
    """Forename ladder. Returns the evidence and whether it is an agreement on the name."""
    return index.memo.get(index.memo.fore, (reading.forename, e.person_id), lambda: _compare_forename(index, reading, e))


def compare_surname(index: RosterIndex, reading: Reading, e: RosterEntry) -> tuple[Evidence, bool]:
    return index.memo.get(index.memo.sur, (reading.surname, e.person_id), lambda: _compare_surname(index, reading, e))


def _initial_evidence(index: RosterIndex, comparison: str, letter: str, names) -> Evidence:
    """A name written as its initial: agreement is worth as much as the letter is rare, and never
    more than the whole name would be (on a roster where only one surname starts with V, "V" is
    still not better evidence than the surname itself)."""
    agreeing = [name for name in names if name[0] == letter]
    if agreeing:
        if comparison == "forename":
            table, whole = index.fore_initial_tf, max(log2(0.88 / index.tf_fore(n)) for n in agreeing)
        else:
            table, whole = index.sur_initial_tf, max(log2(0.9 / index.tf_sur(n)) for n in agreeing)
        return Evidence(comparison, "initial agrees", min(log2(0.95 / table.get(letter, 0.05)), whole))
    return Evidence(comparison, "initial conflicts", log2(0.03 / 0.93))


def _compare_forename(index: RosterIndex, reading: Reading, e: RosterEntry) -> tuple[Evidence, bool]:
    f = reading.forename
    if not f:
        return Evidence("forename", "missing", 0.0), False
    if reading.forename_is_initial:
        return _initial_evidence(index, "forename", f, e.forenames), False
    best: Evidence | None = None
    for name, how in e.forenames.items():
        if f == name:
            level = "exact legal" if how == "legal" else "exact preferred"
            return Evidence("forename", level, log2(0.88 / index.tf_fore(name))), True
        kind = related(f, name)
        if kind:
            weight = log2((0.6 if kind == "nickname" else 0.5) / index.tf_fore_group(name))
            candidate = Evidence("forename", kind, weight)
            if best is None or candidate.weight > best.weight:
                best = candidate
    if best is not None:
        return best, True
    if len(f) >= 3:
        top = max((_jw(f, name), name) for name in e.forenames) if e.forenames else (0.0, "")
        if top[0] >= 0.92 and len(f) >= 4:
            u = index.near_u("forename", top[1], "typo")
            return Evidence("forename", "Jaro-Winkler ≥ 0.92", log2(index.t.m_typo / u)), True
        sound = next((name for name in e.forenames if _phonetic(f) == _phonetic(name)), None)
        if sound:
            u = index.near_u("forename", sound, "sounds")
            return Evidence("forename", "sounds alike", log2(index.t.m_sounds / u)), True
        if top[0] >= 0.85 and len(f) >= 4:
            return Evidence("forename", "Jaro-Winkler ≥ 0.85", log2(0.01 / 0.007)), False
    if not e.forenames:
        return Evidence("forename", "missing", 0.0), False
    return Evidence("forename", "conflicts", log2(0.03 / 0.95)), False


def _compare_surname(index: RosterIndex, reading: Reading, e: RosterEntry) -> tuple[Evidence, bool]:
    s = reading.surname
    if not s:
        return Evidence("surname", "missing", 0.0), False
    if reading.surname_is_initial:
        return _initial_evidence(index, "surname", s, e.surnames), False
    c = compact(s)
    for name, how in e.surnames.items():
        if c == name:
            level = "exact" if how == "legal" else f"exact {how}"
            return Evidence("surname", level, log2(0.9 / index.tf_sur(name))), True
    reading_parts = {p for p in s.replace("-", " ").split() if len(p) >= 2}
    if c in e.surname_parts:
        return Evidence("surname", "one part of the roster's double-barrelled name",
                        log2(0.3 / index.tf_sur(c))), True
    if len(reading_parts) > 1 and reading_parts & set(e.surnames):
        shared = next(iter(sorted(reading_parts & set(e.surnames))))
        return Evidence("surname", "the roster's name is one part of a double-barrelled name",
                        log2(0.1 / index.tf_sur(shared))), True
    if len(c) >= 3 and e.surnames:
        top, nearest = max((_jw(c, name), name) for name in e.surnames)
        if top >= 0.92 and len(c) >= 4:
            u = index.near_u("surname", nearest, "typo")
            return Evidence("surname", "Jaro-Winkler ≥ 0.92", log2(index.t.m_typo / u)), True
        sound = next((name for name in e.surnames if _phonetic(c) == _phonetic(name)), None)
        if sound:
            u = index.near_u("surname", sound, "sounds")
            return Evidence("surname", "sounds alike", log2(index.t.m_sounds / u)), True
        if top >= 0.85 and len(c) >= 4:
            return Evidence("surname", "Jaro-Winkler ≥ 0.85", log2(0.01 / 0.007)), False
    if not e.surnames:
        return Evidence("surname", "missing", 0.0), False
    return Evidence("surname", "conflicts", log2(0.02 / 0.97)), False


def compare_middle(index: RosterIndex, reading: Reading, e: RosterEntry) -> Evidence | None:
    if not reading.middles:
        return None
    if not e.middles:
        return Evidence("middle name", "not on the roster", -0.5)
    shared = set(reading.middles) & e.middles
    if shared:
        rarest = min(index.middle_tf.get(m, 1 / index.n) for m in shared)
        return Evidence("middle name", "agrees", min(log2(0.9 / max(rarest, index.t.min_tf)), 8.0))
    return Evidence("middle name", "conflicts", -1.0)


BIRTH_YEAR_MAX = math.log2(0.9 / 0.004)  # the most a birth year adds (four digits, a child's);
# a year more than one out from the person's, or a person with no birth year, adds nothing


def compare_birth_year(index: RosterIndex, years: list[tuple[int, str]], e: RosterEntry) -> Evidence | None:
    if not years:
        return None
    if e.birth_year is None:
        # Parents and staff carry no date of birth: a handle year can still say "a child".
        youngest = max(year for year, _ in years)
        if e.is_adult and index.as_of_year - youngest < 16:
            strength = "yyyy" if any(s == "yyyy" and y == youngest for y, s in years) else "yy"
            return Evidence("age plausibility", f"handle year {youngest} is a child's, not an adult's",
                            -4.0 if strength == "yyyy" else -1.0)
        return None
    best: Evidence | None = None
    for year, strength in years:
        delta = abs(year - e.birth_year)
        # A year that would make the account holder a child is rare in adults' handles, so its
        # agreement says more than an adult's year does.
        childs = index.as_of_year - year < 18
        if strength == "yyyy":
            if delta == 0:
                ev = Evidence("birth year", f"{year} agrees", log2(0.9 / (0.004 if childs else 0.02)))
            elif delta == 1:
                ev = Evidence("birth year", f"{year} is one year out", log2(0.07 / (0.008 if childs else 0.04)))
            else:
                ev = Evidence("birth year", f"{year} conflicts", log2(0.03 / 0.9))
        else:
            label = f"'{str(year)[2:]}' read as {year}"
            if delta == 0:
                ev = Evidence("birth year", f"{label} agrees", log2(0.55 / (0.012 if childs else 0.03)))
            elif delta == 1:
                ev = Evidence("birth year", f"{label} is one year out", 0.0)
            elif index.as_of_year - year >= 25 and e.birth_year > index.as_of_year - 18:
                ev = Evidence("birth year", f"{label} is an adult's year; this person is a child", -2.5)
            else:
                ev = Evidence("birth year", f"{label} conflicts", log2(0.45 / 0.96))
        if best is None or ev.weight > best.weight:
            best = ev
    return best


SOCIAL_PLATFORMS = frozenset({"facebook", "instagram", "threads", "tiktok", "snapchat", "twitter", "x",
                              "discord", "youtube", "bluesky", "mastodon"})
PHONE_BOOKS = frozenset({"vcard", "contacts", "google", "outlook", "phone"})


def compare_platform_age(platform: str, e: RosterEntry) -> Evidence | None:
    """How plausible an account on this platform is at the person's age: LinkedIn admits no one
    under 16; the social apps say 13, and below about 8 almost no child has an account of their
    own; young children rarely have a phone number in an adult's address book. Roblox and
    similar children's platforms carry no penalty."""
    age = e.age
    if age is None or e.kind != "pupil":
        return None
    if platform == "linkedin" and age < 16:
        return Evidence("platform", f"LinkedIn account, but aged {age}", -6.0)
    if platform in SOCIAL_PLATFORMS:
        if age <= 5:
            return Evidence("platform", f"{platform} account at age {age}", -5.0)
        if age <= 7:
            return Evidence("platform", f"{platform} account at age {age}", -2.5)
        if age <= 9:
            return Evidence("platform", f"{platform} account at age {age}", -0.5)
    if platform in PHONE_BOOKS or platform.startswith("contacts"):
        if age <= 7:
            return Evidence("platform", f"phone contact at age {age}", -4.0)
        if age <= 9:
            return Evidence("platform", f"phone contact at age {age}", -2.0)
        if age <= 11:
            return Evidence("platform", f"phone contact at age {age}", -0.5)
    return None


# -- readings of one account -----------------------------------------------------------------
@dataclass(frozen=True)
class AccountReadings:
    readings: tuple[Reading, ...]
    years: tuple[tuple[int, str], ...]
    title: str | None


def account_readings(index: RosterIndex, account: AccountView) -> AccountReadings:
    readings: list[Reading] = []
    years: list[tuple[int, str]] = []
    title = None
    if account.display_name:
        parsed: ParsedName = parse_display_name(account.display_name)
        title = parsed.title
        if parsed.title and len(parsed.tokens) == 1:
            readings.append(Reading(None, parsed.tokens[0], (), "name: title + surname"))
        else:
            readings += readings_from_tokens(parsed.tokens, "name")
        if len(parsed.tokens) == 1 and not parsed.title:
            for seq in handle_token_sequences(HandleParse(parsed.tokens, ()), index.lexicon,
                                              surnames=index.surname_lexicon):
                if len(seq) >= 2:
                    readings += [r for r in readings_from_tokens(seq, "name split") if r.forename and r.surname]
        years += birth_years(parsed.numbers, index.as_of_year)
    if account.username:
        handle = parse_handle(account.username)
        seen: set[tuple[str | None, str | None]] = {(r.forename, r.surname) for r in readings}
        for seq in handle_token_sequences(handle, index.lexicon, surnames=index.surname_lexicon):
            for r in readings_from_tokens(seq, "handle"):
                if (r.forename, r.surname) not in seen:
                    seen.add((r.forename, r.surname))
                    readings.append(r)
        years += birth_years(handle.numbers, index.as_of_year)
    return AccountReadings(tuple(readings), tuple(dict.fromkeys(years)), title)


_NOTHING: frozenset[int] = frozenset()


def _as_set(block) -> set[int] | frozenset[int]:
    return block if isinstance(block, frozenset) else frozenset(block)


def _close_names(name: str, choices) -> list[str]:
    """Names in ``choices`` a typing error away from ``name`` (Jaro-Winkler ≥ 0.85, or sounding
    alike among the near ones), found by rapidfuzz in C rather than a Python loop."""
    if not choices:
        return []
    found = process.extract(name, choices, scorer=JaroWinkler.normalized_similarity, score_cutoff=0.80, limit=None)
    sound = _phonetic(name)
    return [c for c, score_, _ in found if score_ >= 0.85 or _phonetic(c) == sound]


def _exact_bound(index: RosterIndex, name: str, kind: str) -> float:
    """The most an agreement on this name can weigh against anyone found under its key: exact
    agreement on a name outweighs a nickname, a spelling variant or one part of a
    double-barrelled surname under the same key, and an initial's agreement is the same for all."""
    def compute() -> float:
        if len(name) == 1:
            table = index.fore_initial_tf if kind == "forename" else index.sur_initial_tf
            return log2(0.95 / table.get(name, 0.05))
        return log2(0.88 / index.tf_fore(name)) if kind == "forename" else log2(0.9 / index.tf_sur(name))

    return index.memo.get(index.memo.bound, (kind, name), compute)


def _blocks(index: RosterIndex, r: Reading, years: tuple[tuple[int, str], ...] = (),
            floor: float | None = None) -> set[int]:
    """Roster entries a reading could be: exact name keys, initials, phonetic keys, and, for a
    name the roster does not know, near spellings inside the surname's (or forename's) block.
    With ``floor`` (the least the names must weigh for any candidate to be kept), an exact-key
    block whose names cannot weigh that much is not looked at: a common name shared by chance."""
    found: set[int] = set()
    f, s = r.forename, r.surname
    near_years = {y + d for y, _ in years for d in (-1, 0, 1)}

    def add(hits, fore_key: str, sur_key: str) -> None:
        if floor is None:
            found.update(hits)
            return
        bound = _exact_bound(index, fore_key, "forename") + _exact_bound(index, sur_key, "surname")
        if bound >= floor:
            found.update(hits)
        elif near_years and bound + BIRTH_YEAR_MAX >= floor:  # only a birth year could lift it
            found.update(i for i in hits if index.entries[i].birth_year in near_years)

    if f and s and not r.forename_is_initial and not r.surname_is_initial:
        c = compact(s)
        sur_keys = [c] + [p for p in s.replace("-", " ").split() if len(p) >= 2 and p != c]
        fore_known = f in index.by_fore
        for key in sur_keys:
            hits = index.by_fore_sur.get((f, key))
            if hits:
                add(hits, f, key)
            elif not fore_known and key in index.by_sur:  # an unknown forename in a known surname: a typo?
                block = _as_set(index.by_sur[key])
                for name in _close_names(f, index.fores_by_sur.get(key, ())):
                    found.update(i for i in index.by_fore.get(name, ()) if i in block)
        if not found and fore_known and c not in index.by_sur:  # a known forename, unknown surname
            fore_block = _as_set(index.by_fore[f])
            for name in _close_names(c, index.surs_by_fore.get(f, ())):
                found.update(i for i in index.by_sur.get(name, ()) if i in fore_block)
        if not found:
            found.update(index.by_phonetic.get((_phonetic(f), _phonetic(c)), ()))
    elif f and s and r.surname_is_initial and not r.forename_is_initial:
        add(index.by_fore_surinitial.get((f, s), ()), f, s)
    elif f and s and r.forename_is_initial and not r.surname_is_initial:
        add(index.by_foreinitial_sur.get((f, compact(s)), ()), f, compact(s))
    elif f and not s and not r.forename_is_initial:
        # A first name alone is one piece of evidence short of any band; only an agreeing birth
        # year (in the handle) can make it one, so only people born about then are looked at.
        for year, _strength in years:
            for y in (year - 1, year, year + 1):
                found.update(index.by_fore_year.get((f, y), ()))
    # A surname alone (or "Mrs Smith") never reaches a band on its name: only a phone or e-mail
    # (looked up apart) can link it, so it blocks nothing.
    return found


def score(index: RosterIndex, account: AccountView, readings: AccountReadings, r: Reading, e: RosterEntry) -> Candidate:
    evidence: list[Evidence] = []
    fore, fore_agrees = compare_forename(index, r, e)
    sur, sur_agrees = compare_surname(index, r, e)
    evidence += [fore, sur]
    if r.swapped and r.how.startswith("name"):
        evidence.append(Evidence("order", "surname written first", -1.0))
    middle = compare_middle(index, r, e)
    if middle:
        evidence.append(middle)
    year = compare_birth_year(index, list(readings.years), e)
    if year:
        evidence.append(year)
    platform = compare_platform_age(account.platform, e)
    if platform:
        evidence.append(platform)
    if readings.title and e.title and fold(readings.title) != fold(e.title) and r.forename is None:
        evidence.append(Evidence("title", "differs", -1.0))
    pieces = 0
    initial_agrees = (sur.level == "initial agrees" and fore_agrees) or (fore.level == "initial agrees" and sur_agrees)
    if (fore_agrees and sur_agrees) or initial_agrees:
        pieces += 1
        expected = index.n * index.tf_fore(r.forename or "") * index.tf_sur(compact(r.surname or ""))
        if fore.level.startswith("exact") and sur.level.startswith("exact") and expected <= index.t.rare_full_name:
            pieces += 1
            evidence.append(Evidence("rarity", "full name rare in the roster", 0.0))
    if year and year.weight > 2:
        pieces += 1
    if middle and middle.weight > 2:
        pieces += 1
    weight = index.prior + sum(ev.weight for ev in evidence)
    if year and year.weight <= -2:  # a birth year that says "someone else" rules the name out
        pieces = 0
    year_agrees = bool(year and year.weight > 2 and fore_agrees)
    name_only = not ((year and year.weight > 2) or (middle and middle.weight > 2))
    return Candidate(e.person_id, weight, evidence, pieces, r.how, year_agrees, name_only)


# An exact phone number or e-mail address: m, the roster's number is still the one the contact
# has (numbers change); u, someone else has exactly this one — one in the hundred million or so
# UK numbers in use, recycled numbers included. It must identify a parent on a trust's roster of
# 30,000 as surely as on a school's of 1,000: the prior falls with roster size, this does not.
CONTACT_POINT_M = 0.9
CONTACT_POINT_U = 1e-8


def _contact_points(index: RosterIndex, account: AccountView) -> dict[int, list[Evidence]]:
    points: dict[int, list[Evidence]] = defaultdict(list)
    weight = log2(CONTACT_POINT_M / CONTACT_POINT_U)
    for phone in account.phones:
        for i in index.by_phone.get(phone, ()):
            points[i].append(Evidence("phone", "exact (E.164)", weight))
    for email in account.emails:
        for i in index.by_email.get(email.lower(), ()):
            points[i].append(Evidence("e-mail", "exact", weight))
    return points


def match_account(index: RosterIndex, account: AccountView) -> list[Candidate]:
    """The roster people this account may be, best first, with bands set."""
    readings = account_readings(index, account)
    best: dict[int, Candidate] = {}
    floor = None
    if not account.phones and not account.emails:  # else every reading is scored (see below)
        floor = index.t.keep - index.prior  # what the names alone must weigh for a pair to be kept
    for r in readings.readings:
        reading_floor = None if floor is None or r.middles else floor
        for i in _blocks(index, r, readings.years, reading_floor):
            cand = score(index, account, readings, r, index.entries[i])
            if i not in best or cand.weight > best[i].weight:
                best[i] = cand
    for i, evs in _contact_points(index, account).items():
        e = index.entries[i]
        if i not in best:
            r = readings.readings[0] if readings.readings else Reading(None, None, (), "contact details only")
            best[i] = score(index, account, readings, r, e)
        cand = best[i]
        strongest = max(evs, key=lambda ev: ev.weight)
        cand.evidence.append(strongest)
        cand.weight += strongest.weight
        names_conflict = any(ev.level == "conflicts" for ev in cand.evidence if ev.comparison in ("forename", "surname"))
        cand.pieces += 1 if names_conflict else 2
        cand.name_only = False
    ranked = sorted(best.values(), key=lambda c: (-c.weight, c.person_id))  # ties: a stable order
    # Keep what per-connection evidence could still lift into a band: something of the name,
    # or a birth year, and a weight within reach.
    ranked = [c for c in ranked if c.weight >= index.t.keep and (c.pieces >= 1 or c.year_agrees)][:4]
    return assign_bands(index, ranked)


def band_for(t: Thresholds, weight: float, pieces: int, year_agrees: bool, ambiguous: bool,
             name_only: bool = False) -> str:
    """Probable needs the weight and two pieces of evidence and no close rival (and more weight
    when the only evidence is the name); needs review needs a name match of some strength, or a
    full forename with an agreeing birth year."""
    if weight >= (t.probable_name_only if name_only else t.probable) and pieces >= 2 and not ambiguous:
        return "probable"
    if pieces >= 1 and weight >= t.review:
        return "needs_review"
    if year_agrees and weight >= t.review_with_year:
        return "needs_review"
    return "no_link"


def assign_bands(index: RosterIndex, ranked: list[Candidate]) -> list[Candidate]:
    """Bands with the three guards: two pieces for probable, ambiguity, colleagues first."""
    if not ranked:
        return ranked
    for c in ranked:
        c.band = band_for(index.t, c.weight, c.pieces, c.year_agrees, False, c.name_only)
    top = ranked[0]
    staff = [c for c in ranked if index.by_person[c.person_id].kind == "staff" and c.band != "no_link"]
    others = [c for c in ranked if index.by_person[c.person_id].kind != "staff"]
    if staff and (not others or staff[0].weight >= others[0].weight - index.t.colleague_margin):
        # A member of staff fits as well as anyone: the contact is taken to be the colleague.
        for c in others:
            if c.band != "no_link":
                c.band = "no_link"
                c.evidence.append(Evidence("colleague", "a member of staff fits as well", 0.0))
        return [staff[0]] + [c for c in ranked if c is not staff[0]]
    close = [c for c in ranked[1:] if c.weight >= top.weight - index.t.ambiguity_margin and c.band != "no_link"]
    if close:
        for c in [top, *close]:  # none of two near-equal people is probable
            c.ambiguous = True
            if c.band == "probable":
                c.band = "needs_review"
        top.alternatives = [c.person_id for c in close]
    return ranked
