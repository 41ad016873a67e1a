"""Unpickling the CIFAR files without running what they might hold.

The official CIFAR "python version" is pickled dicts of numpy arrays, lists, strings and
numbers. A pickle can name any function to call while it loads (`os.system` included),
so a file from elsewhere, accepted by --skip-checksum, could run code. This unpickler
resolves only the few names those files use; any other name ends the load with a
DataError naming the file, before anything is called.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any

import numpy as np

from ..errors import DataError
from ..files import first_line


# numpy 2 renamed numpy.core to numpy._core; files written by either name one of them.
_CORE = getattr(np, "_core", None) or np.core
# (module, name) as the pickle writes it -> the object it stands for.
ALLOWED: dict[tuple[str, str], Any] = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _CORE.multiarray._reconstruct
       for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _CORE.numeric._frombuffer
       for core in ("core", "_core")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how Python 3 pickles bytes at protocol 2
}


class _AllowList(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise _Refused(f"{module}.{name}"[:100])
        return ALLOWED[module, name]


class _Refused(Exception):
    """A name outside the allow-list: kept apart from the load's other failures."""


def load_pickle(label: str, raw: bytes) -> Any:
    """The object pickled in `raw` (Python 2 strs as bytes); DataError naming `label`."""
    try:
        return _AllowList(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as refused:
        raise DataError(f"refused to load: it asks for '{refused}', which no CIFAR file "
                        "holds (only numpy arrays, lists, strings and numbers). It is not an "
                        "official file and may try to run code: delete it", file=label) from None
    except Exception as error:  # noqa: BLE001 - any failure of the load means a bad file
        raise DataError(f"not a readable CIFAR file ({type(error).__name__}: "
                        f"{first_line(error)[:200]}): it is truncated or corrupt. Delete it "
                        "and download it again", file=label) from None
