"""resdsl.diff: stages paired by what they are (role, name, output size), never by
position alone, and each pair saying how it was made."""

from resdsl import network_from_text, parse_network
from resdsl.diff import diff


def _net(spec: str):
    return network_from_text(spec) if "{" in spec else parse_network(spec)


def _rows(a: str, b: str) -> list[tuple]:
    return [(s.a, s.b, s.paired_by) for s in diff(_net(a), _net(b)).stages]


def test_vgg_and_resnet_stages_pair_by_output_size_not_by_place():
    """VGG-19 has no stem and five stages; ResNet-34 a stem and four. By place, VGG's
    conv1 (112x112) stood beside ResNet's conv2_x (56x56); by output size, as Figure 3
    and Table 1 line them up, conv2 (56x56) does."""
    assert _rows("vgg19", "resnet34") == [
        (None, "conv1", None), ("conv1", None, None),
        ("conv2", "conv2_x", "output size"), ("conv3", "conv3_x", "output size"),
        ("conv4", "conv4_x", "output size"), ("conv5", "conv5_x", "output size"),
        ("head", "head", "role")]
    result = diff(parse_network("vgg19"), parse_network("resnet34"))
    conv2 = result.stages[2]
    assert conv2.changes[:2] == ["named conv2 -> conv2_x (paired by output size, 56x56)",
                                 "output 128x56x56 -> 64x56x56"]


def test_same_names_pair_by_name_and_others_by_size():
    assert _rows("resnet34_A", "resnet34_B") == [
        ("conv1", "conv1", "role"), *[(n, n, "name") for n in
                                      ("conv2_x", "conv3_x", "conv4_x", "conv5_x")],
        ("head", "head", "role")]
    torchvision = _rows("resnet50", "torchvision/resnet50")
    assert [(a, b) for a, b, _ in torchvision][1:5] == [
        ("conv2_x", "layer1"), ("conv3_x", "layer2"), ("conv4_x", "layer3"), ("conv5_x", "layer4")]
    assert {how for _, _, how in torchvision[1:5]} == {"output size"}


def test_a_stage_of_no_name_or_size_in_common_is_added_and_removed():
    a = """network a { input 3x8x8; classes 10; stem { conv 3x3, 4 }
        stage s: 1 x basic(4)
        head { avgpool; fc classes } }"""
    b = a.replace("stage s: 1 x basic(4)", "stage t: 1 x basic(8), stride 2")
    assert _rows(a, b)[1:3] == [("s", None, None), (None, "t", None)]
