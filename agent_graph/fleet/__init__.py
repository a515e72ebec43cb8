"""The worker fleet: many processes running durable threads from a queue in Postgres.

Built on Procrastinate, on the same database as the checkpoints (no broker):

- :func:`submit_keywords` queues one thread per keyword (one INSERT for any number);
- :func:`run_worker` serves the queue with a concurrency, heartbeats, recovery of the threads
  of dead workers from their last checkpoint, a poison-pill limit, and SIGTERM draining;
- :func:`fleet_status` shows workers, heartbeats and threads by state;
- :class:`LlmLimiter` caps concurrent LLM calls and requests per minute for the whole fleet;
- :func:`setup_fleet_database` sets up every table at once, safely raced by many processes.
"""

from ..llm import LlmLimiter, LlmSlotTimeout, ModelLimit, ModelUsage
from ._app import QUEUE, TASK_NAME, make_app
from ._schema import setup_fleet_database
from ._status import FleetStatus, WorkerInfo, fleet_status
from ._submit import Submitted, submit_keywords
from ._synthetic import SYNTHETIC_GRAPH, build_synthetic_graph, open_synthetic_graph
from ._tasks import FleetGraph, GraphFactory, ThreadDriver, load_graph_factory, open_content_graph
from ._worker import WorkerOptions, recover_stalled_jobs, run_worker

__all__ = [
    "QUEUE",
    "SYNTHETIC_GRAPH",
    "TASK_NAME",
    "FleetGraph",
    "FleetStatus",
    "GraphFactory",
    "LlmLimiter",
    "LlmSlotTimeout",
    "ModelLimit",
    "ModelUsage",
    "Submitted",
    "ThreadDriver",
    "WorkerInfo",
    "WorkerOptions",
    "build_synthetic_graph",
    "fleet_status",
    "load_graph_factory",
    "make_app",
    "open_content_graph",
    "open_synthetic_graph",
    "recover_stalled_jobs",
    "run_worker",
    "setup_fleet_database",
    "submit_keywords",
]
