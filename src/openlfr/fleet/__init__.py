"""The fleet: many cameras on a Ray cluster, each one node run (``openlfr.node``), sharing
describer actors that batch across cameras.

    openlfr fleet run --platform URL --api-key KEY --cameras cameras.toml [--address auto]

* ``cameras``: the cameras file (one ``[[camera]]`` per camera, bound to a deployment).
* ``describers``: the descriptor network as Ray actors, batching what cameras send.
* ``runner``: camera actors (the node's runner each) and the driver that restarts a
  camera whose actor died.

Like the node, this package imports nothing from the platform's own code.
"""

from openlfr.fleet.cameras import Camera, CamerasError, load_cameras
from openlfr.fleet.runner import (
    FleetError,
    FleetOptions,
    FleetSummary,
    run_fleet,
    start_ray,
)

__all__ = ["Camera", "CamerasError", "FleetError", "FleetOptions", "FleetSummary",
           "load_cameras", "run_fleet", "start_ray"]
