"""The equity and accuracy audit: an NPL-style evaluation anyone can run.

A small public surface::

    from openlfr.evaluation import EvaluationOptions, evaluate, load_dataset, write_report

    dataset = load_dataset(Path("manifest.csv"))          # file, identity, sex, age_band...
    results, _ = evaluate(dataset, FaceAnalyzer(), EvaluationOptions())
    write_report(results, Path("audit/"))                  # results.json, CSVs, report.html

It uses the engine's own detector, descriptor and score, so the figures are those of
the engine in use. It imports nothing from the platform (web, database).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openlfr.evaluation.dataset import Dataset, PairsFile, Sample, load_dataset, load_pairs
    from openlfr.evaluation.errors import DatasetError, EvaluationError, RegistrationError
    from openlfr.evaluation.report import write_report
    from openlfr.evaluation.runner import (
        EvaluationOptions,
        evaluate,
        evaluate_descriptions,
        parse_thresholds,
    )

# Imported on first use: SciPy and Matplotlib take seconds to load, and every `openlfr`
# command imports this package's CLI module.
_EXPORTS = {
    "Dataset": "dataset",
    "PairsFile": "dataset",
    "Sample": "dataset",
    "load_dataset": "dataset",
    "load_pairs": "dataset",
    "DatasetError": "errors",
    "EvaluationError": "errors",
    "RegistrationError": "errors",
    "EvaluationOptions": "runner",
    "evaluate": "runner",
    "evaluate_descriptions": "runner",
    "parse_thresholds": "runner",
    "write_report": "report",
}

__all__ = [
    "Dataset",
    "DatasetError",
    "EvaluationError",
    "EvaluationOptions",
    "PairsFile",
    "RegistrationError",
    "Sample",
    "evaluate",
    "evaluate_descriptions",
    "load_dataset",
    "load_pairs",
    "parse_thresholds",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'openlfr.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(f"openlfr.evaluation.{_EXPORTS[name]}"), name)
