"""The version of resdsl, in one place: the package, model files and `--version` read it."""

__version__ = "0.2.0"
