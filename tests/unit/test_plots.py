"""The shared plots draw what they are given and return their axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from course_utils.plots import (
    plot_class_balance,
    plot_confusion_matrix,
    plot_curves,
    plot_length_histogram,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_curves_draw_one_line_per_series_with_a_legend():
    ax = plot_curves({"train loss": [0.9, 0.5, 0.4], "valid loss": [1.0, 0.7]}, xlabel="epoch")
    assert [line.get_label() for line in ax.get_lines()] == ["train loss", "valid loss"]
    assert list(ax.get_lines()[1].get_xdata()) == [1, 2]
    assert ax.get_xlabel() == "epoch" and ax.get_legend() is not None


def test_confusion_matrix_names_the_labels():
    ax = plot_confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0], {0: "fresh", 1: "rotten"}, title="test")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fresh", "rotten"]
    assert ax.get_title() == "test"
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "1", "2"]


def test_length_histogram_marks_the_given_lengths():
    ax = plot_length_histogram([3, 5, 8, 13, 21], marks={"max_length": 16}, bins=5)
    assert sum(patch.get_height() for patch in ax.patches) == 5
    assert [text.get_text() for text in ax.texts] == ["max_length"]


def test_class_balance_writes_each_count_on_its_bar():
    ax = plot_class_balance({"fresh": 7, "rotten": 3})
    assert [t.get_text() for t in ax.texts] == ["7", "3"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fresh", "rotten"]
