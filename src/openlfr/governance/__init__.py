"""The governance domain: deployment lifecycle, policy gates, impact assessment,
engagement, consultation wording, feedback, motions and watchlist rules.

Pure Python: nothing here imports a database, a web framework or does I/O, so the
rules can be read and tested on their own.
"""

from openlfr.governance.errors import (
    Conflict,
    GatesFailed,
    GovernanceError,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from openlfr.governance.gates import (
    ALL_GATES,
    GateParameters,
    GateReport,
    GateResult,
    evaluate_gates,
)
from openlfr.governance.lifecycle import DeploymentStatus, Transition, next_status

__all__ = [
    "ALL_GATES",
    "Conflict",
    "DeploymentStatus",
    "GateParameters",
    "GateReport",
    "GateResult",
    "GatesFailed",
    "GovernanceError",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "Transition",
    "evaluate_gates",
    "next_status",
]
