"""Shared test options and fixtures: golden files under tests/golden/.

`pytest --update-goldens` rewrites every golden a test compares with (review the diff);
without it, a mismatch fails and shows where the texts first differ.

Layout: tests/ mirrors resdsl/ (test_parser.py for parser.py, ir/ for resdsl/ir/, train/
for resdsl/train/). tests/ itself has no __init__.py: pytest puts it on sys.path as the
rootdir of this file, so every test module imports `helpers` (shared paths and specs).
Each folder below it is a package (it has an __init__.py), so that its modules cannot
clash by name with another folder's.
"""

from __future__ import annotations

import pytest

from helpers import GOLDEN as GOLDEN_DIR


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ instead of comparing")


@pytest.fixture
def golden(request):
    """`golden("summary/resnet34.json", text)`: compare text with the golden file, or
    write it under --update-goldens."""
    update = request.config.getoption("--update-goldens")

    def check(name: str, text: str) -> None:
        path = GOLDEN_DIR / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"no golden file {path}; run pytest --update-goldens and review it")
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            pytest.fail(f"{path} differs {_first_difference(expected, text)}; "
                        "if the change is intended, run pytest --update-goldens", pytrace=False)

    return check


def _first_difference(expected: str, actual: str) -> str:
    old, new = expected.splitlines(), actual.splitlines()
    for number, (a, b) in enumerate(zip(old, new), 1):
        if a != b:
            return f"at line {number}:\n  golden: {a!r}\n  actual: {b!r}"
    return f"in length: golden has {len(old)} lines, actual {len(new)}"
