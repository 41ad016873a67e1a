"""The wheel: what a user gets from `pip install resdsl`, without the repository."""

from __future__ import annotations

import subprocess
import sys
import venv

import pytest

from helpers import ROOT

# What `resdsl summary` needs besides resdsl (never torch): from the running test venv's
# index as pip sees it, without the repository.
SUMMARY_DEPENDENCIES = ["lark>=1.1.9", "pydantic>=2.6", "rich>=13", "typer>=0.12"]


@pytest.mark.slow
def test_the_wheel_ships_the_specs_and_summarises_a_built_in_one(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next(dist.glob("resdsl-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # --no-deps: the wheel alone, plus what summary imports; torch stays out, as summary
    # never imports it.
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *SUMMARY_DEPENDENCIES], check=True,
                   capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([env_dir / "bin" / "resdsl", "summary", "resnet34"], cwd=elsewhere,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "conv5_x" in done.stdout and "21.80M" in done.stdout
    listed = subprocess.run([env_dir / "bin" / "resdsl", "list", "timm/*"], cwd=elsewhere,
                            capture_output=True, text=True)
    assert listed.returncode == 0 and "timm/resnetv2_50" in listed.stdout
    # The experiments ship as package data, and listing them needs no torch either.
    experiments = subprocess.run([env_dir / "bin" / "resdsl", "reproduce", "--list"],
                                 cwd=elsewhere, capture_output=True, text=True)
    assert experiments.returncode == 0, experiments.stderr
    assert all(name in experiments.stdout for name in ("fig6", "table6", "highway"))
    assert not (elsewhere / "specs").exists() and (ROOT / "specs").is_dir()
