"""Shared paths for the tests.

Every test module imports its paths from here (tests/ is on sys.path: pytest puts the
rootdir of tests/conftest.py there, and train_script.py does for its processes).
"""

from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
PRELUDE = ROOT / "resdsl" / "prelude.res"
BENCH = ROOT / "bench"
TESTS = ROOT / "tests"
GOLDEN = TESTS / "golden"
INVALID = TESTS / "invalid"  # one broken rule per file; helpers they import in imports/
REFERENCE = TESTS / "reference"  # copied from the team's shared/reference/

def spec_files() -> list[Path]:
    return sorted(SPECS.glob("**/*.res"))


def network_specs() -> list[Path]:
    """Specs that declare a network (cifar.res and torchvision.res are libraries)."""
    return list(_network_specs())


@lru_cache(maxsize=1)
def _network_specs() -> tuple[Path, ...]:  # several modules parametrize over them
    from resdsl.loader import load_program

    return tuple(p for p in spec_files() if load_program(p).networks)


def spec_id(path: Path) -> str:
    return str(path.relative_to(SPECS).with_suffix(""))

