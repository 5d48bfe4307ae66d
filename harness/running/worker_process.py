"""Worker processes that do not import the caller's ``__main__`` again.

multiprocessing's spawn and forkserver start methods import the parent's main module afresh in
every child (as ``__mp_main__``), so that functions defined there can be unpickled. A user's script
without an ``if __name__ == "__main__":`` guard then runs again in each worker: its models are fitted
again, its files written again, and its own ``harness.compare`` call, made while the worker is
still starting, kills the worker. That happened whenever the script had a thread running (a
progress bar, joblib's process manager), since the tool forks from the calling process only when it
has none (harness.running.parallel.fork_is_safe). A worker runs the tool's modules alone, so it is
started without the main module. Fork copies the process and imports nothing: it is left alone.
"""

from __future__ import annotations

import sys
import types
from multiprocessing import spawn
from typing import Any

__all__ = ["worker_process"]

# What multiprocessing.spawn.get_preparation_data puts in for the child to import the main module.
MAIN_KEYS = ("init_main_from_path", "init_main_from_name")


def _preparation_data(name: str) -> dict:
    data = spawn.get_preparation_data(name)
    for key in MAIN_KEYS:
        data.pop(key, None)
    return data


def _without_main(launch: Any) -> Any:
    """A copy of a ``Popen._launch`` whose ``spawn`` gives the child no main module to import.

    A copy with its own globals, not a patch of ``multiprocessing.spawn``: the caller's other
    threads may start processes of their own meanwhile, which need their main module."""
    shim = types.ModuleType(spawn.__name__)
    shim.__dict__.update(vars(spawn))
    shim.get_preparation_data = _preparation_data
    return types.FunctionType(launch.__code__, {**launch.__globals__, "spawn": shim}, launch.__name__, launch.__defaults__)


if sys.platform != "win32":  # the POSIX start methods (Windows has spawn alone, and no fork to begin with)
    from multiprocessing import context as _context
    from multiprocessing import popen_forkserver, popen_spawn_posix

    # Module-level classes: the process object is pickled for the child, which imports its class.
    class _ForkserverPopen(popen_forkserver.Popen):
        _launch = _without_main(popen_forkserver.Popen._launch)

    class _SpawnPopen(popen_spawn_posix.Popen):
        _launch = _without_main(popen_spawn_posix.Popen._launch)

    class ForkserverWorker(_context.ForkServerProcess):
        _Popen = staticmethod(_ForkserverPopen)

    class SpawnWorker(_context.SpawnProcess):
        _Popen = staticmethod(_SpawnPopen)

    _CLASSES = {"forkserver": ForkserverWorker, "spawn": SpawnWorker}
else:
    _CLASSES = {}


def worker_process(context: Any, **kwargs: Any) -> Any:
    """``context.Process(**kwargs)``, started without the caller's main module where the start
    method would import it (spawn and forkserver on POSIX)."""
    kind = _CLASSES.get(context.get_start_method())
    return context.Process(**kwargs) if kind is None else kind(**kwargs)
