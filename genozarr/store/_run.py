"""Running build tasks: dask's local schedulers (with a kept process pool) or an active
``dask.distributed`` client. Used by :func:`genozarr.store.builder.build`.

The kept pool's worker processes (and the fork server they are forked from) end with the
process that started them, even when it is killed: each worker watches that process from a
thread, a worker of the fork server gets SIGTERM from Linux when the server ends, and the
server gets it when its parent ends (``prctl(PR_SET_PDEATHSIG)``).

Workers never re-import the caller's ``__main__`` (a script, or a module run with
``python -m``), as Python's ``spawn`` and ``forkserver`` workers otherwise do: the pool
launches them without the ``init_main_from_path``/``init_main_from_name`` preparation data
(:func:`_main_not_reimported`), so a plain script without an
``if __name__ == "__main__":`` guard builds its stores once, as in Janggu. The tasks need
nothing from ``__main__``: dask sends them with cloudpickle, which pickles functions and
classes defined in ``__main__`` (a custom collapser, a Source subclass) by value.

Progress (tasks done of all) shows as a :mod:`tqdm.auto` bar under
``set_options(progress=...)`` (:mod:`genozarr._progress`).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from multiprocessing import context as _mp_context
from typing import Any

from genozarr.config import OPTIONS
from genozarr.errors import ArgumentError, StoreError, get_logger

__all__ = ["planned_workers", "run_tasks", "shared_pool", "shutdown_pool", "start_process"]

log = get_logger(__name__)


def _active_client() -> Any:
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client

        return default_client()
    except (ValueError, ImportError):
        return None


def _local_workers() -> int:
    """Tasks dask's local schedulers run at once: ``num_workers``, else the CPUs this
    process may use."""
    from genozarr.config import available_cpus

    return OPTIONS["num_workers"] or available_cpus()


def _scheduler(work_bases: int, n_tasks: int) -> tuple[str, Any]:
    """The scheduler :func:`run_tasks` runs ``n_tasks`` tasks of ``work_bases`` bases on:
    ``(name, client)``, the client of ``'distributed'`` (None on dask's local
    schedulers)."""
    scheduler = OPTIONS["scheduler"]
    client = _active_client() if scheduler in ("auto", "distributed") else None
    if scheduler == "distributed" and client is None:
        raise ArgumentError("scheduler='distributed' needs an active dask.distributed Client")
    if client is not None:
        return "distributed", client
    daemonic = multiprocessing.current_process().daemon  # (may not start processes)
    if scheduler == "auto":
        big = work_bases > OPTIONS["parallel_threshold_bases"] and n_tasks > 1  # (above)
        scheduler = ("threads" if daemonic else "processes") if big else "sync"
    elif scheduler == "processes" and daemonic:
        raise ArgumentError(
            "scheduler='processes' cannot run in a daemonic process (a multiprocessing "
            "Pool worker, a dask.distributed worker), which may not start processes: use "
            "scheduler='threads' or 'sync' there, or 'auto', which picks threads")
    return scheduler, None


def planned_workers(work_bases: int, n_tasks: int) -> int:
    """How many tasks :func:`run_tasks` would run at once for ``n_tasks`` tasks of
    ``work_bases`` bases: 1 on the synchronous scheduler, the local pool's workers, or
    the threads of an active ``dask.distributed`` cluster.

    Parameters
    ----------
    work_bases
        Bases of work (``scheduler='auto'`` runs small builds synchronously).
    n_tasks
        Tasks a plan would have (``'auto'`` runs a single task synchronously).

    Returns
    -------
    int
    """
    try:
        scheduler, client = _scheduler(work_bases, n_tasks)
    except ArgumentError:  # run_tasks says so when the plan runs
        return 1
    if client is not None:
        if getattr(client, "asynchronous", False):  # (its calls return coroutines)
            return 1
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a cluster that does not answer: plan for one
            return 1
    return 1 if scheduler == "sync" else _local_workers()


@contextlib.contextmanager
def in_process_scheduler(*collections: Any) -> Iterator[dict[str, Any]]:
    """Keyword arguments of a dask computation over arrays of this process (``da.store``
    of lazy arrays), on the configured scheduler.

    ``scheduler='sync'`` runs it in this thread; ``'threads'`` and ``'processes'`` in a
    pool of threads of its own (the arrays live in this process; dask's default thread
    pool is not remade in a process forked after it started); ``'auto'`` and
    ``'distributed'`` on the active ``dask.distributed`` client, else as ``'threads'``.
    Dask ``collections`` persisted on the active client (holding its futures) are
    computed there whatever the option says: no other scheduler can.

    Parameters
    ----------
    *collections
        The dask collections to be computed.

    Yields
    ------
    dict[str, Any]
        ``scheduler`` (and ``pool``) for :func:`dask.compute` or :func:`dask.array.store`.

    Raises
    ------
    ArgumentError
        With ``scheduler='distributed'`` and no active client.
    """
    scheduler = OPTIONS["scheduler"]
    client = _active_client() if scheduler in ("auto", "distributed") else None
    if scheduler == "distributed" and client is None:
        raise ArgumentError("scheduler='distributed' needs an active dask.distributed Client")
    if client is None and collections and _active_client() is not None:
        from distributed import futures_of

        if any(futures_of(c) for c in collections):
            client = _active_client()
    if client is not None:
        yield {"scheduler": client}
    elif scheduler == "sync":
        yield {"scheduler": "sync"}
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(_local_workers(), thread_name_prefix="genozarr") as pool:
            yield {"scheduler": "threads", "pool": pool}


def run_tasks(tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]], work_bases: int,
              label: str, on_result: Callable[[Any], None] | None = None,
              in_process: bool = False) -> list[Any]:
    """Run ``(function, args)`` tasks with the configured dask scheduler.

    On dask's local schedulers the tasks start in the order given (a build plans its
    largest tasks first, so that the last ones to start are small and no worker is left
    running one large task while the others idle).

    Parameters
    ----------
    tasks
        Independent tasks, in the order they should start.
    work_bases
        Bases of work, used by ``scheduler='auto'`` to decide on processes.
    label
        What is being built, for the log and the progress bar.
    on_result
        Called in this thread with each task's result as the task finishes, on dask's
        local schedulers (a dask callback); not called on ``dask.distributed``.
    in_process
        Run the tasks in this process (their arguments are large arrays of it): in this
        thread where the scheduler is synchronous, else in threads (as many as
        ``num_workers``, or the cores).

    Returns
    -------
    list
        Task results in order.

    Raises
    ------
    ArgumentError
        With ``scheduler='distributed'`` and no active client, or when a worker process
        of the local pool died.
    """
    import dask

    scheduler, client = _scheduler(work_bases, len(tasks))
    if in_process:
        client, scheduler = None, "sync" if scheduler == "sync" else "threads"
    log.info("%s: %d tasks on %s", label, len(tasks),
             "dask.distributed" if client is not None else f"dask {scheduler} scheduler")
    t0 = time.perf_counter()
    # dask's local schedulers start the ready tasks with the greater key names first
    # (documented in dask.local): the first task gets the greatest name. The names start
    # with the tasks' function, as dask's own names do
    names = {getattr(fn, "__name__", "") for fn, _ in tasks}
    name = names.pop() if len(names) == 1 and "" not in names else "genozarr_task"
    prefix, width = f"{name}-{uuid.uuid4().hex}", len(str(len(tasks)))
    portable = client is None and scheduler == "processes"
    delayed = [dask.delayed(_PortableErrors(fn) if portable else fn, pure=False)(
        *args, dask_key_name=f"{prefix}-{len(tasks) - 1 - i:0{width}d}")
        for i, (fn, args) in enumerate(tasks)]
    if client is not None:
        results = _run_distributed(client, delayed, label)
        log.info("%s: %d tasks done in %.1f s", label, len(tasks), time.perf_counter() - t0)
        return results
    kwargs: dict[str, Any] = {"scheduler": scheduler}
    threads = tracked = None
    if scheduler == "threads":
        # a pool of this call's own: dask's default thread pool is not remade in a
        # process forked after it started, whose threaded builds then waited forever
        from concurrent.futures import ThreadPoolExecutor

        threads = kwargs["pool"] = ThreadPoolExecutor(_local_workers(),
                                                      thread_name_prefix="genozarr")
    elif scheduler == "processes":
        kwargs["pool"] = tracked = _Tracked(shared_pool(_local_workers()))
        # one task per submission: dask batches 6 by default, which leaves workers idle
        # when a build has few, large tasks (coarse resolutions, few chromosomes)
        kwargs["chunksize"] = 1
    from concurrent.futures.process import BrokenProcessPool

    from dask.callbacks import Callback

    from genozarr._progress import compute_graph

    # one graph for all the tasks: dask.compute of one collection per task costs time
    # quadratic in the number of tasks (a store of thousands of contigs has one task each)
    graph: dict[Any, Any] = {}
    for d in delayed:
        graph.update(d.__dask_graph__())
    keys = [d.key for d in delayed]
    watch = contextlib.nullcontext()
    if on_result is not None:
        wanted = frozenset(keys)

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if key in wanted:
                on_result(result)

        watch = Callback(posttask=posttask)
    try:
        with watch:
            results = compute_graph(graph, keys, f"build {label}", "task", leave=True,
                                    **kwargs)
    except BrokenProcessPool as e:
        shutdown_pool()
        raise ArgumentError(
            f"{label}: an ingest worker process died (a worker killed for memory, or a "
            "crash in a native library); lower the number of workers with "
            "genozarr.set_options(num_workers=...) or chunk_bytes, or build in this "
            "process with genozarr.set_options(scheduler='sync')") from e
    except BaseException:
        if tracked is not None:
            # a failed task or an interrupt (Ctrl-C) stops the build, but dask leaves the
            # tasks it gave the kept pool running: they would go on writing into the
            # build's temporary store while the caller removes it. Its queued tasks are
            # cancelled and its running ones finished first (the pool, which builds in
            # other threads may share, is kept)
            tracked.stop()
        raise
    finally:
        if threads is not None:
            threads.shutdown(wait=True, cancel_futures=True)
    log.info("%s: %d tasks done in %.1f s", label, len(tasks), time.perf_counter() - t0)
    return results


class _PortableErrors:
    """``fn`` for a task of worker processes, whose exceptions come back: one whose
    unpickling would fail (a class with an ``__init__`` of its own arguments: the caller
    got an unrelated TypeError from unpickling) comes back with a cause or context that
    cannot be pickled replaced by a RuntimeError naming it, or, where its own class
    cannot be, as a RuntimeError naming its class and message."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "")

    def __call__(self, *args: Any) -> Any:
        try:
            return self.fn(*args)
        except Exception as e:  # any task's error, checked and raised again
            if _comes_back(e):
                raise
            for link in ("__cause__", "__context__"):  # (the chain, as tblib sends it)
                inner = getattr(e, link)
                if inner is not None and not _comes_back(inner):
                    setattr(e, link, RuntimeError(_named(inner)))
            if _comes_back(e):  # (its own class pickles: kept, for except clauses)
                raise
            said = _named(e)
        # (raised outside the except clause: as its context, the exception would be sent)
        raise RuntimeError(said)


def _comes_back(e: BaseException) -> bool:
    """Whether ``e`` survives being sent from a worker process (as dask sends it)."""
    import cloudpickle

    try:
        cloudpickle.loads(cloudpickle.dumps(e))
    except Exception:  # noqa: BLE001 - any failure to come back
        return False
    return True


def _named(e: BaseException) -> str:
    return (f"{type(e).__module__}.{type(e).__qualname__}: {e} (raised in a worker "
            "process; it cannot be pickled, so it is named here)")


class _Tracked:
    """The kept process pool as one :func:`run_tasks` call gives it to dask: the futures of
    the tasks it submits are kept until they are done, so that a build that stops can
    cancel and wait for its own tasks (builds in other threads share the pool)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._max_workers = pool._max_workers  # (what dask's processes scheduler reads)
        self._futures: set[Any] = set()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            future = self._pool.submit(fn, *args, **kwargs)
        except RuntimeError:  # the pool was shut down (shutdown_pool() in another thread,
            # after the tasks it had were done): the build goes on with a new one
            if not getattr(self._pool, "_shutdown_thread", False):
                raise
            self._pool = shared_pool(self._max_workers)
            future = self._pool.submit(fn, *args, **kwargs)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def stop(self) -> None:
        """Cancel the tasks not started yet and wait for the running ones."""
        from concurrent.futures import wait

        futures = list(self._futures.copy())  # (done callbacks discard from other threads)
        for future in futures:
            future.cancel()
        wait(futures)


def _run_distributed(client: Any, delayed: list[Any], label: str) -> list[Any]:
    """Compute ``delayed`` on a ``dask.distributed`` client, with a bar over finished
    tasks."""
    from genozarr._progress import progress_bar

    futures = client.compute(delayed)
    try:
        bar = progress_bar(len(futures), f"build {label}", "task", leave=True)
        if bar is not None:
            from distributed import as_completed

            with bar:
                for future in as_completed(futures):
                    bar.update(1)
                    if future.status in ("error", "cancelled"):
                        future.result()  # (raises it) a failed task stops the build at once
        return client.gather(futures)
    except Exception as e:
        _cancel(client, futures, label)
        kind = type(e).__name__
        if kind in ("CancelledError", "FutureCancelledError"):
            if getattr(client, "status", "running") in ("closing", "closed"):
                raise StoreError(f"build {label}: its dask.distributed Client was closed "
                                 "while the build ran; nothing was published") from e
            raise StoreError(f"build {label}: its tasks were cancelled on the "
                             f"dask.distributed cluster (a scheduler restart?): "
                             f"{' '.join(str(e).split())} Nothing was published") from e
        if kind == "KilledWorker":
            raise ArgumentError(
                f"{label}: dask.distributed workers died running a build task (a worker "
                "killed for memory, or a crash in a native library); nothing was "
                "published. Give the workers more memory or fewer threads each, lower "
                "genozarr.set_options(chunk_bytes=...), or build in this process with "
                "genozarr.set_options(scheduler='sync')") from e
        raise
    except BaseException:
        _cancel(client, futures, label)
        raise


def _cancel(client: Any, futures: list[Any], label: str) -> None:
    """Cancel a stopped build's tasks not started yet (running ones go on; the caller's
    removal of the temporary store deals with what they write)."""
    try:
        client.cancel(futures)
    except Exception as e:  # noqa: BLE001 - a client already closed: nothing to cancel
        log.debug("%s: could not cancel the tasks: %s", label, e)


#: modules the fork server imports once, so that forked workers start without imports
#: (this module first: importing it there ties the fork server's life to its parent's)
_PRELOAD = ["genozarr.store._run", "genozarr.ingest", "genozarr.store.builder",
            "genozarr.sources", "genozarr.io.bam", "genozarr.io.bigwig", "genozarr.io.fasta",
            "genozarr.io.bed", "genozarr.io.export", "zarr", "numcodecs", "pysam", "pyBigWig"]

#: environment variable naming the process a fork server was started for (set by
#: :func:`_process_pool` while it starts the server from the main thread)
_PARENT_ENV = "GENOZARR_FORKSERVER_PARENT"
#: seconds between two checks of a worker's watchdog
_WATCHDOG_INTERVAL = 0.25

_POOL: dict[str, Any] = {"pool": None, "key": None}


def shared_pool(n: int) -> Any:
    """The process pool of the ``'processes'`` scheduler, kept between builds.

    Starting a pool costs ~0.1 s per build (more than a small ingest); the pool is started
    on first use and reused by later builds of this process with the same number of
    workers. Idle workers hold their imports and a few cached file handles; call
    :func:`shutdown_pool` to release them (they also end with the interpreter, and when
    this process is killed: see :func:`_worker_init`).

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
        if _POOL.get("atexit") != os.getpid():
            # stopped while the interpreter is whole: left to the garbage collector of a
            # finalizing interpreter, the pool's wake-up callback finds its modules gone
            # and prints an ignored AttributeError. A multiprocessing child runs no atexit
            # hooks: its exit joins its non-daemonic children first, the pool's idle
            # workers, which wait for it forever; a finalizer stops them before that
            import multiprocessing.util

            atexit.register(shutdown_pool)
            multiprocessing.util.Finalize(None, shutdown_pool, exitpriority=100)
            _POOL["atexit"] = os.getpid()
    return pool


def shutdown_pool() -> None:
    """Stop the worker processes kept by :func:`shared_pool` (a no-op without a pool),
    once the tasks given to them are done: a build running in another thread meanwhile
    goes on, its later tasks in a new pool."""
    pool, key = _POOL["pool"], _POOL["key"]
    _POOL.update(pool=None, key=None)
    if pool is not None and key is not None and key[0] == os.getpid():
        pool.shutdown(wait=True)


def _process_pool(n: int) -> Any:
    """A process pool for dask's processes scheduler that starts its workers quickly.

    dask's default ``spawn`` context imports genozarr, zarr, pysam and pyBigWig anew in every
    worker of every build (~0.4 s per worker here, more than a whole small ingest). On
    platforms that have it the ``forkserver`` context is used instead: the server process
    imports those modules once per session and forks each worker from itself, so workers
    start in milliseconds, and no worker inherits the caller's threads (zarr's event loop,
    a dask thread pool) as a plain ``fork`` would. An explicit dask setting
    ``multiprocessing.context`` wins.

    Workers of the ``spawn`` and ``forkserver`` contexts are launched without re-importing
    the caller's ``__main__`` (:func:`_main_not_reimported`); ``fork`` never re-imports it.

    Workers and the fork server end when this process ends, even when it is killed
    (``SIGKILL`` leaves no chance to shut the pool down): see :func:`_worker_init` and
    :func:`_forkserver_preloaded`.
    """
    from concurrent.futures import ProcessPoolExecutor

    name, context = _context()
    return ProcessPoolExecutor(max(1, n), mp_context=context, initializer=_worker_init,
                               initargs=(os.getpid(), _start_time(os.getpid()),
                                         name == "forkserver"))


def start_process(target: Callable[..., Any], args: tuple[Any, ...], name: str) -> Any:
    """Start ``target(*args)`` in a daemon process of the ingest pool's context (forked
    from the fork server where there is one: started in milliseconds, modules already
    imported, the caller's ``__main__`` not re-imported; see :func:`_process_pool`).

    Parameters
    ----------
    target
        A module-level function.
    args
        Its arguments (they must pickle, except with ``fork``).
    name
        Process name.

    Returns
    -------
    multiprocessing.process.BaseProcess
        The started process.
    """
    _, context = _context()
    proc = context.Process(target=target, args=args, name=name, daemon=True)
    proc.start()
    return proc


def _context() -> tuple[str, Any]:
    """``(start method, context)`` of genozarr's worker processes: an explicit dask
    ``multiprocessing.context``, else ``forkserver`` where available (its server started,
    with :data:`_PRELOAD` imported), else ``spawn``."""
    import multiprocessing

    import dask

    name = dask.config.get("multiprocessing.context", None)
    if name is None:
        name = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() \
            else "spawn"
    multiprocessing.get_context(name)  # an unknown or unavailable method raises here
    context = _NO_MAIN_CONTEXTS[name]() if name in _NO_MAIN_CONTEXTS \
        else multiprocessing.get_context(name)
    if name == "forkserver":
        server = _fork_server()
        # started now, not at the first worker's launch, with the environment that makes
        # it import genozarr from where this process does; started from the main thread,
        # the server may die with this process's main thread (PR_SET_PDEATHSIG fires when
        # the thread that forked it ends), not from another thread, which may end first
        env = _server_import_env()
        if threading.current_thread() is threading.main_thread():
            env[_PARENT_ENV] = str(os.getpid())
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            with _main_not_reimported():
                server.ensure_running()
        except Exception as e:  # noqa: BLE001 - the pool starts it later anyway
            log.debug("could not start the fork server early: %s", e)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return name, context


def _server_import_env() -> dict[str, str]:
    """Environment that makes the fork server import genozarr (and the other modules it
    preloads) from where this process imports them; set while the server is started.

    The server runs as ``python -c`` and imports its preload modules with its own
    ``sys.path`` (Python 3.11's server never takes this process's), which starts with the
    working directory: run from a folder holding another ``genozarr`` (a source
    checkout), every worker would run that code, not the caller's. ``PYTHONSAFEPATH``
    drops the working directory and ``PYTHONPATH`` puts this process's path first (an
    empty entry, the working directory, as an absolute path).
    """
    path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    return {"PYTHONSAFEPATH": "1", "PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}


#: serialises the launches that hide ``__main__`` (each patches a function of the stdlib)
_LAUNCH_LOCK = threading.RLock()
#: preparation data that tells a new process to re-import the parent's ``__main__``
_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")


@contextlib.contextmanager
def _main_not_reimported() -> Iterator[None]:
    """Launch processes from this thread without re-importing the caller's ``__main__``.

    A ``spawn`` or ``forkserver`` child runs the parent's main script (as ``__mp_main__``)
    before it unpickles its process object, from the preparation data that
    :func:`multiprocessing.spawn.get_preparation_data` gives: a script without a
    ``__main__`` guard would run its build again in every worker, recursively. While this
    context is active, the processes this thread launches get that data without
    ``init_main_from_path`` and ``init_main_from_name`` (``sys.path``, the working
    directory and the rest are kept, so modules next to the script still import). Other
    threads launching processes meanwhile get the data unchanged.
    """
    from multiprocessing import spawn

    with _LAUNCH_LOCK:
        original = spawn.get_preparation_data
        owner = threading.get_ident()

        def get_preparation_data(name: str) -> dict[str, Any]:
            data = original(name)
            if threading.get_ident() == owner:
                for key in _MAIN_KEYS:
                    data.pop(key, None)
            return data

        spawn.get_preparation_data = get_preparation_data
        try:
            yield
        finally:
            spawn.get_preparation_data = original


#: genozarr's own fork server, by the process it serves (a forked child makes its own)
_SERVER: dict[str, Any] = {"pid": None, "server": None}
_SERVER_LOCK = threading.Lock()


def _fork_server() -> Any:
    """The fork server of genozarr's worker processes (:data:`_PRELOAD` imported): its
    own ``multiprocessing.forkserver.ForkServer``, not the one the process's other
    ``forkserver`` processes share, whose preload list and environment stay the caller's."""
    with _SERVER_LOCK:
        if _SERVER["pid"] != os.getpid():
            from multiprocessing import forkserver

            server = forkserver.ForkServer()
            server.set_forkserver_preload(_PRELOAD)
            _SERVER.update(pid=os.getpid(), server=server)
        return _SERVER["server"]


@contextlib.contextmanager
def _from_own_server() -> Iterator[None]:
    """Launch ``forkserver`` processes from this thread through :func:`_fork_server`.

    multiprocessing's ``forkserver`` processes ask the module function
    ``multiprocessing.forkserver.connect_to_new_process`` (the shared server's) for a
    child; while this context is active, the ones this thread launches ask genozarr's
    server. Other threads launching processes meanwhile get the shared server.
    """
    from multiprocessing import forkserver

    server = _fork_server()
    with _LAUNCH_LOCK:
        original = forkserver.connect_to_new_process
        owner = threading.get_ident()

        def connect_to_new_process(fds: Any) -> Any:
            if threading.get_ident() == owner:
                return server.connect_to_new_process(fds)
            return original(fds)

        forkserver.connect_to_new_process = connect_to_new_process
        try:
            yield
        finally:
            forkserver.connect_to_new_process = original


class _SpawnProcess(_mp_context.SpawnProcess):
    """A ``spawn`` process that does not re-import the caller's ``__main__``."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        with _main_not_reimported():
            return _mp_context.SpawnProcess._Popen(process_obj)


class _SpawnContext(_mp_context.SpawnContext):
    """The ``spawn`` context, with :class:`_SpawnProcess` processes."""

    Process = _SpawnProcess


#: contexts, by start method, whose processes do not re-import ``__main__``
_NO_MAIN_CONTEXTS: dict[str, type] = {"spawn": _SpawnContext}

if hasattr(_mp_context, "ForkServerProcess"):  # POSIX
    class _ForkServerProcess(_mp_context.ForkServerProcess):
        """A ``forkserver`` process that does not re-import the caller's ``__main__``,
        forked by genozarr's own fork server (:func:`_fork_server`)."""

        @staticmethod
        def _Popen(process_obj: Any) -> Any:
            with _main_not_reimported(), _from_own_server():
                return _mp_context.ForkServerProcess._Popen(process_obj)

    class _ForkServerContext(_mp_context.ForkServerContext):
        """The ``forkserver`` context, with :class:`_ForkServerProcess` processes."""

        Process = _ForkServerProcess

    _NO_MAIN_CONTEXTS["forkserver"] = _ForkServerContext


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux ``/proc``), or None elsewhere; with the pid
    it names one process, whatever pid reuse happens later."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19].decode() if len(fields) > 19 else None


def _alive(pid: int, start: str | None) -> bool:
    """Whether process ``pid`` (started at ``start``) still runs (a zombie does not)."""
    if start is not None:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            return False
        return fields[0] != b"Z" and fields[19].decode() == start
    return pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_parent() -> bool:
    """Ask Linux to send this process SIGTERM when its parent ends
    (``prctl(PR_SET_PDEATHSIG)``); whether it could."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        return libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watchdog(parent: int, start: str | None) -> None:
    """End this worker when process ``parent`` is gone (a thread of the worker)."""
    import signal
    import time

    while _alive(parent, start):
        time.sleep(_WATCHDOG_INTERVAL)
    log.debug("the process that started this worker (%d) is gone; exiting", parent)
    os.kill(os.getpid(), signal.SIGKILL)


#: glibc settings of the ingest workers: arrays under this many bytes come from the heap
#: (not a fresh ``mmap`` each) ...
WORKER_MMAP_THRESHOLD = 32 << 20
#: ... and up to this many bytes of freed heap are kept (not given back and faulted in
#: again by the next task); see :func:`_keep_freed_memory`
WORKER_TRIM_THRESHOLD = 64 << 20
#: whether this process (an ingest worker) applied those settings
_KEEPS_FREED_MEMORY = False


def _keep_freed_memory() -> bool:
    """Apply :data:`WORKER_MMAP_THRESHOLD` and :data:`WORKER_TRIM_THRESHOLD` to this
    process's allocator (glibc ``mallopt``); whether they were applied.

    Every ingest task builds fresh arrays of a few MB (decoded values, the files
    interleaved as conditions, compressed chunks). glibc sizes its thresholds from the
    blocks freed so far, and at these sizes it keeps giving the pages back and faulting
    them in again (the kernel zeroes them). An ingest worker keeps at most
    :data:`WORKER_TRIM_THRESHOLD` of freed memory instead (``docs/tuning.md``, "Memory
    allocator"). Not applied where the user set ``MALLOC_MMAP_THRESHOLD_`` or
    ``MALLOC_TRIM_THRESHOLD_`` (their choice wins), nor where the C library has no
    ``mallopt`` (macOS) or ignores it (musl).
    """
    if {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & set(os.environ):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: no CDLL(None) on Windows
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(m_mmap_threshold, WORKER_MMAP_THRESHOLD)) and bool(
        mallopt(m_trim_threshold, WORKER_TRIM_THRESHOLD))


def _worker_init(parent: int | None = None, start: str | None = None,
                 forked_by_server: bool = False) -> None:
    """Set up an ingest worker process.

    Blosc compresses in the calling thread: parallelism comes from the processes, and
    Blosc's own threads in every process only contend for the same cores.

    The worker ends when the process that started the pool ends, even when that process
    is killed: a daemon thread watches it (``parent``, identified by its ``start`` time),
    and a worker forked by the fork server also gets SIGTERM from Linux when the fork
    server ends (``PR_SET_PDEATHSIG``; the fork server itself ends with its parent, see
    :func:`_forkserver_preloaded`).
    """
    try:
        import numcodecs.blosc

        numcodecs.blosc.use_threads = False
    except ImportError:  # pragma: no cover - numcodecs is a dependency
        pass
    global _KEEPS_FREED_MEMORY
    _KEEPS_FREED_MEMORY = _keep_freed_memory()
    if forked_by_server:
        server = os.getppid()
        if _die_with_parent() and os.getppid() != server:  # pragma: no cover - a race
            os._exit(1)
    if parent is not None:
        if not _alive(parent, start):
            os._exit(1)
        threading.Thread(target=_watchdog, args=(parent, start), daemon=True,
                         name="genozarr-parent-watchdog").start()


def _forkserver_preloaded() -> None:
    """In the fork server, preloading this module: end the server when the process it was
    started for ends (``PR_SET_PDEATHSIG``), so a killed parent leaves no fork server
    behind. Does nothing in any other process."""
    fs = sys.modules.get("multiprocessing.forkserver")
    if fs is None or os.environ.get(_PARENT_ENV) != str(os.getppid()):
        return
    frame = sys._getframe(1)
    while frame is not None and frame.f_code is not fs.main.__code__:
        frame = frame.f_back
    if frame is None:
        return
    if _die_with_parent() and os.environ.get(_PARENT_ENV) != str(os.getppid()):
        os._exit(1)  # pragma: no cover - the parent ended before the prctl


_forkserver_preloaded()
