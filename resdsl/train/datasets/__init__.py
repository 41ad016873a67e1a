"""Data sources and batches, one module each.

    sources     open_data: which source, the hold-out split, the batches (Data)
    cifar       the official CIFAR-10/100 python-format files; safe_pickle loads them
    folder      image folders (PATH/train/<class>/*.png), decoded by DataLoader workers
    synthetic   random images shaped like the network's input
    batches     on-device epoch order, mean subtraction, crop and flip
"""

__all__ = ["Data", "open_data"]


def __getattr__(name: str):
    # Imported on first use: `names` (data sets by name, no torch) must be importable by
    # the reproduction's own process without bringing torch in through `sources`.
    if name in __all__:
        from . import sources

        return getattr(sources, name)
    raise AttributeError(name)
