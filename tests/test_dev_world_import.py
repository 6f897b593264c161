"""The whole dev-world manifest imports through the CLI with exactly the rows truth.json lists
for each file (a follow-back at one second in both lists being one ``mutual`` row)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.conftest import DEV_WORLD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DEV_WORLD / "truth.json").exists(), reason="../shared/datasets/dev-world is not present"),
]


def test_every_manifest_file_imports_with_the_truth_rows(cli):
    truth = json.loads((DEV_WORLD / "truth.json").read_text())["rows"]
    rows_per_file = Counter(r["file"] for r in truth)
    kinds_per_file: dict[str, Counter] = {}
    for r in truth:
        kinds_per_file.setdefault(r["file"], Counter())[r["relationship"]] += 1
    cli("init")
    cli("roster", "import", DEV_WORLD / "roster")
    result = cli("import", "--manifest", DEV_WORLD / "manifest.csv", "--json")
    files = json.loads(result.stdout)["files"]
    assert len(files) == len(rows_per_file)
    wrong = {f["path"]: (f["status"], f["rows"], rows_per_file[f["path"]]) for f in files
             if f["status"] != "imported" or f["rows"] != rows_per_file[f["path"]] or f["skipped"]}
    assert wrong == {}
    assert {f["platform"] for f in files} == {"facebook", "instagram", "tiktok", "snapchat", "linkedin", "contacts"}

    again = json.loads(cli("import", "--manifest", DEV_WORLD / "manifest.csv", "--json").stdout)["files"]
    assert {f["status"] for f in again} == {"unchanged"}
    assert sum(f["rows"] for f in again) == len(truth)


def test_kinds_per_file_match_the_truth():
    from auditor.ingest import parse_export, read_manifest

    truth = json.loads((DEV_WORLD / "truth.json").read_text())["rows"]
    want: dict[str, Counter] = {}
    for r in truth:
        want.setdefault(r["file"], Counter())[r["relationship"]] += 1
    for _staff, path, written in read_manifest(DEV_WORLD / "manifest.csv"):
        got = Counter(r.kind for r in parse_export(path, written).records)
        assert got == want[written], written
