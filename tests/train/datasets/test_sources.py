"""open_data: the training mean, the hold-out split, and the network fitting the data."""

from __future__ import annotations

import pytest
import torch

from resdsl.train.datasets.sources import open_data
from resdsl.train.datasets.synthetic import synthetic
from resdsl.train.errors import DataError, OptionsError
from resdsl.train.options import TrainOptions
from resdsl.train.shard import Shard

from ..train_helpers import make_cifar10, tiny_network, tiny_recipe


def test_mean_is_the_training_images_per_pixel_mean(tmp_path):
    recipe = tiny_recipe(crop_padding=0, hflip=False, batch_size=8)
    options = TrainOptions(data="synthetic:64", val_split=16, seed=3)
    data = open_data(tiny_network(recipe), recipe, options, "cpu")
    x, _, _, _ = synthetic(tiny_network(recipe), 64, seed=3)
    train = x[:48].double() / 255  # the last 16 are held out and do not count
    mean = data.train.augment.mean
    assert mean.shape == (3, 32, 32)
    torch.testing.assert_close(mean.double(), train.mean(0), rtol=0, atol=1e-6)
    batch, labels = next(data.train)
    index = data.train.order.perm[:8]
    torch.testing.assert_close(batch, (x[index].float() / 255 - mean), rtol=0, atol=0)
    # The held-out images (the LAST 16 training images) get the same subtraction, unaugmented.
    held, _ = next(iter(data.eval))
    torch.testing.assert_close(held, x[48:56].float() / 255 - mean, rtol=0, atol=0)
    assert data.eval_set == "val" and data.eval_size == 16 and data.train_size == 48




def test_too_few_images_for_a_batch():
    recipe = tiny_recipe(batch_size=32)
    with pytest.raises(DataError, match="not enough for one batch of 32"):
        open_data(tiny_network(recipe), recipe, TrainOptions(data="synthetic:40", val_split=10),
                  "cpu")


def test_network_must_fit_the_data(tmp_path):
    make_cifar10(tmp_path)
    recipe = tiny_recipe()
    options = TrainOptions(data="cifar10", data_dir=str(tmp_path), skip_checksum=True)
    with pytest.raises(DataError, match="takes 3x64x64 inputs but CIFAR-10.s images are 3x32x32: "
                       "pass --input 3x32x32"):
        open_data(tiny_network(recipe, input=(3, 64, 64)), recipe, options, "cpu")
    with pytest.raises(DataError, match="has 100 classes but the data has 10"):
        open_data(tiny_network(recipe, classes=100), recipe, options, "cpu")


def test_a_batch_must_split_over_the_processes():
    recipe = tiny_recipe(batch_size=16)
    with pytest.raises(OptionsError, match="batch size 16 does not split evenly over 3"):
        open_data(tiny_network(recipe), recipe, TrainOptions(data="synthetic:64"), "cpu",
                  Shard(0, 3))


def test_an_unknown_source_names_the_choices(tmp_path):
    recipe = tiny_recipe()
    with pytest.raises(DataError, match="--data takes cifar10, cifar100, mnist, fashion-mnist, "
                       "synthetic"):
        open_data(tiny_network(recipe), recipe, TrainOptions(data=str(tmp_path / "nothing")),
                  "cpu")
