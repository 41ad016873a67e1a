"""The queue of runs on slots, with a launcher that only pretends: which run goes where,
how many at once, and what a failure or a Ctrl-C does to the rest."""

from __future__ import annotations

import pytest

from resdsl.reproduce.scheduler import Slot, make_slots, pick_slot, run_queue


class FakeLauncher:
    """Each job ends after `length[job]` ticks of a fake clock, with `codes[job]` (0)."""

    def __init__(self, length: dict[str, int] | None = None, codes: dict[str, int] | None = None,
                 interrupt_at: int | None = None):
        self.length, self.codes = length or {}, codes or {}
        self.now, self.interrupt_at = 0, interrupt_at
        self.running: dict[str, tuple[Slot, int]] = {}
        self.started: list[tuple[str, Slot, int]] = []
        self.most_at_once = 0
        self.interrupted: list[str] = []

    def start(self, job, slot):
        self.started.append((job, slot, self.now))
        self.running[job] = (slot, self.now + self.length.get(job, 1))
        self.most_at_once = max(self.most_at_once, len(self.running))
        return job

    def wait(self, handles):
        assert set(handles) == set(self.running)
        if self.interrupt_at is not None and self.now >= self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt
        job = min(handles, key=lambda h: (self.running[h][1], h))
        self.now = max(self.now, self.running.pop(job)[1])
        return job, -2 if job in self.interrupted else self.codes.get(job, 0)

    def interrupt(self, handles):
        self.interrupted += list(handles)

    def clock(self):
        return float(self.now)


def test_slots_are_per_device_times_per_device_count():
    assert make_slots(None, 1) == [Slot(None, 0)]
    assert make_slots(2, 3) == [Slot(g, i) for g in (0, 1) for i in range(3)]


def test_a_free_slot_on_the_least_busy_device_is_taken():
    slots = make_slots(2, 2)
    assert pick_slot(slots, []) == Slot(0, 0)
    assert pick_slot(slots[1:], [Slot(0, 0)]) == Slot(1, 0)  # GPU 1 is idle: there first
    assert pick_slot([Slot(0, 1), Slot(1, 1)], [Slot(0, 0), Slot(1, 0)]) == Slot(0, 1)


def test_by_default_one_run_after_another_in_queue_order():
    launcher = FakeLauncher()
    result = run_queue(list("abc"), make_slots(None, 1), launcher, clock=launcher.clock)
    assert [(job, start) for job, _, start in launcher.started] == [("a", 0), ("b", 1), ("c", 2)]
    assert launcher.most_at_once == 1 and all(end.ok for end in result.ended)


def test_gpus_times_per_device_run_at_once_and_spread_over_the_gpus():
    launcher = FakeLauncher(length={"a": 5, "b": 1, "c": 2, "d": 1, "e": 1})
    result = run_queue(list("abcde"), make_slots(2, 2), launcher, clock=launcher.clock)
    first = {job: slot for job, slot, start in launcher.started if start == 0}
    assert first == {"a": Slot(0, 0), "b": Slot(1, 0), "c": Slot(0, 1), "d": Slot(1, 1)}
    assert launcher.most_at_once == 4
    # b ends first and frees GPU 1's slot 0: e goes there, GPU 1 being the less busy.
    assert launcher.started[-1] == ("e", Slot(1, 0), 1)
    assert {end.job: end.seconds for end in result.ended} == {"a": 5, "b": 1, "c": 2, "d": 1,
                                                              "e": 1}


def test_a_failed_run_does_not_stop_the_others():
    launcher = FakeLauncher(codes={"b": 1, "c": -9})
    result = run_queue(list("abcd"), make_slots(None, 1), launcher, clock=launcher.clock)
    assert [(end.job, end.exit_code, end.ok) for end in result.ended] == [
        ("a", 0, True), ("b", 1, False), ("c", -9, False), ("d", 0, True)]


def test_ctrl_c_asks_the_running_to_stop_waits_for_them_and_starts_no_more():
    launcher = FakeLauncher(length={"a": 3, "b": 3}, interrupt_at=0)
    ended = []
    result = run_queue(list("abcd"), make_slots(None, 2), launcher, on_end=ended.append,
                       clock=launcher.clock)
    assert result.interrupted and sorted(launcher.interrupted) == ["a", "b"]
    assert [job for job, _, _ in launcher.started] == ["a", "b"]
    assert [(end.job, end.exit_code) for end in result.ended] == [
        ("a", -2), ("b", -2), ("c", None), ("d", None)]
    assert [end.job for end in ended] == ["a", "b"]  # only the ones that ran are reported


def test_a_second_ctrl_c_stops_waiting():
    class Impatient(FakeLauncher):
        def wait(self, handles):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_queue(list("ab"), make_slots(None, 1), Impatient())
