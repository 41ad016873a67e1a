"""resdsl.scopes: a list of items lowered (repeats written out, every item named, each
built at the shape the one before gives), the names torchvision and nn.Sequential
would give, and the budget that refuses a network too large before it is built."""

from resdsl import parse_network

from helpers import SPECS


def test_module_names_follow_torchvision():
    net = parse_network(SPECS / "resnet18.res")
    stem, head = net.stages[0], net.stages[-1]
    assert [i.name for i in stem.items] == ["conv1", "bn1", "relu", "maxpool"]
    assert [i.name for i in head.items] == ["avgpool", "fc"]
    assert [s.module for s in net.stages[1:-1]] == ["layer1", "layer2", "layer3", "layer4"]
