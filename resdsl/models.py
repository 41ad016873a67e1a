"""`resdsl.create_model`: a network from Python as timm makes one, with the changes a user
makes without editing the spec (classes, input channels, input size), weights from a
file, or the feature maps alone for a detector or a dense head (`features_only=True`).

Every argument is checked here first (`arguments.py`), so a wrong one is reported as
that argument, not at the spec line it would have overridden.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from . import arguments, ir
from .compiler import CompiledNetwork, compile_network
from .diagnostics import ResdslArgumentError
from .features import FeatureInfo, calls, feature_points
from .modelfile import MODEL_FILES, load_saved, load_weights


def create_model(name_or_path: str | Path, *, num_classes: int | None = None,
                 in_chans: int | None = None, input=None, weights: str | Path | None = None,
                 features_only: bool = False, out_indices=None, network: str | None = None,
                 **options) -> nn.Module:
    """The module of a built-in spec (`"resnet50"`, `"timm/resnet50d"`), a spec file, one
    network of a file (`"r50.res:resnet50_C"`), or a saved model file; see the README."""
    if str(name_or_path).endswith(MODEL_FILES):
        _refuse_overrides(num_classes=num_classes, in_chans=in_chans, input=input,
                          weights=weights, network=network)
        model = load_saved(name_or_path, **options)
    else:
        model = compile_network(_network(name_or_path, network, num_classes, in_chans, input),
                                **options)
        if weights is not None:
            load_weights(model, weights)
    if features_only:
        return FeatureNetwork(model, out_indices)
    if out_indices is not None:
        raise ResdslArgumentError("out_indices", "chooses feature maps: give features_only=True")
    return model


def _network(spec, network, num_classes, in_chans, input) -> ir.Network:
    from .catalog import reference
    from .loader import load_program
    from .lower import lower

    shape = arguments.shape(input, "input")
    classes = arguments.count(num_classes, "num_classes")
    channels = arguments.count(in_chans, "in_chans")
    if shape and channels and shape[0] != channels:
        raise ResdslArgumentError("in_chans", f"{channels} channels, but input "
                                              f"{ir.shape_text(shape)} has {shape[0]}")
    found, name = reference(spec, network)
    return lower(load_program(found.path), name, shape, classes=classes, channels=channels)


def _refuse_overrides(**given) -> None:
    for name, value in given.items():
        if value is not None:
            raise ResdslArgumentError(name, "a saved model file is rebuilt as it was saved; "
                                            "build from its spec to change it")


class FeatureNetwork(nn.Module):
    """A network's feature maps, as torchvision's detection models take a backbone: an
    ordered dict of maps keyed "0", "1", ... (the names `MultiScaleRoIAlign` reads), and
    `out_channels`, the channels of the last map (what a detector on one map reads; each
    map's are in `feature_info.channels()`). `feature_info` is timm's. Its modules are the
    network's own top-level ones, under the same names (its weights load as they are), up
    to the last map asked for; no head.
    """

    def __init__(self, model: CompiledNetwork, out_indices=None):
        super().__init__()
        points = feature_points(model.network)
        chosen = arguments.indices(out_indices, len(points))
        self._calls = calls(model.network)[:points[chosen[-1]].call + 1]  # module paths
        for root in dict.fromkeys(path.split(".")[0] for path in self._calls):
            self.add_module(root, model.get_submodule(root))
        self._returns = {points[i].call: str(k) for k, i in enumerate(chosen)}
        # A map the next module would overwrite in place (a top-level ReLU) is copied.
        self._copies = {c for c in self._returns if c + 1 < len(self._calls) and
                        getattr(self.get_submodule(self._calls[c + 1]), "inplace", False)}
        object.__setattr__(self, "network", model.network)  # plain attributes, not state
        self.feature_info = FeatureInfo(points, chosen)
        self.out_channels = points[chosen[-1]].channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        features = OrderedDict()
        for i, path in enumerate(self._calls):
            x = self.get_submodule(path)(x)
            if i in self._returns:
                features[self._returns[i]] = x.clone() if i in self._copies else x
        return features
