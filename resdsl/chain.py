"""Res2Net's chain (Gao et al. 2019) lowered: `chain S [, stage B] { step }` in a block.

The input's channels are S groups; the step's layers run S-1 times, step i on group i
(plus step i-1's output, but in a stage chain), and the outputs are concatenated with
the last group (average-pooled in a stage chain). The step's layers become lists of the
block, one entry per step (`convs.0`, `bns.0`, ...), and the stage chain's pool is the
block's `pool`, as timm's Bottle2neck registers them, so that its weights load strictly.

Whether a chain is a stage depends on its block (timm's rule: the first block of a
stage, where the block changes shape), which is known only once the block's path is
lowered: `lower_chain` builds the chain with its pool, `finish_chain` decides.
"""

from __future__ import annotations

from . import ir
from . import syntax as syn
from .diagnostics import ResdslValidationError
from .ir.layers import LAYERS, short_name
from .scopes import Context, Planned, Scope, check_unique, expand_items, layer_args

_STEP_NOTE = "a step is a list of layers, e.g. `{ conv 3x3, width; batchnorm; relu }`"


def lower_chain(stmt: syn.LayerStmt, name: str, shape: ir.Shape, env,
                context: Context) -> tuple[ir.Chain, bool | None]:
    """The chain at `shape`, as a stage if it may be one (its pool built), and the
    `stage` its statement asks for (None: as its block decides)."""
    args = layer_args(stmt, env)
    scale = args.int("scale", minimum=2)
    stage = args.flag("stage", False) if "stage" in args.values else None
    if len(shape) != 3:
        args.fail(f"'chain' needs a feature map (CxHxW), but its input is already flat "
                  f"({ir.shape_text(shape)})")
    if shape[0] % scale:
        args.fail(f"chain {scale}: {shape[0]} channels cannot be split into {scale} groups "
                  "of equal channels", "scale")
    group = (shape[0] // scale, *shape[1:])
    planned, names = step_items(stmt, env)
    scope = Scope(context, env)
    steps = []
    for i in range(scale - 1):
        steps += scope.lower([Planned(p.stmt, 0, f"{n}.{i}") for p, n in zip(planned, names)],
                             group)
    out = steps[len(planned) - 1].out_shape
    if out[0] != group[0] or len(out) != 3:
        raise ResdslValidationError(
            f"chain {scale}: its step gives {ir.shape_text(out)} from a group of "
            f"{ir.shape_text(group)}: a step keeps its group's {group[0]} channels, to be "
            "added to the next group and concatenated with the others", stmt.span)
    pool = [] if stage is False else [stage_pool(stmt, group, out)]
    chain = ir.Chain(name=name, scale=scale, stage=True, steps=steps, pool=pool,
                     in_shape=shape, out_shape=(shape[0], *out[1:]), span=stmt.span)
    return chain, stage


def step_items(stmt: syn.LayerStmt, env) -> tuple[list[Planned], list[str]]:
    """The step's layers and the lists they fill: a layer's label, or its kind's short
    name made plural (`convs`, `bns`, `relus`; `convs2` for a second conv)."""
    planned = expand_items(stmt.body, env)
    if not planned:
        raise ResdslValidationError("a chain needs a step: the layers each group goes "
                                    "through", stmt.span, notes=(_STEP_NOTE,))
    for p in planned:
        if not isinstance(p.stmt, syn.LayerStmt) or p.stmt.layer not in LAYERS:
            raise ResdslValidationError(
                "a chain's step holds layers only (each becomes a list of the block, one "
                "entry per step)", p.stmt.span, notes=(_STEP_NOTE,))
    kinds = [p.stmt.layer for p in planned]
    seen: dict[str, int] = {}
    for p, kind in zip(planned, kinds):
        seen[kind] = seen.get(kind, 0) + 1
        plural = f"{short_name(kind)}s"
        p.name = p.label or (plural if kinds.count(kind) == 1 else f"{plural}{seen[kind]}")
    check_unique(planned)
    return planned, [p.name for p in planned]


def stage_pool(stmt: syn.LayerStmt, group: ir.Shape, out: ir.Shape) -> ir.AvgPool:
    """The stage chain's pool of its last group: 3x3, padding 1, the steps' stride."""
    stride = -(-group[1] // out[1])
    pooled = tuple((size - 1) // stride + 1 for size in group[1:])
    if pooled != tuple(out[1:]):
        raise ResdslValidationError(
            f"chain: its step gives {ir.shape_text(out)} from a group of "
            f"{ir.shape_text(group)}, but a stage chain's last group is pooled (3x3, padding 1) to the steps' size: a step "
            "keeps the map's size or divides it by a stride", stmt.span)
    return ir.AvgPool(name="pool", in_shape=group, out_shape=(group[0], *pooled),
                      kernel=(3, 3), stride=stride, padding=(1, 1), span=stmt.span)


def finish_chain(chain: ir.Chain, asked: bool | None, changes_shape: bool) -> ir.Chain:
    """The chain as its block makes it: a stage where asked, or else where the block
    changes shape (timm: `stride > 1 or downsample is not None`)."""
    stage = changes_shape if asked is None else asked
    group = (chain.in_shape[0] // chain.scale, *chain.in_shape[1:])
    if not stage and chain.steps[chain.per_step - 1].out_shape != group:
        raise ResdslValidationError(
            f"chain {chain.scale}: its step gives "
            f"{ir.shape_text(chain.steps[chain.per_step - 1].out_shape)} from a group of "
            f"{ir.shape_text(group)}, but a chain that is no stage adds each step's output "
            "to the next group: its step must keep the group's shape", chain.span,
            notes=("a block that changes shape makes its chain a stage; `stage true` says so",))
    return chain.model_copy(update={"stage": stage, "pool": chain.pool if stage else []})
