"""The expanded IR: what the compiler, the analyser, the code generator and the trainer
consume. Every node is a frozen pydantic model that carries its source span, left out
of equality and serialisation (two specs that mean the same network compare equal).

    node.py    Node, Shape: the base
    layers.py  the primitive layers, each with its shape rule, cost and torch code
    graph.py   groups, gates, shortcuts and merges, blocks, stages, the network
"""

from .graph import (Block, Branches, Chain, Expect, Gate, Group, Item, Merge, Network, Origin, Part,
                    Point, Recipe, Select, Shortcut, Stage, StageItem, network_layers,
                    walk_items, walk_layers)
from .layers import (FC, LAYERS, AdaptiveAvgPool, AvgPool, BatchNorm, Conv, Dropout, Flatten,
                     GroupNorm, Layer, LayerArgs, MaxPool, ReLU, Sigmoid, Signature, Work,
                     ZeroPad)
from .node import Node, Shape, Value, shape_text

__all__ = [
    "LAYERS", "AdaptiveAvgPool", "AvgPool", "BatchNorm", "Block", "Branches", "Chain", "Conv", "Dropout", "Expect",
    "FC", "Flatten", "Gate", "Group", "GroupNorm", "Item", "Layer", "LayerArgs", "MaxPool",
    "Merge", "Network", "Node", "Origin", "Part", "Point", "ReLU", "Recipe", "Select", "Shape",
    "Shortcut",
    "Sigmoid", "Signature", "Stage", "StageItem", "Value", "Work", "ZeroPad", "network_layers",
    "shape_text", "walk_items", "walk_layers",
]
