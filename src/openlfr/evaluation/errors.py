"""Errors the evaluation raises. Each message says what went wrong and what to do."""


class EvaluationError(Exception):
    """Base class: an evaluation cannot go ahead as asked."""


class DatasetError(EvaluationError):
    """A dataset, manifest, labels or pairs file is missing, malformed or too small."""


class RegistrationError(EvaluationError):
    """The platform refused or could not be reached when recording an audit."""
