"""What changed between two networks, stage by stage (`resdsl diff A B`).

Stages are paired by what they are, never by position alone: the stem with the stem
and the head with the head; the other stages by name, and those whose name the other
network lacks by output size (H x W, the paper's Table 1 rows), in order. So a paper
spec pairs with torchvision's although torchvision names its stages `layer1`..., and
VGG-19's conv2 (56x56) with ResNet-34's conv2_x, not with the stage in its place. Each
pair says how it was made; a stage left unpaired is listed as added or removed. For each
pair: its name, its output, its blocks and repeats, the convolutions' widths, where each
block's stride sits, each block's shortcut, the layers outside blocks added or removed,
and the four counts' deltas. No torch, as for `summary`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field

from . import ir
from .analyzer import (COUNTS, Report, StageReport, analyze, block_counts, flat_layers,
                       shortcut_kind)


@dataclass
class StageDiff:
    a: str | None  # the stage's name in the first network; None: it has no such stage
    b: str | None
    paired_by: str | None = None  # "role" (stem, head), "name", "output size"; None: unpaired
    changes: list[str] = field(default_factory=list)  # what differs, in words
    deltas: dict[str, int] = field(default_factory=dict)  # second minus first, per count


@dataclass
class NetworkDiff:
    a: str  # the networks' names
    b: str
    stages: list[StageDiff]
    totals: dict[str, list[int]]  # count -> [first, second, second - first]

    @property
    def same(self) -> bool:
        return not any(s.changes for s in self.stages) and all(t[2] == 0 for t in self.totals.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def diff(a: ir.Network, b: ir.Network) -> NetworkDiff:
    ra, rb = analyze(a), analyze(b)
    stages = [_stage_diff(sa, sb, how, ra, rb) for sa, sb, how in _pairs(a, b)]
    totals = {c: [getattr(ra, c), getattr(rb, c), getattr(rb, c) - getattr(ra, c)] for c in COUNTS}
    return NetworkDiff(a.name, b.name, stages, totals)


Pair = tuple[ir.Stage | None, ir.Stage | None, str | None]


def _pairs(a: ir.Network, b: ir.Network) -> list[Pair]:
    """Stem, stages, head, each role aligned on its own (see the module's docstring)."""
    rows: list[Pair] = []
    for role in ("stem", "stage", "head"):
        sa = [s for s in a.stages if s.role == role]
        sb = [s for s in b.stages if s.role == role]
        if role != "stage" and len(sa) == len(sb) == 1:
            rows.append((sa[0], sb[0], "role"))
        else:
            rows += _in_order(sa, sb, _matches(sa, sb))
    return rows


def _size(stage: ir.Stage) -> ir.Shape:
    """What Table 1's "output size" column shows: the map's H x W (a flat output whole)."""
    return stage.out_shape[1:] if len(stage.out_shape) == 3 else stage.out_shape


def _matches(sa: list[ir.Stage], sb: list[ir.Stage]) -> dict[int, tuple[int, str]]:
    """Index in `sa` -> (index in `sb`, how): by name first, then the rest by output size,
    each with the first free stage of that size."""
    names = {stage.name: j for j, stage in enumerate(sb)}
    found = {i: (names[s.name], "name") for i, s in enumerate(sa) if s.name in names}
    taken = {j for j, _ in found.values()}
    for i, stage in enumerate(sa):
        if i in found:
            continue
        j = next((j for j, other in enumerate(sb)
                  if j not in taken and _size(other) == _size(stage)), None)
        if j is not None:
            found[i] = (j, "output size")
            taken.add(j)
    return found


def _in_order(sa: list[ir.Stage], sb: list[ir.Stage], found: dict) -> list[Pair]:
    """The pairs in both networks' order, each unpaired stage where it stands; a pair
    that would cross an earlier one is dropped (its stages listed as removed and added)."""
    rows: list[Pair] = []
    j = 0
    for i, stage in enumerate(sa):
        if i in found and found[i][0] >= j:
            other, how = found[i]
            rows += [(None, sb[k], None) for k in range(j, other)]
            rows.append((stage, sb[other], how))
            j = other + 1
        else:
            rows.append((stage, None, None))
    # Every stage of `sb` before j is in a row; none after it is paired.
    return rows + [(None, sb[k], None) for k in range(j, len(sb))]


def _stage_diff(a: ir.Stage | None, b: ir.Stage | None, how: str | None, ra: Report,
                rb: Report) -> StageDiff:
    report_a = _report(ra, a)
    report_b = _report(rb, b)
    result = StageDiff(a.name if a else None, b.name if b else None, how)
    result.deltas = {c: (getattr(report_b, c) if b else 0) - (getattr(report_a, c) if a else 0)
                     for c in COUNTS}
    if a is None or b is None:
        result.changes.append("added" if a is None else "removed")
        return result
    checks = (_names, _outputs, _blocks, _widths, _strides, _shortcuts, _loose_layers)
    result.changes = [change for check in checks
                      for change in check(a, b, report_a, report_b) if change]
    if how == "output size":  # said where the pairing is read: beside the names
        result.changes[0] += f" (paired by output size, {ir.shape_text(_size(a))})"
    return result


def _report(report: Report, stage: ir.Stage | None) -> StageReport | None:
    return next((s for s in report.stages if stage is not None and s.name == stage.name), None)


def _arrow(a, b) -> str:
    return f"{a} -> {b}"


def _names(a, b, ra, rb) -> list[str]:
    return [f"named {_arrow(a.name, b.name)}"] if a.name != b.name else []


def _outputs(a, b, ra, rb) -> list[str]:
    return [f"output {_arrow(ir.shape_text(a.out_shape), ir.shape_text(b.out_shape))}"] \
        if a.out_shape != b.out_shape else []


def _blocks(a, b, ra, rb) -> list[str]:
    ca, cb = block_counts(a.blocks), block_counts(b.blocks)
    return [f"blocks {_arrow(ca or 'none', cb or 'none')}"] if ca != cb else []


def _widths(a, b, ra, rb) -> list[str]:
    if ra.notation == rb.notation:
        return []
    return [f"layers {_arrow(ra.notation, rb.notation)}"]


def _stride_places(block: ir.Block) -> list[str]:
    return [f"{layer.name} ({layer.kernel[0]}x{layer.kernel[1]})" for layer in flat_layers(block.items)
            if isinstance(layer, ir.Conv) and layer.stride > 1]


def _strides(a, b, ra, rb) -> list[str]:
    out = []
    for index, (x, y) in enumerate(zip(a.blocks, b.blocks)):
        px, py = _stride_places(x), _stride_places(y)
        if px != py:
            out.append(f"block {index}: stride on {_arrow(', '.join(px) or 'none', ', '.join(py) or 'none')}")
    return out


def _shortcuts(a, b, ra, rb) -> list[str]:
    sa = [shortcut_kind(block) or "-" for block in a.blocks]
    sb = [shortcut_kind(block) or "-" for block in b.blocks]
    if sa == sb:
        return []
    return [f"shortcuts {_arrow(_runs(sa), _runs(sb))}"]


def _runs(kinds: list[str]) -> str:
    """['projection', 'identity', 'identity'] -> 'projection, 2 x identity'."""
    runs: list[list] = []
    for kind in kinds:
        if runs and runs[-1][1] == kind:
            runs[-1][0] += 1
        else:
            runs.append([1, kind])
    return ", ".join(kind if n == 1 else f"{n} x {kind}" for n, kind in runs) or "none"


def _loose_layers(a, b, ra, rb) -> list[str]:
    """Layers outside blocks (a stem's, a head's, VGG's), by what they are."""
    def words(stage):
        loose = [item for item in stage.items if not isinstance(item, ir.Block)]
        return Counter(layer.notation() or layer.detail() for layer in flat_layers(loose))

    wa, wb = words(a), words(b)
    added, removed = wb - wa, wa - wb
    out = []
    if added:
        out.append("added " + ", ".join(_counted(added)))
    if removed:
        out.append("removed " + ", ".join(_counted(removed)))
    return out


def _counted(counter: Counter) -> list[str]:
    return [word if n == 1 else f"{n} x {word}" for word, n in counter.items()]
