"""Fuzzing the roster readers (hypothesis): canonical CSV folders, a MIS report with mapped
columns, a loose staff list, CTF XML, OneRoster 1.1 and 1.2 and SDS 2.1 folders, each grown
from its fixture (one file changed per case: CSV lines, quoting, BOMs and line endings; XML
elements dropped, duplicated, emptied or given odd text; bytes flipped; files cut short). The
whole read (``read_roster``, which consolidates) and the checks that follow (``validate``)
must give a roster or one ``AuditorError``, never any other exception.

Profiles and the long run: see tests/test_fuzz_exports.py."""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import AuditorError
from auditor.roster import read_roster, validate
from tests.test_fuzz_exports import FUZZ, PROFILE, TEXTS, Seed, byte_variants, text_variants

ROSTERS = Path(__file__).parent / "fixtures" / "roster"
pytestmark = pytest.mark.skipif(bool(os.environ.get("AUDITOR_TEST_PG")),
                                reason="no database involved; the SQLite pass runs it")
FIGURES: Counter = Counter()
ROSTER_FUZZ = settings(FUZZ, max_examples=FUZZ.max_examples * 2)  # fewer seeds than exports: more cases each


@dataclass(frozen=True)
class RosterSeed:
    name: str
    files: dict[str, bytes]  # relative path -> bytes
    paths: tuple[str, ...]  # what is given to read_roster, relative to the case folder
    options: tuple = ()  # the [roster] table, as items (hashable)


def _folder(name: str, paths: tuple[str, ...] | None = None, options: dict | None = None) -> RosterSeed:
    root = ROSTERS / name
    files = {f"{name}/{p.relative_to(root).as_posix()}": p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and p.suffix != ".toml"}
    return RosterSeed(name, files, paths or (name,), tuple(sorted((options or {}).items())))


SEEDS = [
    _folder("canonical"),
    _folder("canonical-next"),
    _folder("oneroster-1.1"),
    _folder("oneroster-1.2"),
    _folder("sds-2.1"),
    _folder("sims", ("sims/Pupil List.csv",), tomllib.loads((ROSTERS / "sims" / "auditor.toml").read_text())["roster"]),
    RosterSeed("staff-list", {"staff.csv": (ROSTERS / "canonical" / "staff.csv").read_bytes()}, ("staff.csv",)),
    *[RosterSeed(f"ctf-{p.stem}", {p.name: p.read_bytes()}, (p.name,)) for p in sorted((ROSTERS / "ctf").glob("*.xml"))],
]


def _mutate_element(draw, element: ET.Element, depth: int = 0) -> None:
    children = list(element)
    for child in children:
        op = draw(st.integers(0, 99))
        if op < 5:
            element.remove(child)
        elif op < 8:
            element.append(child)  # the same element twice (a duplicate pupil, contact, phone)
        elif op < 14:
            child.text = draw(TEXTS)
        elif op < 16:
            child.tag = draw(st.sampled_from(["Pupil", "Contact", "Surname", "Forename", "DOB", "UPN", "Phone",
                                              "Email", "Order", "Relationship", "Responsibility", "X"]))
        elif op < 18:
            for grandchild in list(child):
                child.remove(grandchild)
        if depth < 8 and op >= 5:
            _mutate_element(draw, child, depth + 1)
    if draw(st.integers(0, 99)) < 4:
        extra = ET.SubElement(element, draw(st.sampled_from(["Pupil", "Contact", "Phones", "Email", "DOB", "Y"])))
        extra.text = draw(TEXTS)


@st.composite
def xml_variants(draw, data: bytes) -> bytes:
    root = ET.fromstring(data)
    _mutate_element(draw, root)
    text = ET.tostring(root, encoding="unicode")
    head = draw(st.sampled_from(['<?xml version="1.0" encoding="UTF-8"?>\n', "", "\ufeff",
                                 '<?xml version="1.0"?>\n<!DOCTYPE CTfile [<!ENTITY x "y">]>\n']))
    return (head + text).encode("utf-8")


@st.composite
def roster_cases(draw, seed: RosterSeed) -> dict[str, bytes]:
    files = dict(seed.files)
    target = draw(st.sampled_from(sorted(files)))
    original = Seed(target, target, files[target], "")
    if target.endswith(".xml"):
        structured = xml_variants(original.data)
        strategy = st.one_of(structured, structured, text_variants(original), byte_variants(original.data))
    else:
        strategy = st.one_of(text_variants(original), text_variants(original), byte_variants(original.data))
    files[target] = draw(strategy)
    return files


def read_safely(seed: RosterSeed, files: dict[str, bytes]) -> str:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-roster-"))
    try:
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        try:
            data = read_roster([folder / p for p in seed.paths], dict(seed.options))
            issues = validate(data)
        except AuditorError as exc:
            assert str(exc).strip() and "\n" not in str(exc), "a refusal is one line"
            return "refused"
        assert all(str(issue) for issue in issues)
        for person in data.people:
            assert isinstance(person.ref, str) and person.ref
        return "read"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("seed", SEEDS, ids=[s.name for s in SEEDS])
def test_near_valid_rosters_are_read_or_refused_in_one_line(seed: RosterSeed):
    assert read_safely(seed, dict(seed.files)) == "read", "the seed itself must be a readable roster"

    @ROSTER_FUZZ
    @given(files=roster_cases(seed))
    def check(files: dict[str, bytes]):
        outcome = read_safely(seed, files)
        FIGURES["cases"] += 1
        FIGURES[outcome] += 1

    check()


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    if FIGURES["cases"]:
        print(f"\nroster fuzzing ({PROFILE}): {FIGURES['cases']} cases over {len(SEEDS)} rosters; "
              f"{FIGURES['read']} read, {FIGURES['refused']} refused with one line")
