"""Progress bars of long operations: ingest, statistics (normalizer fitting) and export.

One rule for all of them, ``set_options(progress=...)``: ``True`` always shows a bar,
``False`` never, ``'auto'`` (the default) when stderr is a terminal or the code runs in a
Jupyter notebook. Bars are :mod:`tqdm.auto` bars (a widget in a notebook, text on stderr
elsewhere); what finished is logged through :mod:`logging` by the callers.

Bars over dask computations count chosen tasks through a dask callback
(:func:`dask_callbacks`): only dask's local schedulers (sync, threads, processes) run
callbacks, so :func:`compute` shows no bar on a ``dask.distributed`` client.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from typing import Any

__all__ = ["compute", "dask_callbacks", "in_notebook", "progress_bar", "progress_enabled",
           "progress_label"]

#: what the running operation is (e.g. ``'fit ZScore'``), prefixed to bar descriptions
_LABEL: contextvars.ContextVar[str | None] = contextvars.ContextVar("genozarr_progress_label",
                                                                    default=None)


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel (an IPython ``ZMQInteractiveShell``).

    Returns
    -------
    bool
    """
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_enabled() -> bool:
    """Whether bars show now, by the ``progress`` option (see the module docs).

    Returns
    -------
    bool
    """
    from genozarr.config import OPTIONS

    show = OPTIONS["progress"]
    if show == "auto":
        try:
            tty = sys.stderr.isatty()
        except (AttributeError, ValueError):  # no stderr, or a closed one
            tty = False
        return tty or in_notebook()
    return bool(show)


def progress_bar(total: int, desc: str, unit: str = "it", *, leave: bool = False) -> Any:
    """A :mod:`tqdm.auto` bar, or None when bars are off (:func:`progress_enabled`).

    Parameters
    ----------
    total
        Number of steps.
    desc
        Description; prefixed with the label of an enclosing :func:`progress_label`.
    unit
        Name of a step ('task', 'chunk', 'chrom').
    leave
        Keep the finished bar on screen (default: it disappears).

    Returns
    -------
    tqdm.tqdm or None
        Close it when done (it is a context manager).
    """
    if not progress_enabled():
        return None
    from tqdm.auto import tqdm

    label = _LABEL.get()
    if label:
        desc = f"{label}: {desc}"
    return tqdm(total=int(total), desc=desc, unit=unit, leave=leave)


@contextlib.contextmanager
def progress_label(label: str) -> Iterator[None]:
    """Name the operation that bars started in this block belong to.

    Parameters
    ----------
    label
        For example ``'fit ZScore'``; bars read ``'fit ZScore: moments'``.
    """
    token = _LABEL.set(label)
    try:
        yield
    finally:
        _LABEL.reset(token)


def dask_callbacks(bar: Any, keys: Collection[Hashable]) -> tuple[Any, ...]:
    """A dask local-scheduler callback (the tuple form of :class:`dask.callbacks.Callback`)
    that advances ``bar`` by one for each finished task whose key is in ``keys``.

    Other tasks of the graph (and of other computations) are not counted, so the bar ends
    at ``len(keys)`` exactly.

    Parameters
    ----------
    bar
        A tqdm bar.
    keys
        Keys of the tasks to count.

    Returns
    -------
    tuple
        ``(start, start_state, pretask, posttask, finish)`` for ``dask.compute(...,
        callbacks=[...])``.
    """
    wanted = frozenset(keys)

    def posttask(key: Hashable, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if key in wanted:
            bar.update(1)

    return (None, None, None, posttask, None)


def _local_scheduler(objs: Sequence[Any], kwargs: dict[str, Any]) -> bool:
    """Whether ``dask.compute(*objs, **kwargs)`` runs on one of dask's local schedulers
    (which run callbacks), not on a ``dask.distributed`` client."""
    from dask.base import get_scheduler

    get = get_scheduler(scheduler=kwargs.get("scheduler"), collections=list(objs))
    return get is None or getattr(get, "__module__", "").startswith("dask.")


def compute_graph(graph: Mapping[Hashable, Any], keys: list[Hashable], desc: str, unit: str,
                  *, scheduler: str, leave: bool = False, **kwargs: Any) -> list[Any]:
    """Run the tasks ``keys`` of a low-level dask graph on one of dask's local schedulers,
    with a bar over them.

    :func:`dask.compute` of many separate collections (one ``dask.delayed`` call per
    task) costs time quadratic in their number in dask 2025-2026 (each collection's graph
    is culled against all the others: 16,000 empty tasks took 13 s); one graph holding
    them all is scheduled in linear time (0.4 s).

    Parameters
    ----------
    graph
        ``{key: task}``, for example the merged graphs of ``dask.delayed`` calls.
    keys
        The keys to compute, in order; the bar counts them.
    desc, unit, leave
        As :func:`compute`.
    scheduler
        A local scheduler: 'sync', 'threads' or 'processes'.
    **kwargs
        Passed to the scheduler's ``get`` (``pool``, ``chunksize``, ...).

    Returns
    -------
    list
        The tasks' results, in the order of ``keys``.
    """
    from dask.base import get_scheduler

    get = get_scheduler(scheduler=scheduler)
    if not progress_enabled():  # callbacks registered globally run (dask reads them itself)
        return list(get(graph, keys, **kwargs))
    return _with_bar(keys, desc, unit, leave,
                     lambda callbacks: list(get(graph, keys, callbacks=callbacks, **kwargs)))


def _with_bar(counted: Collection[Hashable], desc: str, unit: str, leave: bool,
              run: Callable[[list[Any]], Any]) -> Any:
    """``run(callbacks)`` under a bar over the tasks ``counted``: ``callbacks`` are those
    registered globally and the bar's (a dask local scheduler's ``callbacks=``)."""
    from dask.callbacks import Callback

    bar = progress_bar(len(counted), desc, unit, leave=leave)
    if bar is None:  # pragma: no cover - called where progress_enabled() is True
        return run(list(Callback.active))
    with bar:
        result = run([*Callback.active, dask_callbacks(bar, counted)])
        bar.refresh()  # updates are drawn at most every 0.1 s: draw the last one
        return result


def compute(objs: Sequence[Any], counted: Collection[Hashable], desc: str, unit: str, *,
            leave: bool = False, **kwargs: Any) -> tuple[Any, ...]:
    """``dask.compute(*objs, **kwargs)`` with a bar over the tasks ``counted``.

    Without a bar (progress off, or a ``dask.distributed`` scheduler) this is plain
    ``dask.compute``. Callbacks registered globally (``with dask.diagnostics.ProgressBar():``)
    keep working.

    Parameters
    ----------
    objs
        Dask collections to compute.
    counted
        Keys of the tasks the bar counts (its total is their number).
    desc, unit, leave
        Bar description, step name and whether it stays (:func:`progress_bar`). The
        bar shows its final count before it closes.
    **kwargs
        Passed to :func:`dask.compute` (``scheduler``, ``pool``, ...).

    Returns
    -------
    tuple
        The computed values, as :func:`dask.compute` returns them.
    """
    import dask

    if not progress_enabled() or not _local_scheduler(objs, kwargs):
        return dask.compute(*objs, **kwargs)
    return _with_bar(counted, desc, unit, leave,
                     lambda callbacks: dask.compute(*objs, callbacks=callbacks, **kwargs))
