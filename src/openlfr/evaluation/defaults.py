"""Defaults shared by the evaluation and its CLI (a light module: no NumPy or SciPy, so
the `openlfr` command starts quickly)."""

#: Thresholds swept unless told otherwise: start:stop:step, both ends included.
DEFAULT_THRESHOLDS = "0.30:0.80:0.02"
#: The recommended threshold keeps the observed FPIR at or below this.
DEFAULT_TARGET_FPIR = 0.001
#: Significance level of the test for a difference between groups.
DEFAULT_ALPHA = 0.05
