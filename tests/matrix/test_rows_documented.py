"""The behaviour matrix and its tests stay one: every row names tests that exist, and every
row test under tests/matrix/ is named by a row."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "docs" / "behaviour.md"
ROW_TESTS = ROOT / "tests" / "matrix"
# Files under tests/matrix/ that check the matrix as a whole rather than one row.
NOT_ROWS = {"test_rows_documented.py", "test_lifecycle_property.py"}

_ROW = re.compile(r"^\|\s*`(?P<id>[a-z0-9-]+)`\s*\|")
_TEST = re.compile(r"`(tests/[\w/]+\.py::\w+(?:\[[^\]`]+\])?)`")


def rows() -> dict[str, list[str]]:
    """Row id -> the test node ids its last column names."""
    found: dict[str, list[str]] = {}
    for line in MATRIX.read_text().splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        row = match["id"]
        assert row not in found, f"row {row} appears twice in {MATRIX.name}"
        last = line.rstrip().rstrip("|").rsplit("|", 1)[-1]
        found[row] = _TEST.findall(last)
    return found


def collected(paths: set[str]) -> set[str]:
    """Node ids pytest collects from ``paths`` (parametrised ids included)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *sorted(paths)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {line.strip() for line in result.stdout.splitlines() if "::" in line}


def _matches(name: str, ids: set[str]) -> bool:
    """Whether ``name`` is one of ``ids``, or names a parametrised test among them whole."""
    return name in ids or any(i.startswith(name + "[") for i in ids)


def test_every_row_names_tests_that_exist_and_every_row_test_has_a_row() -> None:
    table = rows()
    assert len(table) >= 20, f"only {len(table)} rows found in {MATRIX}"
    without = sorted(row for row, tests in table.items() if not tests)
    assert not without, f"rows without a test: {without}"
    named = {test for tests in table.values() for test in tests}
    files = {test.split("::", 1)[0] for test in named}
    row_files = {str(p.relative_to(ROOT)) for p in ROW_TESTS.glob("test_*.py")
                 if p.name not in NOT_ROWS}
    ids = collected(files | row_files)
    missing = sorted(n for n in named if not _matches(n, ids))
    assert not missing, f"tests named by rows that do not exist: {missing}"
    unnamed = sorted(i for i in ids if i.split("::", 1)[0] in row_files
                     and not any(_matches(n, {i}) for n in named))
    assert not unnamed, f"row tests no row names: {unnamed}"
