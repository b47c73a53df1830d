"""Running build tasks: dask's local schedulers (with a kept process pool) or an active
``dask.distributed`` client. Used by :func:`genozarr.store.builder.build`."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from genozarr.config import OPTIONS
from genozarr.errors import ArgumentError

__all__ = ["run_tasks", "shared_pool", "shutdown_pool"]

log = logging.getLogger(__name__)


def _active_client() -> Any:
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client

        return default_client()
    except (ValueError, ImportError):
        return None


def run_tasks(tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]], work_bases: int,
              label: str) -> list[Any]:
    """Run ``(function, args)`` tasks with the configured dask scheduler.

    Parameters
    ----------
    tasks
        Independent tasks.
    work_bases
        Bases of work, used by ``scheduler='auto'`` to decide on processes.
    label
        What is being built, for the log.

    Returns
    -------
    list
        Task results in order.
    """
    import dask

    scheduler = OPTIONS["scheduler"]
    client = _active_client() if scheduler in ("auto", "distributed") else None
    if scheduler == "distributed" and client is None:
        raise ArgumentError("scheduler='distributed' needs an active dask.distributed Client")
    if scheduler == "auto" and client is None:
        big = work_bases >= OPTIONS["parallel_threshold_bases"] and len(tasks) > 1
        scheduler = "processes" if big else "sync"
    show = OPTIONS["progress"]
    if show == "auto":
        show = sys.stderr.isatty()
    log.info("%s: %d tasks on %s", label, len(tasks),
             "dask.distributed" if client is not None else f"dask {scheduler} scheduler")
    delayed = [dask.delayed(fn, pure=False)(*args) for fn, args in tasks]
    if client is not None:
        futures = client.compute(delayed)
        if show:
            from distributed import progress

            progress(futures)
        return client.gather(futures)
    kwargs: dict[str, Any] = {"scheduler": scheduler}
    pool = None
    if scheduler == "processes":
        pool = shared_pool(OPTIONS["num_workers"] or os.cpu_count() or 1)
        kwargs["pool"] = pool
        # one task per submission: dask batches 6 by default, which leaves workers idle
        # when a build has few, large tasks (coarse resolutions, few chromosomes)
        kwargs["chunksize"] = 1
    from concurrent.futures.process import BrokenProcessPool

    try:
        if show:
            from dask.diagnostics import ProgressBar

            with ProgressBar(out=sys.stderr):
                return list(dask.compute(*delayed, **kwargs))
        return list(dask.compute(*delayed, **kwargs))
    except BrokenProcessPool as e:
        shutdown_pool()
        raise ArgumentError(
            f"{label}: the ingest worker processes died. If this runs from a script, put "
            "the code under `if __name__ == '__main__':` (worker processes re-import the "
            "script, as with any multiprocessing), or use "
            "genozarr.set_options(scheduler='sync'); a worker killed for memory shows the "
            "same error") from e


#: modules the fork server imports once, so that forked workers start without imports
_PRELOAD = ["genozarr.ingest", "genozarr.store.builder", "genozarr.sources", "genozarr.io.bam", "genozarr.io.bigwig",
            "genozarr.io.fasta", "genozarr.io.bed", "zarr", "numcodecs", "pysam", "pyBigWig"]


_POOL: dict[str, Any] = {"pool": None, "key": None}


def shared_pool(n: int) -> Any:
    """The process pool of the ``'processes'`` scheduler, kept between builds.

    Starting a pool costs ~0.1 s per build (more than a small ingest); the pool is started
    on first use and reused by later builds of this process with the same number of
    workers. Idle workers hold their imports and a few cached file handles; call
    :func:`shutdown_pool` to release them (they also end with the interpreter).

    Parameters
    ----------
    n
        Number of worker processes.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
    """
    key = (os.getpid(), int(n))
    pool = _POOL["pool"]
    if pool is not None and (_POOL["key"] != key or getattr(pool, "_broken", False)):
        shutdown_pool()
        pool = None
    if pool is None:
        pool = _process_pool(max(1, int(n)))
        _POOL.update(pool=pool, key=key)
    return pool


def shutdown_pool() -> None:
    """Stop the worker processes kept by :func:`shared_pool` (a no-op without a pool)."""
    pool, key = _POOL["pool"], _POOL["key"]
    _POOL.update(pool=None, key=None)
    if pool is not None and key is not None and key[0] == os.getpid():
        pool.shutdown(wait=True, cancel_futures=True)


def _process_pool(n: int) -> Any:
    """A process pool for dask's processes scheduler that starts its workers quickly.

    dask's default ``spawn`` context imports genozarr, zarr, pysam and pyBigWig anew in every
    worker of every build (~0.4 s per worker here, more than a whole small ingest). On
    platforms that have it the ``forkserver`` context is used instead: the server process
    imports those modules once per session and forks each worker from itself, so workers
    start in milliseconds, and no worker inherits the caller's threads (zarr's event loop,
    a dask thread pool) as a plain ``fork`` would. An explicit dask setting
    ``multiprocessing.context`` wins.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import dask

    name = dask.config.get("multiprocessing.context", None)
    if name is None:
        name = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() \
            else "spawn"
    context = multiprocessing.get_context(name)
    if name == "forkserver":
        context.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(max(1, n), mp_context=context, initializer=_worker_init)


def _worker_init() -> None:
    """In ingest worker processes, Blosc compresses in the calling thread: parallelism
    comes from the processes, and Blosc's own threads in every process only contend for
    the same cores."""
    try:
        import numcodecs.blosc

        numcodecs.blosc.use_threads = False
    except ImportError:  # pragma: no cover - numcodecs is a dependency
        pass
