"""Shared paths for the tests."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
REFERENCE = ROOT / "tests" / "reference"  # copied from the team's shared/reference/


def spec_files() -> list[Path]:
    return sorted(SPECS.glob("**/*.res"))


def network_specs() -> list[Path]:
    """Specs that declare a network (cifar.res and torchvision.res are libraries)."""
    from resdsl.loader import load_program

    return [p for p in spec_files() if load_program(p).networks]


def spec_id(path: Path) -> str:
    return str(path.relative_to(SPECS).with_suffix(""))
