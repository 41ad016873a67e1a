"""No file or flag a user controls ends `resdsl train`, `eval` or `plot` in an internal error.

A corpus of faults, one per case: hostile or broken data, run folders, checkpoints,
configs, metrics and flags. Each runs through the command line; each must end in exit
status 0, 1 or 2 with at most a one-line message, never in a traceback or an unexpected
exception (which `resdsl` would report as "internal error", exit 70).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from helpers import GUARD_SECONDS, SPECS
from resdsl.cli import app
from resdsl.train.checkpoint import FORMAT

from .datasets.test_folder import png_header
from .train_helpers import environment, make_cifar10, make_image_folder

runner = CliRunner()
SPEC = SPECS / "resnet20.res"
SMALL = ("--iterations", "2", "--batch-size", "8", "--eval-every", "2", "--log-every", "1",
         "--checkpoint-every", "1", "--workers", "0")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished ResNet-20 run on synthetic data, copied afresh for each case."""
    out = tmp_path_factory.mktemp("trained") / "run"
    result = runner.invoke(app, ["train", str(SPEC), "--data", "synthetic:32", *SMALL,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def fresh_run(trained: Path, tmp: Path) -> Path:
    copy = tmp / "copy"
    shutil.copytree(trained, copy)
    return copy


def newest(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("ckpt_*.pt"))[-1]


class Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def cifar_with(tmp: Path, name: str, content: bytes | None = None, fifo: bool = False,
               size: int | None = None) -> list[str]:
    folder, _, _ = make_cifar10(tmp / "data")
    path = folder / name
    if fifo:
        path.unlink()
        os.mkfifo(path)
    elif size is not None:
        with open(path, "r+b") as file:
            file.truncate(size)
    else:
        path.write_bytes(content)
    return ["train", str(SPEC), "--data-dir", str(tmp / "data"), "--skip-checksum", *SMALL,
            "--out", str(tmp / "out")]


def synthetic(*flags: str) -> callable:
    return lambda tmp, run: ["train", str(SPEC), "--data", "synthetic:32", *SMALL, *flags,
                             "--out", str(tmp / "out")]


def resume_with(damage) -> callable:
    def case(tmp: Path, trained: Path) -> list[str]:
        run = fresh_run(trained, tmp)
        damage(run)
        return ["train", "--resume", str(run), "--iterations", "3"]
    return case


def eval_with(damage) -> callable:
    def case(tmp: Path, trained: Path) -> list[str]:
        run = fresh_run(trained, tmp)
        damage(run)
        return ["eval", str(run)]
    return case


def plot_with(damage, out: str = "fig.png") -> callable:
    def case(tmp: Path, trained: Path) -> list[str]:
        run = fresh_run(trained, tmp)
        damage(run)
        return ["plot", str(run), "--out", str(tmp / out) if not out.startswith("/") else out]
    return case


def torch_payload(run: Path, payload: object) -> None:
    torch.save(payload, newest(run))


def image_folder_with(extra) -> callable:
    def case(tmp: Path, trained: Path) -> list[str]:
        root = make_image_folder(tmp / "images", per_class=3, val_per_class=1)
        spec = tmp / "three.res"
        spec.write_text(f'import "{SPEC}"\nnetwork three = resnet20 {{ classes 3 }}\n')
        extra(root)
        return ["train", str(spec), "--data", str(root), "--iterations", "1", "--batch-size",
                "3", "--workers", "0", "--out", str(tmp / "out")]
    return case


def nothing(run: Path) -> None:
    pass


CASES = {
    # flags
    "synthetic:superscript": synthetic("--data", "synthetic:²"),
    "synthetic:4e9": synthetic("--data", "synthetic:4000000000"),
    "crop_padding=100000": synthetic("--set", "crop_padding=100000"),
    "momentum=-1": synthetic("--set", "momentum=-1"),
    "lr=nan": synthetic("--lr", "nan"),
    "lr_steps=decreasing": synthetic("--set", "lr_steps=5,2"),
    "set-nonsense": synthetic("--set", "nonsense"),
    "set-unknown": synthetic("--set", "colour=red"),
    "device-meta": synthetic("--device", "meta"),
    "device-cuda:99": synthetic("--device", "cuda:99"),
    "seed-huge": synthetic("--seed", str(2**70)),
    "workers-huge": synthetic("--workers", "100000"),
    "batch-huge": synthetic("--batch-size", "100000000"),
    "val-split-huge": synthetic("--val-split", str(10**12)),
    "precision-fp8": synthetic("--precision", "fp8"),
    "recipe-unknown": synthetic("--recipe", "nope"),
    "out-is-a-file": lambda tmp, run: [(tmp / "f").write_text("")] and
    ["train", str(SPEC), "--data", "synthetic:32", *SMALL, "--out", str(tmp / "f")],
    "out-in-proc": lambda tmp, run: ["train", str(SPEC), "--data", "synthetic:32", *SMALL,
                                     "--out", "/proc/x/run"],
    "no-spec-no-resume": lambda tmp, run: ["train", "--data", "synthetic:32"],
    "spec-missing": lambda tmp, run: ["train", str(tmp / "none.res")],
    # data
    "cifar-payload": lambda tmp, run: cifar_with(tmp, "data_batch_1",
                                                 pickle.dumps(Payload(tmp / "pwned"))),
    "cifar-meta-payload": lambda tmp, run: cifar_with(tmp, "batches.meta",
                                                      pickle.dumps(Payload(tmp / "pwned"))),
    "cifar-12GB": lambda tmp, run: cifar_with(tmp, "data_batch_2", size=12 * 2**30),
    "cifar-fifo": lambda tmp, run: cifar_with(tmp, "test_batch", fifo=True),
    "cifar-float-labels": lambda tmp, run: cifar_with(tmp, "data_batch_3", pickle.dumps(
        {"data": __import__("numpy").zeros((2, 3072), "uint8"), "labels": [0.5, 1.0]})),
    "cifar-empty": lambda tmp, run: cifar_with(tmp, "data_batch_4", b""),
    "cifar-not-a-dict": lambda tmp, run: cifar_with(tmp, "data_batch_5", pickle.dumps([1])),
    "cifar-deep": lambda tmp, run: cifar_with(tmp, "data_batch_1",
                                              b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."),
    "data-dir-is-garbage": lambda tmp, run: [(tmp / "junk").write_bytes(b"junk" * 100)] and
    ["train", str(SPEC), "--data-dir", str(tmp / "junk"), "--skip-checksum", *SMALL],
    "images-fifo": image_folder_with(lambda root: os.mkfifo(root / "train" / "cat" / "pipe.png")),
    "images-bomb": image_folder_with(lambda root: (root / "train" / "dog" / "bomb.png")
                                     .write_bytes(png_header(20000, 20000))),
    "images-garbage": image_folder_with(lambda root: (root / "val" / "emu" / "x.jpg")
                                        .write_bytes(b"not a jpeg")),
    # run folders, checkpoints, configs, metrics
    "resume-not-a-run": lambda tmp, run: ["train", "--resume", str(tmp)],
    "resume-missing": lambda tmp, run: ["train", "--resume", str(tmp / "none")],
    "resume-config-null": resume_with(lambda run: (run / "config.json").write_text("null")),
    "resume-config-list": resume_with(lambda run: (run / "config.json").write_text("[1]")),
    "resume-config-deep": resume_with(lambda run: (run / "config.json").write_text("[" * 10**5)),
    "resume-config-fifo": resume_with(lambda run: (run / "config.json").unlink() or
                                      os.mkfifo(run / "config.json")),
    "resume-config-bad-spec": resume_with(lambda run: (run / "config.json").write_text(
        json.dumps({**json.loads((run / "config.json").read_text()), "spec": "network {"}))),
    "resume-metrics-null": resume_with(lambda run: open(run / "metrics.jsonl", "a").write(
        "null\n[1]\n{\"iteration\": \"x\"}\n")),
    "resume-metrics-fifo": resume_with(lambda run: (run / "metrics.jsonl").unlink() or
                                       os.mkfifo(run / "metrics.jsonl")),
    "resume-checkpoint-empty": resume_with(lambda run: newest(run).write_bytes(b"")),
    "resume-checkpoint-list": resume_with(lambda run: torch_payload(run, [1, 2])),
    "resume-checkpoint-state-list": resume_with(
        lambda run: torch_payload(run, {"format": FORMAT, "state": [1]})),
    "resume-checkpoint-payload": resume_with(
        lambda run: torch_payload(run, {"format": FORMAT, "state": Payload(run / "pwned")})),
    "resume-checkpoint-fifo": resume_with(lambda run: newest(run).unlink() or
                                          os.mkfifo(newest(run).parent / "ckpt_000009.pt")),
    "resume-all-checkpoints-gone": resume_with(
        lambda run: [p.unlink() for p in (run / "checkpoints").iterdir()]),
    "resume-changes-lr": lambda tmp, run: ["train", "--resume", str(fresh_run(run, tmp)),
                                           "--lr", "0.3"],
    "resume-fewer-iterations": lambda tmp, run: ["train", "--resume", str(fresh_run(run, tmp)),
                                                 "--iterations", "1"],
    "eval-checkpoint-empty": eval_with(lambda run: newest(run).write_bytes(b"")),
    "eval-config-deep": eval_with(lambda run: (run / "config.json").write_text("{" * 10**5)),
    "eval-no-checkpoints": eval_with(lambda run: shutil.rmtree(run / "checkpoints")),
    "eval-fifo": lambda tmp, run: os.mkfifo(tmp / "c.pt") or ["eval", str(SPEC), str(tmp / "c.pt")],
    "eval-missing": lambda tmp, run: ["eval", str(SPEC), str(tmp / "none.pt")],
    "eval-device-meta": lambda tmp, run: ["eval", str(fresh_run(run, tmp)), "--device", "meta"],
    "eval-three-paths": lambda tmp, run: ["eval", "a", "b", "c"],
    "plot-out-dir": plot_with(nothing, out="."),
    "plot-metrics-null": plot_with(lambda run: (run / "metrics.jsonl").write_text(
        "null\n" + (run / "metrics.jsonl").read_text())),
    "plot-metrics-fifo": plot_with(lambda run: (run / "metrics.jsonl").unlink() or
                                   os.mkfifo(run / "metrics.jsonl")),
    "plot-metrics-strings": plot_with(lambda run: (run / "metrics.jsonl").write_text(
        '{"iteration": 1, "train_error": "high", "test_error": null}\n')),
    "plot-out-in-proc": plot_with(nothing, out="/proc/x/fig.png"),
    "plot-not-a-run": lambda tmp, run: ["plot", str(tmp), "--out", str(tmp / "f.png")],
}


@pytest.mark.parametrize("case", list(CASES))
def test_no_fault_ends_in_an_internal_error(case, tmp_path, trained):
    argv = CASES[case](tmp_path, trained)
    result = runner.invoke(app, argv)
    unexpected = result.exception if not isinstance(result.exception, SystemExit) else None
    assert unexpected is None, f"{case}: {type(unexpected).__name__}: {unexpected}"
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert not (tmp_path / "pwned").exists() and not list(tmp_path.rglob("pwned"))
    if result.exit_code == 1:  # one error, one line, naming what is wrong
        errors = [line for line in result.output.splitlines() if ": error: " in line]
        assert len(errors) == 1, result.output


@pytest.mark.slow  # a process per command, each importing torch
@pytest.mark.parametrize("encoding, commands", [("ascii", 4), ("cp1252", 1)])
def test_a_console_that_cannot_encode_the_output_is_no_internal_error(tmp_path, encoding,
                                                                      commands):
    """The run folder's name is in every line about it; the console cannot print it
    (cp1252 has é but not ε, ascii neither)."""
    out = tmp_path / "résumé-ε"
    every = [["train", str(SPEC), "--data", "synthetic:32", *SMALL, "--out", str(out)],
             ["eval", str(out)], ["plot", str(out), "--out", str(out / "fig-ε.png")],
             ["train", "--resume", str(out), "--lr", "0.7"]]
    for command, expected in list(zip(every, (0, 0, 0, 1)))[:commands]:
        done = subprocess.run([sys.executable, "-m", "resdsl", *command], capture_output=True,
                              env=environment(PYTHONIOENCODING=encoding), timeout=GUARD_SECONDS)
        stderr = done.stderr.decode(encoding, errors="replace")
        assert done.returncode == expected, stderr
        assert "Traceback" not in stderr and "internal error" not in stderr
