"""How a training run talks to its user: the reporter the caller hands to `train`.

`train` calls start(summary), log(metrics) at each logging iteration, message(text) for
warnings and notes (skipped checksums, checkpoint fallbacks, the end of the warm-up),
and finish(result). The library only records (`RecordingReporter`, for tests and
notebooks); reporters that print live with the command line (`resdsl.cli.progress`).
"""

from __future__ import annotations

from typing import Any, Protocol

from .runfolder import RunResult


class Reporter(Protocol):
    def start(self, summary: dict[str, Any]) -> None: ...

    def log(self, metrics: dict[str, Any]) -> None: ...

    def message(self, text: str) -> None: ...

    def finish(self, result: RunResult) -> None: ...


class RecordingReporter:
    """Shows nothing; keeps everything (tests, notebooks, callers that print themselves)."""

    def __init__(self) -> None:
        self.summary: dict[str, Any] | None = None
        self.logs: list[dict[str, Any]] = []
        self.messages: list[str] = []
        self.result: RunResult | None = None

    def start(self, summary: dict[str, Any]) -> None:
        self.summary = summary

    def log(self, metrics: dict[str, Any]) -> None:
        self.logs.append(dict(metrics))

    def message(self, text: str) -> None:
        self.messages.append(text)

    def finish(self, result: RunResult) -> None:
        self.result = result
