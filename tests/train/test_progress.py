"""The library's reporter records what a run tells its user (printing is the CLI's)."""

from resdsl.train.progress import RecordingReporter
from resdsl.train.runfolder import RunResult


def test_recording_reporter_keeps_everything():
    reporter = RecordingReporter()
    reporter.start({"network": "n"})
    reporter.log({"iteration": 1, "lr": 0.1})
    reporter.message("note")
    result = RunResult(run_dir="r", iteration=1, eval_set="test", final_error=0.5)
    reporter.finish(result)
    assert reporter.summary == {"network": "n"} and reporter.logs == [{"iteration": 1, "lr": 0.1}]
    assert reporter.messages == ["note"] and reporter.result is result


def test_the_library_never_prints():
    import pathlib

    import resdsl.train as package

    for path in pathlib.Path(package.__file__).parent.rglob("*.py"):
        text = path.read_text()
        assert "print(" not in text.replace("print_png(", ""), path
        assert "console" not in text.lower() or path.name == "__init__.py", path
