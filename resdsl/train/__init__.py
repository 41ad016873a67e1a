"""Training: reproduce the paper's CIFAR-10 recipe on a compiled spec.

    options = TrainOptions(data="cifar10", data_dir="data", iterations=64000)
    seed_everything(options.seed)                # before building the model: same init
    result = train(model, network, network.recipe, options, spec_text, make_reporter())

Modules, one per concern: options (TrainOptions, recipe overrides), cifar / folder / data
(sources), batches (on-device batches and augmentation), schedule (lr), checkpoint,
runfolder (config.json, metrics.jsonl), loop (train, evaluate), speed (precision,
channels_last, torch.compile, SyncBatchNorm), distributed (torchrun), progress
(reporters), plot (Figure 6 curves).
"""

from .checkpoint import load_weights
from .data import Data, open_data
from .errors import (CheckpointError, DataError, DivergedError, OptionsError, PlotError,
                     TrainError)
from .loop import RunResult, check_launch, evaluate, pick_device, seed_everything, train
from .options import TrainOptions, resolve_recipe
from .plot import plot_runs
from .progress import PlainReporter, RecordingReporter, Reporter, RichReporter, make_reporter
from .runfolder import SavedRun, load_run

__all__ = [
    "CheckpointError", "Data", "DataError", "DivergedError", "OptionsError", "PlainReporter",
    "PlotError", "RecordingReporter", "Reporter", "RichReporter", "RunResult", "SavedRun",
    "TrainError", "TrainOptions", "check_launch", "evaluate", "load_run", "load_weights",
    "make_reporter", "open_data", "pick_device", "plot_runs", "resolve_recipe",
    "seed_everything", "train",
]
