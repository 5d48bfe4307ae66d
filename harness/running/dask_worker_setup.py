"""``dask worker --preload harness.running.dask_worker_setup``: a Dask worker readies itself for
the tool's fits as it starts, before it joins the cluster.

Without it a worker starts its R, loads the R packages and imports the engines (doubleml,
scikit-learn, scipy: 3-5 CPU-s) at the first run's versions probe, and that run's first fits wait
for it; with it, that happens while the worker starts, and so again when a nanny restarts a worker
that died. The work is the first task's own (``harness.running.dask_tasks.ready_worker``), done
in the worker's task thread as a task would do it. Before it, the preload undoes for the worker's
heap the ``MALLOC_TRIM_THRESHOLD_=65536`` that Dask's nanny starts workers with
(``harness.engines.heap_trim.hold_thresholds`` says what it costs). A worker that cannot fit still starts and joins:
its runs set it aside and name why, as they do without the preload.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from typing import Any

__all__ = ["PRELOAD", "SETTINGS", "dask_setup"]

logger = logging.getLogger("distributed.worker")  # the worker's own log, in its format

# How the README starts a cluster for the tool ("On a Dask cluster"), for the tests and benches
# that start one: this preload, and the environment that turns off Dask's worker profiler, checks
# the event loop once a second instead of every 20 ms, samples its processes and host (read by the
# dashboard and sent with the heartbeats) every 2 s instead of 0.5 s, and checks a worker's memory
# against its limits every 0.5 s instead of 0.1 s (each wakes the nanny or the worker's event loop).
PRELOAD = ["--preload", __name__]
SETTINGS = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "2s",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "500ms",
}


async def dask_setup(worker: Any) -> None:
    """Called by Dask when the worker starts (``--preload``)."""
    from harness.running.dask_tasks import ready_worker

    if os.environ.get("MALLOC_TRIM_THRESHOLD_"):  # the nanny's (distributed.nanny.pre-spawn-environ)
        from harness.engines.heap_trim import hold_thresholds

        hold_thresholds()

    # R's session folder goes in the worker's own folder, which Dask removes after a worker is killed
    # (harness.running.dask_tasks._r_session_folder_in).
    loop = asyncio.get_running_loop()
    ready = functools.partial(ready_worker, folder=worker.local_directory)
    state, answer = await loop.run_in_executor(worker.executors["default"], ready)
    if state == "ok":
        logger.info("dml-parity: ready to fit (R %s)", (answer.get("r") or {}).get("R", "?"))
    else:
        logger.warning("dml-parity: this worker cannot fit (%s); runs will set it aside", answer)
