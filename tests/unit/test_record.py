"""Metrics recorded by a notebook can be read back from the executed file."""

import math

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course_utils.record import METRIC_KEY, read_metrics, record


def test_record_outside_a_notebook_prints_the_rounded_value(capsys):
    record("test_accuracy", 0.834567)
    assert capsys.readouterr().out.strip() == "test_accuracy = 0.8346"


def test_record_accepts_a_flat_dict_and_numpy_scalars(capsys):
    import numpy as np

    record("padding_waste", {"fixed": np.float32(0.5), "dynamic": 0.1})
    assert "{'fixed': 0.5, 'dynamic': 0.1}" in capsys.readouterr().out


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_record_refuses_non_finite_numbers(value):
    with pytest.raises(ValueError, match="non-finite"):
        record("loss", value)


def test_record_refuses_names_that_are_not_identifiers():
    with pytest.raises(ValueError, match="identifiers"):
        record("test accuracy", 0.5)


def test_read_metrics_takes_the_last_value_of_each_name(tmp_path):
    def metric(name, value):
        return new_output("display_data", data={"text/plain": f"{name} = {value}"},
                          metadata={METRIC_KEY: {"name": name, "value": value}})

    cell = new_code_cell("...", outputs=[metric("a", 1), metric("b", 2.5), metric("a", 3)])
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    assert read_metrics(path) == {"a": 3, "b": 2.5}
