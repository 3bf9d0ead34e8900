"""The engine node: runs the recognition engine for one deployment under the platform's
governance, over the platform's HTTP API only.

    from openlfr.node import NodeConfig, NodeRunner

    summary = NodeRunner(NodeConfig(platform_url="https://platform", api_key=KEY,
                                    deployment="LFR-2026-0007", source="rtsp://cam-1"),
                         report=print).run()

* ``runner``: the run, start to stop (may it run? watchlist into memory, alerts and
  counts out, stop when the deployment ends, drop the watchlist).
* ``outbox``: alerts and counts wait in a local SQLite file until the platform
  acknowledged them, so killing the node or the platform loses nothing.
* ``client``: the platform's engine-node API.
* ``source``: frames with the wall-clock time they were read.

Like the engine, this package imports nothing from the platform's own code (storage,
services, web): a node is an edge box that knows the platform only by its API.
"""

from openlfr.node.client import (
    DeploymentStatus,
    PlatformClient,
    PlatformRefused,
    PlatformUnreachable,
)
from openlfr.node.outbox import Outbox, OutboxError, OutboxItem
from openlfr.node.runner import NodeConfig, NodeError, NodeRunner, NodeSummary, default_outbox_dir

__all__ = [
    "DeploymentStatus",
    "NodeConfig",
    "NodeError",
    "NodeRunner",
    "NodeSummary",
    "Outbox",
    "OutboxError",
    "OutboxItem",
    "PlatformClient",
    "PlatformRefused",
    "PlatformUnreachable",
    "default_outbox_dir",
]
