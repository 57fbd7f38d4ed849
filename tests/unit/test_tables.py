"""The machinery's one Markdown table writer."""

from markdown_tables import table_rows

from course_utils.tools.tables import markdown_cell, markdown_table


def test_a_table_has_the_first_rows_keys_as_header_and_every_row():
    text = markdown_table([{"name": "a", "score": 0.123456789, "note": None},
                           {"name": "b", "score": 2.0, "note": "fine"}])
    assert table_rows(text) == [["name", "score", "note"], ["a", "0.123457", ""],
                                ["b", "2", "fine"]]


def test_a_cell_cannot_break_the_table():
    text = markdown_table([{"error": "a | b\nTraceback" + "x" * 500}])
    (header, (cell,)) = table_rows(text)
    assert header == ["error"] and cell.startswith("a / b Traceback") and len(cell) == 200
    assert len(markdown_cell("y" * 500, limit=None)) == 500


def test_no_rows_give_no_table():
    assert markdown_table([]) == ""
