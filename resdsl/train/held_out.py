"""The error on held-out images: what evaluations log and what `resdsl eval` reports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .checkpoint import load_weights
from .datasets import Data, open_data
from .distributed import pick_device
from .options import TrainOptions
from .errors import CheckpointError
from .plan import choose_recipe, load_spec, network_of_run, run_folder_of
from .runfolder import SavedRun, check_same_spec, load_run
from .speed import autocast

# What `resdsl eval` takes from the run it evaluates, unless its flags say otherwise
# (the seed: synthetic data is drawn from it). It always reports the test set.
FROM_THE_RUN = ("data", "data_dir", "skip_checksum", "seed")


def held_out_error(model: nn.Module, data: Data | Iterable[tuple[Tensor, Tensor]],
                   device: torch.device | str, precision: str = "fp32") -> float:
    """Error (a fraction) of `model` on `data`'s held-out images (its test or val set)."""
    batches = data.eval if isinstance(data, Data) else data
    device = torch.device(device)
    wrong, total = count_errors(model, batches, device,
                                lambda: autocast(device, precision)).tolist()
    return wrong / total


@torch.no_grad()
def count_errors(model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]],
                 device: torch.device, autocast: Callable[[], AbstractContextManager]) -> Tensor:
    """(mistakes, images) as a float64 tensor on `device`; the model is left as it was."""
    was_training = model.training
    model.eval()
    counts = torch.zeros(2, dtype=torch.float64, device=device)
    for x, y in batches:
        with autocast():
            logits = model(x.to(device, non_blocking=True))
        counts[0] += (logits.argmax(1) != y.to(device, non_blocking=True)).sum()
        counts[1] += len(y)
    model.train(was_training)
    return counts


@dataclass(frozen=True)
class Evaluation:
    network: str  # its name
    checkpoint: Path  # the checkpoint evaluated
    eval_set: str  # "test", or "val" for an image folder
    error: float  # a fraction
    warnings: list[str]  # about the data (skipped checksums)


def evaluate_checkpoint(spec: str | os.PathLike | None, source: str | os.PathLike,
                        network: str | None, given: Mapping[str, Any],
                        report: Callable[[str], None]) -> Evaluation:
    """The test error of the checkpoint `source` (a file, or a run folder's newest good
    one), of the spec given or else the run's saved one, on the data the run trained on
    unless `given` (option fields) says otherwise."""
    folder = run_folder_of(source)
    saved = load_run(folder) if folder is not None else None
    network, recipe = _network_and_recipe(spec, source, network, saved, folder, report)
    taken = {k: getattr(saved.options, k) for k in FROM_THE_RUN} if saved else {}
    options = TrainOptions(**{**taken, **given})
    device = pick_device(options.device)
    from ..compiler import compile_network

    model = compile_network(network).to(device)
    passed_over: list[str] = []  # newer checkpoints that did not load
    used = load_weights(model, source, passed_over.append, saved.run_id if saved else None)
    for line in passed_over:  # never evaluate an older checkpoint without a word
        report(f"warning: evaluated {used}, not the newest checkpoint: {line}")
    data = open_data(network, recipe, options, device)
    return Evaluation(network.name, used, data.eval_set,
                      held_out_error(model, data, device), data.warnings)


def _network_and_recipe(spec, source, name: str | None, saved: SavedRun | None, folder,
                        report: Callable[[str], None]):
    """The network the checkpoint is of (the spec given, else the run's saved one) and how
    its run trained it (normalisation, batch): the run's recipe, else the spec's."""
    if spec is None and saved is None:
        what = "holds no config.json with the spec" if Path(source).exists() else \
            "no such run folder or checkpoint"
        raise CheckpointError(f"{what}: give the spec too, or a run folder", file=str(source))
    if saved is None:
        loaded = load_spec(spec, name)
        recipe, note = choose_recipe(loaded, None)
        if note:
            report(note)
        return loaded.network, recipe
    network = load_spec(spec, name, saved.options.input).network if spec is not None \
        else network_of_run(saved, folder, name)
    check_same_spec(saved, network, folder)  # its weights go into the network it trained
    return network, saved.recipe
