"""The built-in specs: this folder ships inside the wheel as the package resdsl.specs."""
