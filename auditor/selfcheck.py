"""Staff self-check: a member of staff checks their own exports against a kit of keyed hashes,
with no database, no network and no roster names.

The DSL runs ``build_kit`` (``auditor selfcheck-kit``). It takes the matcher's own roster index
(``RosterIndex`` over ``load_roster`` on the audit date) and carries every dictionary the matcher
looks people up by — forenames with their nickname and spelling forms, surnames and their parts,
phonetic name pairs, forename + birth year, E.164 phones, e-mails, the handle-splitting lexicons,
term frequencies — with keys as HMAC-SHA256 digests under a fresh random key (generically: a new
dictionary in the index travels without a change here; a field of unknown shape stops the build).
Each roster person becomes an anonymous *slot*, in shuffled order: digests of their names, middle
names, title, initials and birth year, short digests of their names with one letter deleted (a
typo pre-check), their kind (pupil / contact / staff), an age stand-in (the oldest age the
matcher's platform-age evidence cannot tell from theirs), birth-year stand-ins (``YearStandins``),
the policy rules they fall under for a member of staff of the kit's school (with a category such
as "current pupil"), the school weight the audit would add, and household links between slots.
The kit holds no names, dates of birth, refs, school names or paths. It does show the roster's
size: the matcher's prior and term frequencies need it, so decoy slots would hide nothing.

The member of staff runs ``check`` (``auditor self-check``). Their exports are read by the same
connectors (``parse_export``), each contact is read by the matcher's own ``account_readings``
(the lexicon is tested by hashing substrings), and the matcher's own ``match_account`` runs on
``KitIndex``, a stand-in for ``RosterIndex`` whose dictionaries are looked up by hashing. A slot
the lookup reaches is rebuilt with the plaintext the *contact* supplied wherever its digest
agrees (the contact's names, their nickname forms, one-letter edits for typos, its birth years),
and opaque placeholders elsewhere; the engine's comparison ladders then score it exactly as in
the audit. School weight, household corroboration (``auditor.graph``), bands and the policy's
severities follow ``auditor.audit.run_audit``. What cannot be reproduced without plaintext: a
fuzzy name match beyond one edit (Jaro-Winkler ≥ 0.85 over two edits, or a "sounds alike" name
more than one edit away) — such contacts are missed unless another reading finds them.

Limits, stated plainly (see also the kit's ``notice``): the key travels inside the kit, so the
digests are a salted hash, not encryption. Whoever holds the kit can test guesses — a name, a
name and birth year, a phone number — one at a time and cheaply; with public lists of forenames
and surnames they can recover most of the names in it. The kit is for the staff of one school,
kept like the roster itself, and it expires.

Why there is no offline browser page (``--html``): the check is only as good as its faithfulness
to the matcher, and a page would need the connectors (about twenty export layouts, zip reading,
Meta's mojibake, HTML lists), the name folding (NFKC plus anyascii transliteration tables), the
nickname table, metaphone, Jaro-Winkler, UK phone parsing (libphonenumber) and the whole
Fellegi–Sunter scoring rewritten in JavaScript — a second matcher that drifts from the one the
lead is tuning, and whose coverage could not be measured by the same test. Running this Python in
the browser (Pyodide) would mean shipping tens of megabytes of WebAssembly inside one page. The
command-line check is offline, writes nothing, and is the same code as the audit.
"""

from __future__ import annotations

import hmac
import json
import os
import random
import secrets
import string
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from auditor.errors import AuditorError, ExpiredError, InputError
from auditor.match.engine import (
    DEFAULT_THRESHOLDS,
    MATCHER_VERSION,
    AccountReadings,
    AccountView,
    Candidate,
    NoMemo,
    RosterEntry,
    RosterIndex,
    account_readings,
    match_account,
)
from auditor.match.names import compact, fold
from auditor.match.nicknames import forms
from auditor.policy import SEVERITY_RANK, Policy, Rule
from auditor.version import __version__

KIT_FORMAT = 1
KIT_MAGIC = "auditor-selfcheck-kit"
DEFAULT_DAYS = 31
DIGEST_BYTES = 12  # 96 bits: no accidental collisions in a roster-sized kit
NEAR_BYTES = 2  # typo pre-check digests: a false "near" only costs a few hundred hashes
_LETTERS = string.ascii_lowercase


ACTIONS = {
    ("breach", "probable"): "Remove this connection (unfriend, unfollow or remove the follower). If this is your own "
                            "child or a relative, tell your DSL so that an exemption can be recorded.",
    ("breach", "needs_review"): "Check who this is. If it is the person the category describes, remove the "
                                "connection; if you are not sure, ask your DSL.",
    ("report", "probable"): "Do not accept. Tell your DSL or headteacher about this request, as the policy asks.",
    ("report", "needs_review"): "Check who this is; if it is the person the category describes, do not accept and "
                                "tell your DSL or headteacher about the request.",
    ("advisory", "probable"): "Allowed, but keep the connection professional (see the clause).",
    ("advisory", "needs_review"): "Possibly someone the clause is about: keep the connection professional.",
}

NOTICE = ("Self-check kit for the staff of one school. It holds keyed hashes of the roster, not names, but "
          "whoever holds it can test guesses (a name, a name and birth year, a phone number) one at a time, "
          "and with public name lists can recover many names: keep it like the roster, share it only with "
          "staff of the school, and do not use it after it expires.")


# -- hashing -------------------------------------------------------------------------------------
class Hasher:
    """HMAC-SHA256 under the kit's key, with a label per kind of value so that equal text in two
    fields (a forename that is also a surname) gives unrelated digests."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._cache: dict[tuple[str, str, int], str] = {}

    def __call__(self, label: str, text: str, size: int = DIGEST_BYTES) -> str:
        item = (label, text, size)
        found = self._cache.get(item)
        if found is None:
            digest = hmac.digest(self.key, f"{label}\x1f{text}".encode(), "sha256")[:size].hex()
            if len(self._cache) < 300_000:
                self._cache[item] = digest
            found = digest
        return found


# -- building the kit (the DSL) ------------------------------------------------------------------
# How each attribute of the matcher's RosterIndex travels in the kit. Dictionaries of entry lists
# (blocks) and of numbers (term frequencies, counts) are carried generically, keys hashed, so a new
# block the lead adds to the index reaches the kit without a change here; anything else must be
# listed, and an attribute of an unknown shape stops the build rather than leak or diverge.
_INDEX_SKIPPED = {"entries", "by_person", "t", "school_share", "memo",  # rebuilt per slot, or unused by matching
                  "_fore_names", "_sur_names", "_by_sound"}  # plaintext names: near_u_table is carried instead
_INDEX_DERIVED = {"fores_by_sur", "surs_by_fore"}  # plaintext name sets: answered by _FuzzyNames


def _platforms() -> set[str]:
    """Every platform the matcher might treat apart when it weighs a person's age."""
    from auditor.match import engine
    from auditor.registry import api_connectors, export_connectors

    found = {"linkedin", "contacts", "vcard"}
    for name in ("SOCIAL_PLATFORMS", "PHONE_BOOKS"):
        found.update(getattr(engine, name, ()))
    for registry in (export_connectors, api_connectors):
        for name, cls in registry.items():
            found.add(getattr(cls, "platform", None) or name)
    return found


def age_standin(kind: str, role: str, age: int | None, platforms: Iterable[str]) -> int | None:
    """An age the matcher cannot tell from the real one (same platform evidence on every
    platform, same adulthood): the oldest such age, so the kit carries a band, not an age."""
    from auditor.match.engine import compare_platform_age

    if age is None:
        return None
    platforms = sorted(platforms)

    def signature(years: int) -> tuple:
        probe = RosterEntry(person_id=0, kind=kind, role=role, legal_forename=None, legal_surname=None, age=years)
        evidence = [compare_platform_age(p, probe) for p in platforms]
        return probe.is_adult, tuple((ev.comparison, ev.weight) if ev else None for ev in evidence)

    wanted = signature(age)
    return max(a for a in {*range(26), age} if signature(a) == wanted)


class YearStandins:
    """Years that stand in for a person's birth year when the contact gives no year near it.

    The matcher's birth-year ladder says more than agree / conflict (a child's year in a handle
    weighs more; an adult's year against a child is a strong "someone else"), so a conflicting
    year cannot be replaced by an arbitrary one. For each real year this finds other years at
    least three away on which ``compare_birth_year`` gives the same evidence for every year a
    contact could write (two or more away from both): the kit carries those, never the year.
    """

    def __init__(self, index: RosterIndex, wanted: int = 4) -> None:
        self.index, self.wanted = index, wanted
        self.rng = random.SystemRandom()
        self.years = list(range(index.as_of_year - 100, index.as_of_year + 1))
        self._vectors: dict[tuple, list] = {}

    def _vector(self, year: int, kind: str, role: str, age: int | None) -> list:
        from auditor.match.engine import compare_birth_year

        item = (year, kind, role, age)
        found = self._vectors.get(item)
        if found is None:
            probe = RosterEntry(person_id=0, kind=kind, role=role, legal_forename=None, legal_surname=None,
                                birth_year=year, age=age)
            found = []
            for y in self.years:
                for strength in ("yyyy", "yy"):
                    ev = compare_birth_year(self.index, [(y, strength)], probe)
                    found.append((ev.comparison, ev.level, round(ev.weight, 6)) if ev else None)
            self._vectors[item] = found
        return found

    def __call__(self, year: int, kind: str, role: str, age: int | None) -> list[int]:
        """Up to ``wanted`` stand-ins, three or more apart (a contact's year can rule out at most
        one), picked at random among the valid ones so that they do not point at the real year."""
        real = self._vector(year, kind, role, age)
        valid = []
        for other in self.years:
            if abs(other - year) < 3:
                continue
            vector = self._vector(other, kind, role, age)
            if all(a == b for i, (a, b) in enumerate(zip(real, vector, strict=True))
                   if abs(self.years[i // 2] - year) >= 2 and abs(self.years[i // 2] - other) >= 2):
                valid.append(other)
        self.rng.shuffle(valid)
        chosen: list[int] = []
        for other in valid:
            if all(abs(other - c) >= 3 for c in chosen):
                chosen.append(other)
                if len(chosen) == self.wanted:
                    break
        return sorted(chosen)


def _category(rule: Rule, reason: str, trust_wide: bool) -> str:
    """What the member of staff is told about the person: the kind of person, never an age."""
    if rule.kind == "current_pupil":
        return "current pupil" if trust_wide else reason  # or "current pupil of another school"
    if rule.kind == "past_pupil":
        limit = rule.params.get("age_below")
        return f"past pupil under {limit}" if limit is not None else "past pupil"
    if rule.kind == "pupil_family":
        return "parent or carer of a current pupil" if "current" in reason else "parent or carer of a past pupil"
    if rule.kind == "vulnerable_adult":
        return "vulnerable adult"
    return rule.kind.replace("_", " ")


def _policy_table(policy: Policy, digest: Hasher) -> dict:
    return {
        "name": policy.name, "version": policy.version,
        "staff_roles": policy.staff_roles, "platforms": policy.platforms,
        "exempt_accounts": sorted(digest("exempt", name) for name in policy.exempt_accounts),
        "rules": [{"id": r.id, "kind": r.kind, "clause": r.clause, "severity": dict(r.severity),
                   "params": dict(r.params)} for r in policy.rules],
    }


def _key_text(key) -> str:
    return key if isinstance(key, str) else "\x1e".join(map(str, key))


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _index_tables(index: RosterIndex, digest: Hasher, slot_of: list[int]) -> dict:
    """The index's dictionaries with hashed keys and slots for entry numbers (see _INDEX_*)."""

    blocks: dict[str, dict] = {}
    numbers: dict[str, dict] = {}
    sets: dict[str, list[str]] = {}
    scalars: dict[str, float | int | str] = {}
    for name, value in vars(index).items():
        if name in _INDEX_SKIPPED or name in _INDEX_DERIVED:
            continue
        if _is_number(value) or isinstance(value, bool):
            scalars[name] = value
        elif isinstance(value, dict) and all(
                isinstance(v, list | tuple | set | frozenset) and all(isinstance(i, int) for i in v) for v in value.values()):
            blocks[name] = {digest(name, _key_text(k)): sorted({slot_of[i] for i in v}) for k, v in value.items()}
        elif isinstance(value, set | frozenset) and all(isinstance(w, str) for w in value):
            sets[name] = sorted(digest(name, w) for w in value)
        elif isinstance(value, dict) and all(_is_number(v) for v in value.values()):
            numbers[name] = {digest(name, _key_text(k)): v for k, v in value.items()}
        else:
            raise AuditorError(f"the matcher's index has a field the self-check kit cannot carry: {name}",
                               hint="auditor/selfcheck.py must be taught it")
    return {"scalars": scalars, "blocks": blocks, "numbers": numbers, "sets": sets}


def resolve_school(schools: dict[int, str], school: str | None) -> frozenset[int]:
    """The school ids a kit is for: one school by ref, every school for 'all' (trust-wide staff),
    the only school when the roster holds one."""
    if school is None:
        if len(schools) <= 1:
            return frozenset(schools)
        raise InputError(f"the roster holds {len(schools)} schools: give --school REF (one of "
                         f"{', '.join(sorted(schools.values()))}) or --school all for trust-wide staff")
    if school == "all":
        return frozenset()
    ids = frozenset(k for k, ref in schools.items() if ref == school)
    if not ids:
        raise InputError(f"school {school!r} is not on the roster (schools: {', '.join(sorted(schools.values()))})")
    return ids


def build_kit(db, as_of: date, policy: Policy, days: int = DEFAULT_DAYS, school: str | None = None) -> dict:
    """The kit for the staff of one school on ``as_of``, valid for ``days`` days (a JSON-ready dict)."""
    from auditor.audit import _school_evidence, load_roster
    from auditor.registry import rule_kinds
    from auditor.rules import StaffMember

    if days < 1 or days > 366:
        raise InputError(f"--days {days}: a kit must be valid for 1 to 366 days")
    with db.engine.connect() as conn:
        roster = load_roster(conn, as_of)
    school_ids = resolve_school(roster.schools, school)
    staff = StaffMember(person_id=-1, ref="", schools=school_ids, job_title=None)
    index = RosterIndex(roster.entries, as_of.year)
    index.precompute_near()
    key = secrets.token_bytes(32)
    digest = Hasher(key)

    # Slots in random order: the kit shows neither the roster's order nor its ids.
    slot_of = list(range(len(index.entries)))
    random.SystemRandom().shuffle(slot_of)
    slot_by_person = {e.person_id: slot_of[i] for i, e in enumerate(index.entries)}

    pupils = [s for s in roster.subjects.values() if s.kind == "pupil"]
    shares: dict[int, int] = defaultdict(int)
    for s in pupils:
        for sc in s.schools:
            shares[sc] += 1
    school_share = {k: v / max(len(pupils), 1) for k, v in shares.items()}
    platforms = _platforms()
    standins = YearStandins(index)

    categories: list[str] = []
    people: list[dict] = [{}] * len(index.entries)
    for i, e in enumerate(index.entries):
        slot = slot_of[i]
        subject = roster.subjects[e.person_id]
        rules = []
        if subject.kind != "staff":
            for number, rule in enumerate(policy.rules):
                why = rule_kinds.get(rule.kind).applies(rule.params, subject, staff)
                if why:
                    category = _category(rule, why, not school_ids)
                    if category not in categories:
                        categories.append(category)
                    rules.append([number, categories.index(category)])
        evidence = _school_evidence(subject, staff, school_share) if subject.kind != "staff" else None
        age = age_standin(e.kind, e.role, e.age, platforms)
        people[slot] = {
            "k": e.kind, "r": e.role, "a": age,
            "f": [[digest("fore", n), how, digest(f"init|{slot}", n[0], 6), near_digests(digest, n)]
                  for n, how in e.forenames.items()],
            "s": [[digest("sur", n), how, digest(f"init|{slot}", n[0], 6), near_digests(digest, n)]
                  for n, how in e.surnames.items()],
            "p": sorted(digest("sur", p) for p in e.surname_parts),
            "m": sorted(digest("mid", m) for m in e.middles),
            "t": digest(f"title|{slot}", fold(e.title)) if e.title and fold(e.title) else None,
            "y": digest(f"year|{slot}", str(e.birth_year)) if e.birth_year else None,
            "ys": standins(e.birth_year, e.kind, e.role, age) if e.birth_year else [],
            "rules": rules,
            "school": round(evidence.weight, 4) if evidence else 0.0,
        }
    households = sorted({(slot_by_person[p], slot_by_person[c]) for p, c, _ in roster.links
                         if p in slot_by_person and c in slot_by_person})
    expires = as_of + timedelta(days=days)
    return {
        "kit": KIT_MAGIC, "format": KIT_FORMAT, "tool_version": __version__, "matcher_version": MATCHER_VERSION,
        "as_of": as_of.isoformat(), "expires": expires.isoformat(),
        "notice": NOTICE + f" This kit expires on {expires.isoformat()}.",
        "scope": "trust-wide staff" if school == "all" else "staff of one school",
        "key": key.hex(),
        "policy": _policy_table(policy, digest),
        "categories": categories,
        "index": _index_tables(index, digest, slot_of),
        "people": people,
        "households": [list(pair) for pair in households],
    }


def write_kit(kit: dict, out: Path) -> None:
    """Written readable by its owner only; the DSL hands it on deliberately."""
    data = json.dumps(kit, separators=(",", ":"), ensure_ascii=True).encode()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise InputError(f"{out}: cannot write the kit ({exc.strerror or exc})") from None


# -- reading the kit (the member of staff) --------------------------------------------------------
@dataclass
class Kit:
    """A loaded, checked kit."""

    raw: dict
    digest: Hasher
    as_of: date
    expires: date
    policy: Policy
    categories: list[str]
    people: list[dict]
    households: list[tuple[int, int]]

    @property
    def matcher_version(self) -> str:
        return str(self.raw.get("matcher_version"))


def load_kit(source: Path | dict) -> Kit:
    """A kit from its file (or its parsed dict); one clear error when it is not a kit."""
    if isinstance(source, dict):
        raw, label = source, "kit"
    else:
        label = str(source)
        try:
            raw = json.loads(Path(source).read_bytes())
        except OSError as exc:
            raise InputError(f"{label}: cannot read the kit ({exc.strerror or exc})") from None
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"{label}: not a self-check kit (not JSON)") from None
    if not isinstance(raw, dict) or raw.get("kit") != KIT_MAGIC:
        raise InputError(f"{label}: not a self-check kit")
    if raw.get("format") != KIT_FORMAT:
        raise InputError(f"{label}: kit format {raw.get('format')} is not the one this auditor reads ({KIT_FORMAT})",
                         hint="ask your DSL for a kit made with your version of auditor")
    try:
        key = bytes.fromhex(raw["key"])
        as_of, expires = date.fromisoformat(raw["as_of"]), date.fromisoformat(raw["expires"])
        table = raw["policy"]
        rules = [Rule(id=r["id"], kind=r["kind"], clause=r["clause"], severity=dict(r["severity"]),
                      params=dict(r.get("params") or {})) for r in table["rules"]]
        policy = Policy(name=table["name"], version=table["version"], title=table["name"], summary="", rules=rules,
                        staff_roles=table.get("staff_roles", "all"), platforms=table.get("platforms", "all"),
                        exempt_accounts=list(table.get("exempt_accounts", [])))
        people = raw["people"]
        households = [(int(a), int(b)) for a, b in raw["households"]]
        if not all(isinstance(raw["index"][part], dict) for part in ("scalars", "blocks", "numbers", "sets")):
            raise TypeError("index")
        if not isinstance(raw["categories"], list):
            raise TypeError("categories")
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{label}: the self-check kit is damaged or incomplete") from None
    return Kit(raw, Hasher(key), as_of, expires, policy, list(raw["categories"]), people, households)


class _Hashed:
    """A read-only mapping keyed by plaintext and stored by digest: ``get(name)`` hashes ``name``."""

    def __init__(self, digest: Hasher, label: str, table: dict) -> None:
        self._digest, self._label, self._table = digest, label, table

    def _key(self, key) -> str:
        return self._digest(self._label, _key_text(key))

    def get(self, key, default=None):
        return self._table.get(self._key(key), default)

    def __contains__(self, key) -> bool:
        return self._key(key) in self._table

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value


class _HashedSet:
    """A set of strings (the matcher's name lexicons), answered by hashing the word asked about."""

    def __init__(self, digest: Hasher, label: str, words: Iterable[str]) -> None:
        self._digest, self._label, self._words = digest, label, frozenset(words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._digest(self._label, word) in self._words


def one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return {w for w in out if w and not w.startswith("-") and not w.endswith("-")}


def near_digests(digest: Hasher, word: str) -> list[str]:
    """Short digests of a name and of every way of deleting one letter from it: two names one
    edit apart (a typo, a doubled or dropped letter, two letters swapped) always share one, so
    the member of staff's side tries a contact name's one-edit variants only where it may pay."""
    variants = {word} | {word[:i] + word[i + 1:] for i in range(len(word))}
    return sorted({digest("near", v, NEAR_BYTES) for v in variants if v})


@dataclass
class _Vocabulary:
    """What one contact says, as the strings a roster slot may be revealed by."""

    fore: dict[str, str] = field(default_factory=dict)  # digest -> text
    sur: dict[str, str] = field(default_factory=dict)
    mid: dict[str, str] = field(default_factory=dict)
    fore_typos: list[str] = field(default_factory=list)  # reading forenames worth one-edit variants
    sur_typos: list[str] = field(default_factory=list)
    letters: set[str] = field(default_factory=set)
    years: tuple[tuple[int, str], ...] = ()
    title: str | None = None


class _Entries:
    """``index.entries`` and ``index.by_person`` for the stand-in: slot -> a RosterEntry rebuilt
    with the contact's own plaintext wherever the slot's digests agree with it."""

    def __init__(self, index: KitIndex) -> None:
        self._index = index
        self._cache: dict[int, RosterEntry] = {}

    def clear(self) -> None:
        self._cache.clear()

    def __getitem__(self, slot: int) -> RosterEntry:
        entry = self._cache.get(slot)
        if entry is None:
            entry = self._cache[slot] = self._index.rebuild(slot)
        return entry

    def get(self, slot: int, default=None):
        return self[slot] if 0 <= slot < len(self._index.kit.people) else default


class _FuzzyNames:
    """``fores_by_sur`` / ``surs_by_fore``: the names of a block the matcher compares fuzzily,
    limited to those this contact's strings (and their one-letter edits) reveal."""

    def __init__(self, index: KitIndex, wanted: str) -> None:
        self._index, self._wanted = index, wanted  # wanted: "fore" (by surname) or "sur" (by forename)

    def _slots(self, key: str) -> list[int]:
        """Slots holding ``key`` as a surname (for fores_by_sur) or a forename (surs_by_fore)."""
        index, people = self._index, self._index.kit.people
        if self._wanted == "fore":
            h = index.kit.digest("sur", key)
            return [s for s in index.by_sur.get(key, ()) if any(x[0] == h for x in people[s]["s"])]
        h = index.kit.digest("fore", key)
        return [s for s in index.by_fore.get(key, ()) if any(x[0] == h for x in people[s]["f"])]

    def get(self, key: str, default=()):
        names: set[str] = set()
        for slot in self._slots(key):
            entry = self._index.entries[slot]
            names.update(n for n in (entry.forenames if self._wanted == "fore" else entry.surnames) if not _opaque(n))
        return names or default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._wanted == "sur" and key in self._index.fore_tf

    def __getitem__(self, key: str) -> set[str]:
        return set(self.get(key, ()))


_OPAQUE_MARK = "qxzvq"


def _opaque(name: str) -> bool:
    return _OPAQUE_MARK in name


class KitIndex(RosterIndex):
    """A ``RosterIndex`` made from a kit: the engine's own methods (term frequencies, blocks,
    scoring, bands) run on it unchanged; every lookup hashes the key it is given."""

    def __init__(self, kit: Kit) -> None:  # deliberately not RosterIndex.__init__: no roster here
        tables = kit.raw["index"]
        self.kit = kit
        self.t = DEFAULT_THRESHOLDS
        for name, value in tables["scalars"].items():
            setattr(self, name, value)
        for name, table in {**tables["blocks"], **tables["numbers"]}.items():
            setattr(self, name, _Hashed(kit.digest, name, table))
        for name, words in tables["sets"].items():
            setattr(self, name, _HashedSet(kit.digest, name, words))
        self.entries = _Entries(self)
        self.by_person = self.entries
        self.fores_by_sur = _FuzzyNames(self, "fore")
        self.surs_by_fore = _FuzzyNames(self, "sur")
        self.school_share = {}
        self.memo = NoMemo()  # entries are rebuilt for each contact: nothing may be remembered
        self._vocab = _Vocabulary()
        self._typo_maps: dict[tuple[str, str], dict[str, str]] = {}
        self._near_sets: dict[str, frozenset[str]] = {}

    # -- one contact at a time ---------------------------------------------------------------
    def set_account(self, readings: AccountReadings) -> None:
        """Take in what this contact says, before ``match_account`` asks about it."""
        d = self.kit.digest
        vocab = _Vocabulary(years=readings.years, title=readings.title)
        for r in readings.readings:
            for token, is_initial, kind in ((r.forename, r.forename_is_initial, "fore"),
                                            (r.surname, r.surname_is_initial, "sur")):
                if not token:
                    continue
                vocab.letters.add(token[0])
                if is_initial:
                    continue
                if kind == "fore":
                    texts = {token, token.split("-")[0], *forms(token)}
                    vocab.fore.update((d("fore", t), t) for t in texts if t)
                    if len(token) >= 3 and token not in vocab.fore_typos:
                        vocab.fore_typos.append(token)
                else:
                    whole = compact(token)
                    parts = [p for p in token.replace("-", " ").split() if len(p) >= 2]
                    vocab.sur.update((d("sur", t), t) for t in (whole, *parts) if t)
                    if len(whole) >= 3 and whole not in vocab.sur_typos:
                        vocab.sur_typos.append(whole)
            for m in r.middles:
                vocab.mid[d("mid", m)] = m
        self._vocab = vocab
        self.entries.clear()

    def near_u(self, kind: str, name: str, how: str) -> float:
        """The roster's table, carried in the kit (a name it lacks is a stand-in: the floor)."""
        return self.near_u_table.get((kind, name, how)) or self.t.near_floor

    def _typos(self, kind: str, word: str) -> dict[str, str]:
        item = (kind, word)
        found = self._typo_maps.get(item)
        if found is None:
            d = self.kit.digest
            found = {d(kind, w): w for w in one_edit(word)}
            if len(self._typo_maps) < 2_000:
                self._typo_maps[item] = found
        return found

    def _near(self, word: str) -> frozenset[str]:
        found = self._near_sets.get(word)
        if found is None:
            found = self._near_sets[word] = frozenset(near_digests(self.kit.digest, word))
        return found

    def _reveal(self, kind: str, digest: str, slot: int, initial: str | None, near: list[str], serial: int) -> str:
        """The plaintext of one of the slot's names, if this contact supplies it; else a
        placeholder that keeps only the name's initial (when the contact's initials reveal it)
        and agrees with nothing."""
        vocab = self._vocab
        known = (vocab.fore if kind == "fore" else vocab.sur).get(digest)
        if known:
            return known
        for word in (vocab.fore_typos if kind == "fore" else vocab.sur_typos):
            if near and not self._near(word).intersection(near):
                continue  # not within one edit: no need to try the word's 400-odd variants
            known = self._typos(kind, word).get(digest)
            if known:
                return known
        letter = next((x for x in vocab.letters if initial and self.kit.digest(f"init|{slot}", x, 6) == initial), None)
        return f"{letter or '0'}{_OPAQUE_MARK}{slot}x{serial}"

    def rebuild(self, slot: int) -> RosterEntry:
        person = self.kit.people[slot]
        vocab = self._vocab
        d = self.kit.digest
        entry = RosterEntry(person_id=slot, kind=person["k"], role=person["r"], legal_forename=None,
                            legal_surname=None, age=person.get("a"))
        serial = 0
        for digest, how, initial, near in person["f"]:
            serial += 1
            entry.forenames.setdefault(self._reveal("fore", digest, slot, initial, near, serial), how)
        for digest, how, initial, near in person["s"]:
            serial += 1
            entry.surnames.setdefault(self._reveal("sur", digest, slot, initial, near, serial), how)
        entry.surname_parts = frozenset(vocab.sur.get(p) or f"0{_OPAQUE_MARK}{slot}p{i}" for i, p in enumerate(person["p"]))
        entry.middles = frozenset(vocab.mid.get(m) or f"0{_OPAQUE_MARK}{slot}m{i}" for i, m in enumerate(person["m"]))
        if person.get("t"):
            said = fold(vocab.title) if vocab.title else None
            entry.title = vocab.title if said and d(f"title|{slot}", said) == person["t"] else f"0{_OPAQUE_MARK}"
        if person.get("y"):
            entry.birth_year = next((near for year, _ in vocab.years for near in (year, year - 1, year + 1)
                                     if d(f"year|{slot}", str(near)) == person["y"]), None)
            if entry.birth_year is None:  # no year the contact gives is near it: a stand-in (YearStandins)
                said = [year for year, _ in vocab.years]
                options = person.get("ys") or []
                entry.birth_year = next((y for y in options if all(abs(y - x) >= 2 for x in said)),
                                        options[0] if options else None)
        return entry


# -- the check ------------------------------------------------------------------------------------
@dataclass
class SelfCheckFinding:
    platform: str
    display_name: str | None
    username: str | None
    category: str
    severity: str  # breach | report | advisory
    status: str  # probable | needs_review
    rule: str
    clause: str
    action: str
    relationships: list[str]
    files: list[str]
    confidence: float
    evidence: list[str]

    def as_json(self) -> dict:
        return {
            "account": {"display_name": self.display_name, "username": self.username},
            "platform": self.platform, "category": self.category, "severity": self.severity,
            "status": self.status, "rule": self.rule, "clause": self.clause, "action": self.action,
            "relationships": self.relationships, "files": self.files, "confidence": round(self.confidence, 4),
            "evidence": self.evidence,
        }


@dataclass
class SelfCheckResult:
    kit_as_of: date
    kit_expires: date
    policy: str
    files: list[dict]
    contacts: int
    findings: list[SelfCheckFinding]
    notes: list[str]

    @property
    def refused(self) -> list[dict]:
        return [f for f in self.files if "error" in f]

    def as_json(self) -> dict:
        return {
            "kit": {"as_of": self.kit_as_of.isoformat(), "expires": self.kit_expires.isoformat(),
                    "policy": self.policy},
            "files": self.files, "contacts": self.contacts, "notes": self.notes,
            "findings": [f.as_json() for f in self.findings],
        }


@dataclass
class _Row:
    account: int
    kind: str
    platform: str
    display_name: str | None
    username: str | None
    file: str


def _rule_for(kit: Kit, person: dict, kind: str) -> tuple[int, tuple[Rule, str, int] | None]:
    """The most severe rule of the person's (first in policy order on a tie) for one connection
    kind, as ``run_audit`` chooses it: (rank, (rule, severity, category)) or (0, None)."""
    best: tuple[Rule, str, int] | None = None
    best_rank = 0
    for number, category in person.get("rules", []):
        rule = kit.policy.rules[number]
        severity = rule.severity_for(kind)
        if SEVERITY_RANK[severity] > best_rank:
            best, best_rank = (rule, severity, category), SEVERITY_RANK[severity]
    return best_rank, best


def check(kit: Kit | dict | Path, paths: Sequence[Path], today: date) -> SelfCheckResult:
    """Check a member of staff's own exports against a kit, on ``today``; reads, never writes."""
    from auditor.graph import account_node, build_graph, household_corroboration, person_node, staff_node
    from auditor.ingest import account_key, parse_export
    from auditor.match.engine import band_for

    kit = kit if isinstance(kit, Kit) else load_kit(kit)
    if today > kit.expires:
        raise ExpiredError(f"this self-check kit expired on {kit.expires.isoformat()}",
                           hint="ask your DSL for a new kit")
    if not paths:
        raise InputError("give at least one export FILE to check")
    notes: list[str] = []
    if kit.matcher_version != MATCHER_VERSION:
        notes.append(f"the kit was made with matcher {kit.matcher_version} and this auditor has {MATCHER_VERSION}; "
                     "ask your DSL for a kit made with your version")
    if kit.policy.staff_roles != "all":
        notes.append("this policy applies to these roles only: " + ", ".join(kit.policy.staff_roles))

    accounts: dict[tuple[str, str], int] = {}
    views: list[AccountView] = []
    rows: list[_Row] = []
    files: list[dict] = []
    refused: list[str] = []
    for path in paths:
        try:
            parsed = parse_export(Path(path), str(path))
        except AuditorError as exc:  # one unreadable file does not hide what the others say
            files.append({"path": str(path), "error": str(exc)})
            refused.append(str(exc))
            continue
        files.append({"path": str(path), "platform": ",".join(parsed.platforms), "rows": len(parsed.records),
                      "skipped": parsed.skipped, "warnings": parsed.warnings})
        for rec in parsed.records:
            ident = (rec.platform, account_key(rec))
            number = accounts.get(ident)
            if number is None:
                number = accounts[ident] = len(views)
                views.append(AccountView(number, rec.platform, rec.display_name, rec.username,
                                         tuple(rec.phones or ()), tuple(rec.emails or ())))
            rows.append(_Row(number, rec.kind, rec.platform, rec.display_name, rec.username, str(path)))

    if len(refused) == len(paths):
        raise InputError(refused[0] if len(refused) == 1 else f"none of the {len(paths)} files could be read: "
                         + "; ".join(refused[:3]))
    index = KitIndex(kit)
    candidates: dict[int, list[Candidate]] = {}
    for view in views:
        index.set_account(account_readings(index, view))
        found = match_account(index, view)
        if found:
            candidates[view.account_id] = found

    staff = staff_node(0)
    G = build_graph([0], [(0, r.account, r.kind) for r in rows],
                    [(a, c.person_id, c.weight, c.band) for a, cs in candidates.items() for c in cs],
                    [(pupil, contact, None) for pupil, contact in kit.households])
    exempt = set(kit.policy.exempt_accounts)
    per_account: dict[int, SelfCheckFinding] = {}
    for row in rows:
        if not kit.policy.covers_platform(row.platform) or row.account not in candidates:
            continue
        if row.display_name and kit.digest("exempt", row.display_name) in exempt:
            continue
        scored = []
        for c in candidates[row.account]:
            person = kit.people[c.person_id]
            colleague = any(ev.comparison == "colleague" for ev in c.evidence)
            weight, pieces = c.weight + float(person.get("school") or 0.0), c.pieces
            bonus, _ = household_corroboration(G, staff, account_node(row.account), person_node(c.person_id))
            if bonus:
                weight += bonus
                pieces += 1
            name_only = getattr(c, "name_only", True) and not bonus
            band = "no_link" if colleague else band_for(DEFAULT_THRESHOLDS, weight, pieces, c.year_agrees, c.ambiguous,
                                                        name_only)
            scored.append((weight, c, person, band))
        # Best weight first, as in the audit; where two people fit exactly as well (namesakes),
        # the one the policy cares most about, so that a tie never hides a pupil.
        scored.sort(key=lambda x: (-round(x[0], 6), -_rule_for(kit, x[2], row.kind)[0]))
        weight, c, person, band = scored[0]
        if band == "no_link" or person["k"] == "staff":
            continue
        _, best = _rule_for(kit, person, row.kind)
        if best is None:
            continue
        rule, severity, category = best
        status = "needs_review" if severity == "breach_review" else band
        severity = "breach" if severity == "breach_review" else severity
        finding = SelfCheckFinding(
            platform=row.platform, display_name=row.display_name, username=row.username,
            category=kit.categories[category], severity=severity, status=status, rule=rule.id,
            clause=rule.clause, action=ACTIONS.get((severity, status), ""), relationships=[row.kind],
            files=[row.file], confidence=1.0 / (1.0 + 2.0 ** (-weight)),
            evidence=[f"{ev.comparison}: {ev.level}" for ev in c.evidence
                      if (ev.weight > 0 or ev.comparison == "rarity") and ev.comparison != "platform"],
        )
        held = per_account.get(row.account)
        if held is None:
            per_account[row.account] = finding
            continue
        if row.kind not in held.relationships:
            held.relationships.append(row.kind)
        if row.file not in held.files:
            held.files.append(row.file)
        if (SEVERITY_RANK[finding.severity], finding.status == "probable") > (
                SEVERITY_RANK[held.severity], held.status == "probable"):
            finding.relationships, finding.files = held.relationships, held.files
            per_account[row.account] = finding

    ordered = sorted(per_account.values(), key=lambda f: (-SEVERITY_RANK[f.severity], f.status != "probable",
                                                           f.platform, (f.display_name or f.username or "").lower()))
    return SelfCheckResult(kit.as_of, kit.expires, f"{kit.policy.name} {kit.policy.version}", files, len(views),
                           ordered, notes)


def record_kit(db, kit: dict, school: str | None) -> None:
    """Note in the audit log that roster-derived data left the DSL's hands (when, for whom, until)."""
    from auditor import auditlog

    with db.begin() as conn:
        auditlog.append(conn, "selfcheck-kit", subject=school or "roster", details={
            "as_of": kit["as_of"], "expires": kit["expires"],
            "policy": f"{kit['policy']['name']} {kit['policy']['version']}", "people": len(kit["people"])})


_HEADINGS = (
    (("breach", "probable"), "REMOVE", "to remove"),
    (("breach", "needs_review"), "CHECK", "to check (possibly someone the policy forbids)"),
    (("report", "probable"), "REPORT", "to report"),
    (("report", "needs_review"), "CHECK", "to check and perhaps report"),
    (("advisory", "probable"), "NOTE", "for awareness"),
    (("advisory", "needs_review"), "NOTE", "for awareness (possible)"),
)


def _shown(f: SelfCheckFinding) -> str:
    name = f.display_name or ""
    handle = f"@{f.username}" if f.username else ""
    return f"{name} ({handle})" if name and handle else name or handle or "(no name in the export)"


def render_text(result: SelfCheckResult) -> str:
    """The result for a person: each contact as their export shows it, grouped by what to do,
    each rule's clause once at the end."""
    lines = [f"Self-check against policy {result.policy} (roster of {result.kit_as_of.isoformat()}; "
             f"kit valid until {result.kit_expires.isoformat()})"]
    for f in result.files:
        if "error" in f:
            lines.append(f"  NOT READ: {f['error']}")
            continue
        lines.append(f"  read {f['path']}: {f['platform'] or 'nothing'}, {f['rows']} entries"
                     + (f", {f['skipped']} skipped" if f["skipped"] else ""))
    lines.append(f"  {result.contacts} contacts checked; nothing was sent or saved.")
    lines += [f"  note: {note}" for note in result.notes]
    if not result.findings:
        lines.append("")
        lines.append("No contact in these exports matches anyone the policy is about.")
        return "\n".join(lines) + "\n"
    counts = []
    clauses: dict[str, str] = {}
    for key, label, title in _HEADINGS:
        group = [f for f in result.findings if (f.severity, f.status) == key]
        if not group:
            continue
        counts.append(f"{len(group)} {title}")
        lines += ["", f"{label}: {ACTIONS[key]}"]
        for f in group:
            kinds = ", ".join(k.replace("_", " ") for k in f.relationships)
            lines.append(f"  {f.platform:10} {_shown(f)} — {f.category}; {kinds} [{f.rule}]")
            clauses.setdefault(f.rule, f.clause)
    lines.insert(len(result.files) + 2 + len(result.notes), "  found: " + "; ".join(counts))
    lines += ["", "The policy's words:"]
    lines += [f"  [{rule}] {clause}" for rule, clause in clauses.items()]
    lines += ["", "If a contact listed is your own child or a relative, tell your DSL so an exemption can be recorded."]
    return "\n".join(lines) + "\n"
