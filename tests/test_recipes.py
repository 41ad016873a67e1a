"""resdsl.recipes: what a recipe must be to train, overrides, and `--set FIELD=VALUE`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from resdsl import ir, parse_network
from resdsl.diagnostics import Span
from resdsl.recipes import RecipeError, check_recipe, parse_sets, resolve_recipe

from helpers import REFERENCE, ROOT, SPECS, TINY, lower_text

PAPER = dict(name="paper", momentum=0.9, weight_decay=1e-4, batch_size=128, lr=0.1,
             lr_steps=(32000, 48000), lr_gamma=0.1, iterations=64000, crop_padding=4,
             hflip=True, normalize="pixel_mean", eval_every=1000)


def recipe(**changes) -> ir.Recipe:
    return ir.Recipe(**{**PAPER, **changes})


def test_cifar_recipe_is_the_papers():
    paper = json.loads((REFERENCE / "paper.json").read_text())["cifar10_recipe"]
    recipe = parse_network(SPECS / "resnet56.res").recipe
    assert (recipe.batch_size, recipe.lr, recipe.lr_gamma) == (paper["batch"], paper["lr"], paper["lr_gamma"])
    assert recipe.lr_steps == tuple(paper["lr_steps_iterations"])
    assert recipe.iterations == paper["iterations"]
    assert (recipe.momentum, recipe.weight_decay) == (0.9, 1e-4)  # paper: "momentum 0.9, weight decay 1e-4"
    assert recipe.crop_padding == 4 and recipe.hflip and recipe.normalize == "pixel_mean"
    assert recipe.warmup_lr is None


@pytest.mark.parametrize("name", ["resnet110", "resnet1202"])
def test_deepest_cifar_nets_warm_up(name):
    recipe = parse_network(SPECS / f"{name}.res").recipe
    assert (recipe.warmup_lr, recipe.warmup_until_error, recipe.lr) == (0.01, 0.8, 0.1)


def test_train_statement_overrides_recipe_fields():
    net = lower_text(TINY.replace("head {", "train cifar10_paper { iterations 500; lr 0.05 }\n    head {"))
    assert (net.recipe.iterations, net.recipe.lr, net.recipe.batch_size) == (500, 0.05, 128)


def test_overrides_replace_only_what_is_given_and_keep_the_span():
    span = Span("spec.res", 3, 1, 3, 10)
    base = recipe().model_copy(update={"span": span})
    resolved = resolve_recipe(base, {"iterations": 500, "lr": "0.2"})
    assert (resolved.iterations, resolved.lr, resolved.batch_size) == (500, 0.2, 128)
    assert resolved.span == span
    warm = resolve_recipe(base, {"warmup_lr": 0.01, "warmup_until_error": 0.8})
    assert resolve_recipe(warm, {"warmup_lr": None, "warmup_until_error": None}).warmup_lr is None


@pytest.mark.parametrize("changes, message", [
    ({"iterations": 0}, "iterations must be at least 1, got 0"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"eval_every": -5}, "eval_every must be at least 1"),
    ({"lr": 0}, "lr must be a positive number, got 0"),
    ({"lr": float("nan")}, "lr must be a positive number, got nan"),
    ({"lr": float("inf")}, "lr must be a positive number"),
    ({"lr_gamma": 0}, "lr_gamma must be a positive number"),
    ({"warmup_lr": -0.1, "warmup_until_error": 0.8}, "warmup_lr must be a positive number"),
    ({"momentum": -1}, "momentum must be between 0 and 1"),
    ({"momentum": 1.5}, "momentum must be between 0 and 1"),
    ({"weight_decay": -1e-4}, "weight_decay must not be negative"),
    ({"lr_steps": (10, 5)}, "lr_steps must be positive iterations that increase"),
    ({"lr_steps": (10, 10)}, "lr_steps must be positive iterations that increase"),
    ({"lr_steps": (0, 10)}, "lr_steps must be positive iterations that increase"),
    ({"warmup_lr": 0.01}, "warmup_lr and warmup_until_error go together"),
    ({"warmup_until_error": 0.8}, "warmup_lr and warmup_until_error go together"),
    ({"warmup_lr": 0.01, "warmup_until_error": 80}, "fraction in \\(0, 1\\]"),
    ({"crop_padding": -1}, "crop_padding must not be negative"),
    ({"crop_padding": 100000}, "crop_padding must be at most 512"),
])
def test_recipes_that_cannot_train_are_refused_at_their_span(changes, message):
    span = Span("spec.res", 7, 5, 7, 20)
    bad = recipe(**changes).model_copy(update={"span": span})
    with pytest.raises(RecipeError, match=message) as error:
        check_recipe(bad)
    assert error.value.span == span and error.value.message.startswith("recipe paper: ")


def test_crop_padding_is_bounded_by_the_input_when_it_is_known():
    check_recipe(recipe(crop_padding=32), (3, 32, 32))
    with pytest.raises(RecipeError, match="crop_padding 33 is more than the 32-pixel side of "
                                          "the 3x32x32 input"):
        check_recipe(recipe(crop_padding=33), (3, 32, 32))
    check_recipe(recipe())  # the paper's own is fine


@pytest.mark.parametrize("overrides, message", [
    ({"lr": "fast"}, "invalid recipe override: lr"),
    ({"colour": 1}, "not a recipe field: colour"),
    ({"momentun": 0.5}, "not a recipe field: momentun \\(did you mean momentum\\?\\)"),
    ({"name": "x"}, "not a recipe field: name"),
    ({"momentum": "-1"}, "momentum must be between 0 and 1"),
])
def test_bad_overrides_are_recipe_errors(overrides, message):
    with pytest.raises(RecipeError, match=message):
        resolve_recipe(recipe(), overrides)


def test_set_items():
    assert parse_sets(["momentum=0.8", " lr_steps = 400, 600 ", "warmup_lr=none",
                       "lr_steps=none"]) == {"momentum": "0.8", "lr_steps": (),
                                             "warmup_lr": None}
    assert parse_sets(["lr_steps=400"]) == {"lr_steps": ("400",)}
    for bad in ("nonsense", "=3", ""):
        with pytest.raises(RecipeError, match="expected FIELD=VALUE"):
            parse_sets([bad])


def test_recipes_never_import_torch():
    code = ("import sys, resdsl.recipes\n"
            "sys.exit(any(m.split('.')[0] == 'torch' for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
