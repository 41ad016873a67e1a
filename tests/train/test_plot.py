"""Figure 6 curves: runs labelled by network, a legend that hides no curve, a title."""

from __future__ import annotations

import json

import pytest

from resdsl.train.errors import PlotError
from resdsl.train.plot import plot_runs, run_labels

PNG = b"\x89PNG\r\n\x1a\n"


def fake_run(folder, network, errors, config=True):
    folder.mkdir(parents=True)
    if config:
        (folder / "config.json").write_text(json.dumps({"network": network}))
    lines = [json.dumps({"iteration": 100 * (i + 1), "train_error": e, "test_error": e + 0.1})
             for i, e in enumerate(errors)]
    (folder / "metrics.jsonl").write_text("\n".join(["null", *lines]) + "\n")
    return folder


def test_runs_are_labelled_by_network_and_told_apart_when_names_repeat(tmp_path):
    runs = [fake_run(tmp_path / "a", "resnet20", [0.5]), fake_run(tmp_path / "b", "resnet20", [0.4]),
            fake_run(tmp_path / "c", "plain20", [0.6]), fake_run(tmp_path / "d", "x", [0.6], False),
            fake_run(tmp_path / "x" / "b", "resnet20", [0.3])]
    assert run_labels(runs) == ["resnet20 (a)", "resnet20 (b) #1", "plain20", "d",
                                "resnet20 (b) #2"]
    assert run_labels([tmp_path / "a", tmp_path / "c"]) == ["resnet20", "plain20"]


def test_plot_overlays_runs(tmp_path):
    runs = [fake_run(tmp_path / name, name, errors) for name, errors in
            (("plain20", [0.6, 0.4, 0.3]), ("resnet20", [0.5, 0.2, 0.1]),
             ("plain56", [0.7, 0.5, 0.4]), ("resnet56", [0.45, 0.15, 0.08]))]
    out = plot_runs(runs, tmp_path / "fig6.png")
    assert out.read_bytes()[:8] == PNG
    with pytest.raises(PlotError, match="no metrics"):
        plot_runs([runs[0], tmp_path], tmp_path / "bad.png")


def test_the_legend_sits_outside_the_axes(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda *a, **k: None, raising=False)
    real = Figure.legend

    def legend(self, *args, **kwargs):
        drawn.append(kwargs["loc"])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "legend", legend)
    plot_runs([fake_run(tmp_path / "r", "resnet20", [0.5])], tmp_path / "f.png")
    assert drawn == ["outside right upper"]


def test_out_must_be_a_file(tmp_path):
    run = fake_run(tmp_path / "r", "resnet20", [0.5])
    with pytest.raises(PlotError, match="is a folder: give --out a file name"):
        plot_runs([run], tmp_path)


def test_a_figure_that_cannot_be_written_names_its_path(tmp_path):
    run = fake_run(tmp_path / "r", "resnet20", [0.5])
    (tmp_path / "file").write_text("")
    with pytest.raises(PlotError, match="cannot write the figure") as error:
        plot_runs([run], tmp_path / "file" / "fig.png")
    assert str(tmp_path / "file" / "fig.png") in str(error.value)


def test_a_run_evaluated_once_is_drawn(tmp_path, monkeypatch):
    """One evaluation is one point: the figure shows it (as a dot), inside the axes."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from resdsl.train import plot

    drawn = []
    monkeypatch.setattr(plot, "write_png", lambda figure, out: drawn.append(figure))
    plot_runs([fake_run(tmp_path / "r", "resnet20", [0.5])], tmp_path / "f.png")
    canvas = FigureCanvasAgg(drawn[0])
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3].astype(int)
    box = drawn[0].axes[0].get_window_extent()  # the legend, outside it, shows C0 too
    top, bottom = pixels.shape[0] - int(box.y1), pixels.shape[0] - int(box.y0)
    inside = pixels[top + 2:bottom - 2, int(box.x0) + 2:int(box.x1) - 2]
    c0 = np.array([0x1F, 0x77, 0xB4])  # the first run's colour
    assert (np.abs(inside - c0).sum(axis=-1) < 30).sum() > 10
