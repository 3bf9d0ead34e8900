"""evaluate's inputs and outputs: a threshold sweep is counted before it is built, and its
CSV tables write a label that starts like a formula as text (the platform's CSV rule)."""

from __future__ import annotations

import csv
import io
import time

import pytest

from openlfr.evaluation.errors import DatasetError
from openlfr.evaluation.report import _csv_text
from openlfr.evaluation.runner import MAX_THRESHOLDS, parse_thresholds
from openlfr.services.figures import FiguresTable
from openlfr.spreadsheet import csv_cell


@pytest.mark.parametrize("text", ["0:1:0.000000001", "0:1:1e-300", "0:1:5e-324",
                                  ",".join(["0.5"] * (MAX_THRESHOLDS + 1))])
def test_a_huge_sweep_is_refused_before_it_is_built(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(DatasetError, match=f"at most {MAX_THRESHOLDS}"):
        parse_thresholds(text)
    assert time.monotonic() - started < 0.5


def test_an_ordinary_sweep_still_parses() -> None:
    assert parse_thresholds("0.3:0.5:0.1") == [0.3, 0.4, 0.5]
    assert parse_thresholds("0.6,0.4") == [0.4, 0.6]


@pytest.mark.parametrize("label", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1",
                                   '=HYPERLINK("http://evil.example","x")'])
def test_evaluate_csv_writes_formula_looking_labels_as_text(label: str) -> None:
    text = _csv_text(["column", "group", "tpir"], [{"column": "sex", "group": label,
                                                     "tpir": 0.5}])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["group"] == "'" + label and row["tpir"] == "0.5"


def test_one_rule_for_every_csv() -> None:
    table = FiguresTable(columns=("area",), rows=[{"area": "=cmd"}])
    assert "'=cmd" in table.to_csv()
    assert csv_cell("=1") == "'=1" and csv_cell(None) == "" and csv_cell(-1.5) == -1.5
