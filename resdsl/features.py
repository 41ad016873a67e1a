"""Where a network's feature maps are, for detection and dense tasks: the output of each
section but the head, as plain data computed from the IR (no torch), so that
`resdsl summary --features` shows them and `create_model(features_only=True)` returns them.

A compiled network's `forward` calls its top-level modules one after the other (the stem's
layers, the stages' containers, the head's layers; see `codegen.network_body`), and every
container is an `nn.Sequential` of the items of its stages, in order: so calling each
item of each section in turn, by its module path, runs the same network, and a section's
map is the output of its last item. The stem's map is taken before its trailing pooling,
as timm takes ResNet's at `act1`: a map at half the input's size that the first stage's
map does not repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ir

POOLS = ("maxpool", "avgpool")


@dataclass(frozen=True)
class FeaturePoint:
    module: str  # the module whose output it is: "relu", "layer1", "stages.0.blocks"
    stage: str  # the section it ends: "conv1", "conv2_x"
    shape: ir.Shape  # CxHxW at the network's input size
    reduction: int  # the input's height over the map's: 2, 4, ... 32
    call: int  # where it is among `calls(network)`: the output of that call

    @property
    def channels(self) -> int:
        return self.shape[0]


def calls(net: ir.Network) -> list[str]:
    """The module path of every item of every section, in the order `forward` runs them."""
    return [path for stage in net.stages for path in calls_of(stage)]


def feature_points(net: ir.Network) -> list[FeaturePoint]:
    """The feature maps a network gives, in order: one per section but the head."""
    points, position = [], 0
    shared = [stage.module for stage in net.stages]
    for stage in net.stages:
        position += len(stage.items)
        if stage.role == "head" or not stage.items:
            continue
        end = len(stage.items) - 1
        while stage.role == "stem" and end > 0 and _is_pool(stage.items[end]):
            end -= 1
        item = stage.items[end]
        whole = stage.module and shared.count(stage.module) == 1 and end == len(stage.items) - 1
        module = stage.module if whole else calls_of(stage)[end]
        if len(item.out_shape) == 3:  # not a flattened vector
            reduction = max(1, round(net.input[1] / item.out_shape[1]))
            points.append(FeaturePoint(module, stage.name, tuple(item.out_shape), reduction,
                                       position - len(stage.items) + end))
    return points


def calls_of(stage: ir.Stage) -> list[str]:
    return [f"{stage.module}.{item.name}" if stage.module else item.name for item in stage.items]


def _is_pool(item) -> bool:
    return isinstance(item, ir.Layer) and item.kind in POOLS


class FeatureInfo:
    """The feature maps as timm describes them (`model.feature_info`): `channels()`,
    `reduction()`, `module_name()` of the maps returned, in order; `channels(i)` of the
    i-th map of all there are; `info`, a dict per map (`num_chs`, `reduction`, `module`)."""

    def __init__(self, points: list[FeaturePoint], out_indices: tuple[int, ...]):
        self.info = [{"num_chs": p.channels, "reduction": p.reduction, "module": p.module,
                      "stage": p.stage, "index": i} for i, p in enumerate(points)]
        self.out_indices = tuple(out_indices)

    def get(self, key: str, idx: int | list[int] | None = None):
        if idx is None:
            return [self.info[i][key] for i in self.out_indices]
        if isinstance(idx, (tuple, list)):
            return [self.info[i][key] for i in idx]
        return self.info[idx][key]

    def get_dicts(self, keys: list[str] | None = None, idx=None) -> list[dict] | dict:
        chosen = self.out_indices if idx is None else idx
        if isinstance(chosen, int):
            return {k: v for k, v in self.info[chosen].items() if keys is None or k in keys}
        return [self.get_dicts(keys, i) for i in chosen]

    def channels(self, idx=None):
        return self.get("num_chs", idx)

    def reduction(self, idx=None):
        return self.get("reduction", idx)

    def module_name(self, idx=None):
        return self.get("module", idx)

    def __getitem__(self, item):
        return self.info[item]

    def __len__(self) -> int:
        return len(self.info)
