"""How the front end's time grows with the input: parse, static rules, lowering and the
analyser on generated specs of 1k, 10k and 100k items, and the exponent of the growth
(1.0 is linear) fitted between the sizes, in one run so the machine's noise cancels.

    python bench/frontend_scaling.py            # all shapes, sizes 1k 10k 100k
    python bench/frontend_scaling.py --sizes 1000 10000 --shapes stem_layers

Shapes: `stem_layers` (one network, N layers in its stem), `networks` (N networks of one
layer each; `check` lowers every one), `blocks` (N block declarations), `sum_chain` (an
expression of N additions, refused past the depth limit: the time to refuse), `repeat`
(a block of 1,000 layers repeated N/1,000 times: refused before anything is built).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resdsl.analyzer import analyze  # noqa: E402
from resdsl.diagnostics import ResdslError  # noqa: E402
from resdsl.loader import program_from_text  # noqa: E402
from resdsl.lower import lower  # noqa: E402

HEAD = "network n{i} {{\n    input 3x8x8\n    classes 10\n"


def stem_layers(n: int) -> str:
    layers = "\n".join("        relu" for _ in range(n))
    return HEAD.format(i=0) + f"    stem {{\n{layers}\n    }}\n    head {{ avgpool; fc classes }}\n}}\n"


def networks(n: int) -> str:
    return "".join(HEAD.format(i=i) + "    head { avgpool; fc classes }\n}\n" for i in range(n))


def blocks(n: int) -> str:
    decls = "".join(f"block b{i}(w) {{ conv 3x3, w }}\n" for i in range(n))
    return decls + HEAD.format(i=0) + "    stage s: 1 x b0(4)\n    head { avgpool; fc classes }\n}\n"


def sum_chain(n: int) -> str:
    return HEAD.format(i=0).replace("classes 10", "classes " + " + ".join(["1"] * n)) + "}\n"


def repeat(n: int) -> str:
    body = "; ".join(["relu"] * 1000)
    return (f"block big(w) {{ {body} }}\n" + HEAD.format(i=0) +
            f"    stage s: {max(1, n // 1000)} x big(4)\n    head {{ avgpool; fc classes }}\n}}\n")


SHAPES = {f.__name__: f for f in (stem_layers, networks, blocks, sum_chain, repeat)}


def check(text: str) -> float:
    """What `resdsl check` does: load, lower every network, analyse; seconds taken."""
    start = time.perf_counter()
    try:
        program = program_from_text(text, "bench.res")
        for decl in program.networks:
            analyze(lower(program, decl.name))
    except ResdslError:
        pass  # refused: the time to refuse is what is measured
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    args = parser.parse_args()
    check(stem_layers(10))  # the parser's tables, built once and cached
    print(f"{'shape':<12} " + " ".join(f"{n:>10,}" for n in args.sizes) + "   exponent")
    for shape in args.shapes:
        times = [check(SHAPES[shape](n)) for n in args.sizes]
        exponents = [math.log(t2 / t1) / math.log(n2 / n1) for (n1, t1), (n2, t2)
                     in zip(zip(args.sizes, times), zip(args.sizes[1:], times[1:]))]
        print(f"{shape:<12} " + " ".join(f"{t:>9.3f}s" for t in times) +
              "   " + ", ".join(f"{e:.2f}" for e in exponents))


if __name__ == "__main__":
    main()
