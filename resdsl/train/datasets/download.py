"""Downloading a data set's files: each written to a .part file of this process's own and
renamed when complete, so an interrupted download never looks like a whole file and two
downloads at once (two `train --download` side by side) cannot corrupt each other: the
last rename wins whole. Mirrors are tried in order; the first that answers serves.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import DataError

TIMEOUT = 60  # seconds a server may stay silent before the next mirror is tried


def download(urls: Sequence[str], target: Path) -> Path:
    """Fetch `target`'s file from the first of `urls` that serves it (the official
    location first, then its mirrors)."""
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    reasons = []
    for url in urls:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response, \
                    open(partial, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except (urllib.error.URLError, OSError) as error:
            partial.unlink(missing_ok=True)
            reasons.append(f"{url} ({getattr(error, 'reason', error)})")
            continue
        os.replace(partial, target)
        return target
    raise DataError(f"could not download {'; nor '.join(reasons)}. Offline? Download it by "
                    f"hand and put it in {target.parent}, or pass --data-dir pointing at it",
                    file=str(target))


def find_or_fetch(fmt: Any, root: Path, download: bool,
                  locate: Callable[[Any, Path], Path | None],
                  fetch: Callable[[Any, Path], Path]) -> Path | None:
    """Where a data set's files are: found under `root`, else fetched there when
    `download`, else None (the caller says what is missing and how to get it)."""
    found = locate(fmt, root)
    if found is None and download:
        found = fetch(fmt, root)
    return found
