"""TrainOptions: checked like flags (config.json is a file a user may edit), and declared
once: every field has the help text its `resdsl train` option shows."""

from __future__ import annotations

from dataclasses import fields

import pytest

from resdsl.train.errors import OptionsError
from resdsl.train.options import MAX_WORKERS, TrainOptions, option_types


@pytest.mark.parametrize("values, message", [
    ({"log_every": 0}, "log_every must be at least 1"),
    ({"checkpoint_every": -1}, "checkpoint_every must be at least 1"),
    ({"precision": "fp8"}, "precision must be one of fp32, bf16"),
    ({"workers": MAX_WORKERS + 1}, "workers must be between 0 and 256"),
    ({"val_split": -1}, "val_split must not be negative"),
    ({"seed": 2**64}, "seed must be between 0 and 2\\*\\*62"),
    ({"seed": -1}, "seed must be between 0 and 2\\*\\*62"),
    ({"seed": "zero"}, "seed must be int, got 'zero'"),
    ({"compile": "yes"}, "compile must be bool"),
    ({"iterations": True}, "iterations must be int"),
    ({"lr": "fast"}, "lr must be float"),
    ({"data": ["cifar10"]}, "data must be str"),
])
def test_bad_options(values, message):
    with pytest.raises(OptionsError, match=message):
        TrainOptions(**values)


def test_round_trip_through_a_dict_ignores_unknown_fields():
    options = TrainOptions(val_split=5000, data="synthetic", lr=1)
    assert TrainOptions.from_dict({**options.to_dict(), "unknown": 1}) == options
    assert options.recipe_overrides() == {"lr": 1}


def test_every_option_has_its_help_beside_it():
    for field in fields(TrainOptions):
        assert len(field.metadata.get("help", "")) > 10, field.name
    assert option_types()["iterations"] == (int, True) and option_types()["lr"] == (float, True)
    assert option_types()["compile"] == (bool, False)


def test_the_train_command_offers_exactly_the_options_fields():
    """The CLI makes its options from the fields: none missing, none added, same help."""
    import inspect

    from resdsl.cli.training import train

    parameters = inspect.signature(train).parameters
    own = {"spec", "recipe", "set_fields", "nproc", "network"}
    assert set(parameters) - own == {f.name for f in fields(TrainOptions)}
    for field in fields(TrainOptions):
        option = parameters[field.name].default
        assert option.help.startswith(field.metadata["help"])
        assert option.default is None  # a flag not given is told apart from a default


def test_a_new_field_becomes_a_flag_without_a_change_to_the_cli(monkeypatch):
    """The flags are made from TrainOptions' fields, not from a list kept beside them."""
    import inspect
    from dataclasses import dataclass, field

    from resdsl.cli import training
    from resdsl.train import options

    @dataclass
    class Wider(TrainOptions):
        warmup_images: int = field(default=7, metadata={"help": "images to warm up on"})

    monkeypatch.setattr(options, "TrainOptions", Wider)
    options.option_types.cache_clear()
    try:
        names = training.train_option_names()
        command = training.with_train_options(*names)(lambda given: given)
        option = inspect.signature(command).parameters["warmup_images"].default
    finally:
        options.option_types.cache_clear()
    assert names[0] == "data" and names[-1] == "input"  # the order --help has always had
    assert names.index("warmup_images") == names.index("workers") + 1
    assert option.param_decls == ("--warmup-images",)
    assert option.help == "images to warm up on (default: 7)"
    others = dict.fromkeys(name for name in names if name != "warmup_images")
    assert command(warmup_images=3, **others) == {"warmup_images": 3}
