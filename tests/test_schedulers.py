"""Ingest on dask's processes scheduler equals the single-process build, and the process
pool is kept between builds (scripts without a ``__main__`` guard: tests/test_script_guard.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from genozarr import Cover, set_options


def test_processes_scheduler_equals_sync(sim_data):
    kw = dict(roi=sim_data["roi"], binsize=1000, resolution=10, store_whole_genome=True,
              genomesize=sim_data["chrom_sizes"])
    with set_options(scheduler="sync"):
        bam_ref = Cover.create_from_bam("b", sim_data["bam"], **kw)
        bw_ref = Cover.create_from_bigwig("w", sim_data["bigwigs"], **kw)
    with set_options(scheduler="processes", num_workers=2, chunk_bytes=4096):
        bam = Cover.create_from_bam("b", sim_data["bam"], **kw)
        bw = Cover.create_from_bigwig("w", sim_data["bigwigs"], **kw)
    np.testing.assert_array_equal(bam[:], bam_ref[:])
    np.testing.assert_array_equal(bw[:], bw_ref[:])
    assert bam_ref[:].sum() > 1000 and bw_ref[:].sum() > 0


def test_process_pool_is_kept_between_builds(sim_data):
    from genozarr.store._run import shared_pool, shutdown_pool

    kw = dict(binsize=1000, resolution=10, store_whole_genome=True,
              genomesize=sim_data["chrom_sizes"])
    with set_options(scheduler="processes", num_workers=2, chunk_bytes=4096):
        Cover.create_from_bigwig("w", sim_data["bigwigs"][0], **kw)
        first = shared_pool(2)
        again = Cover.create_from_bigwig("w", sim_data["bigwigs"][0], **kw)
        assert shared_pool(2) is first
    shutdown_pool()
    assert shared_pool(2) is not first
    shutdown_pool()
    with set_options(scheduler="sync"):
        np.testing.assert_array_equal(
            Cover.create_from_bigwig("w", sim_data["bigwigs"][0], **kw)[:], again[:])


def test_ingest_workers_keep_freed_memory(monkeypatch):
    """Ingest workers on glibc serve arrays under 32 MiB from the heap and keep 64 MiB of
    freed heap (mallopt), so a task's fresh arrays are not faulted in anew; a MALLOC_
    variable in the worker's environment (the user's, or one dask.distributed left in
    this test process) wins."""
    import platform

    import pytest

    from genozarr.store import _run

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    # in a worker, in order: whether its initializer applied the settings, the MALLOC_
    # variables it has (removed), and whether they apply without those
    probe = ("(lambda r, os: (r._KEEPS_FREED_MEMORY, "
             "[os.environ.pop(k) for k in list(os.environ) if k.startswith('MALLOC_')], "
             "r._keep_freed_memory()))"
             "(__import__('genozarr.store._run', fromlist=['_run']), __import__('os'))")
    _run.shutdown_pool()
    try:
        applied, env_set, without_env = _run.shared_pool(2).submit(eval, probe).result()
    finally:
        _run.shutdown_pool()
    assert applied is (not env_set)  # a variable present wins
    assert without_env is True
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1048576")
    assert _run._keep_freed_memory() is False  # returns before calling mallopt


@pytest.mark.parametrize("start", ["main thread", "another thread"])
def test_workers_import_the_callers_genozarr_from_any_working_directory(tmp_path, start):
    """The ingest workers are forked from a fork server, which imports genozarr before it
    takes this process's ``sys.path``. Run from a folder holding another ``genozarr``
    package (a source checkout), the workers still run the caller's genozarr, not that
    folder's (they used to; and a pool first started from another thread than the main
    one did still, a review found)."""
    import textwrap

    import genozarr

    fake = tmp_path / "cwd" / "genozarr" / "store"
    fake.mkdir(parents=True)
    for init in (fake.parent / "__init__.py", fake / "__init__.py"):
        init.write_text("")
    (fake / "_run.py").write_text("def _worker_init(*args):\n    pass\n")
    script = tmp_path / "scripts" / "where.py"
    script.parent.mkdir()
    script.write_text(textwrap.dedent("""
        import sys
        import threading

        import genozarr
        from genozarr.store._run import shared_pool

        out = []

        def run():
            out.append(shared_pool(1).submit(eval, "__import__('genozarr').__file__").result())

        print(genozarr.__file__)
        if sys.argv[1] == "main thread":
            run()
        else:
            t = threading.Thread(target=run)
            t.start()
            t.join()
        print(out[0])
        """))
    out = subprocess.run([sys.executable, str(script), start], cwd=tmp_path / "cwd",
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    parent, worker = out.stdout.split()
    assert parent == genozarr.__file__
    assert worker == parent


def test_the_ingest_fork_server_is_genozarrs_own(tmp_path):
    """genozarr's ingest workers come from a fork server of its own: the process's shared
    ``forkserver`` server (the user's ``forkserver`` processes) keeps the user's preload
    list and environment. genozarr used to set that server's preload list and start it
    with its own environment, which the user's later processes inherited."""
    import textwrap

    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp, os, sys
        from multiprocessing import forkserver


        def child(q):
            q.put([os.environ.get("PYTHONSAFEPATH"),
                   os.environ.get("GENOZARR_FORKSERVER_PARENT"), "tabnanny" in sys.modules])


        if __name__ == "__main__":
            mp.set_forkserver_preload(["tabnanny"])
            from genozarr.store import _run

            with _run.shared_pool(2) as pool:
                parents = set(pool.map(eval, ["__import__('os').getppid()"] * 8))
                print(len(parents) == 1 and os.getpid() not in parents)
            print(forkserver._forkserver._preload_modules, forkserver._forkserver._forkserver_pid)
            ctx = mp.get_context("forkserver")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            print(q.get())
            p.join()
        """))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    ours, shared, child = out.stdout.splitlines()
    assert ours == "True"  # the workers' parent: a fork server
    assert shared == "['tabnanny'] None"  # the shared server: not started, list kept
    assert child == "[None, None, True]"  # the user's child: from the user's server


def test_tasks_start_in_the_order_given():
    """run_tasks names the dask keys so that tasks start in the order of the list (dask's
    local schedulers start the ready tasks with the greater key names first). Each task
    returns the clock when it ran; with one worker they run one after the other."""
    import time

    from genozarr.store._run import run_tasks

    for scheduler in ("sync", "threads", "processes"):
        with set_options(scheduler=scheduler, num_workers=1):
            stamps = run_tasks([(time.perf_counter, ())] * 12, 0, "order")
        assert stamps == sorted(stamps), scheduler


def test_whole_genome_tasks_run_largest_first(sim_data, monkeypatch):
    """A whole-genome build plans its largest tasks first (here one task per chromosome,
    chromosomes of different lengths), so that the last ones to start are small."""
    from genozarr import ingest

    chroms: list[str] = []
    task = ingest._genome_task

    def recorded(source, chrom, *args):
        chroms.append(chrom)
        return task(source, chrom, *args)

    monkeypatch.setattr(ingest, "_genome_task", recorded)
    sizes = {"chr1": 5000, "chr2": 8000}
    with set_options(scheduler="sync"):
        Cover.create_from_bigwig("w", sim_data["bigwigs"][0], binsize=1000, resolution=1000,
                                 genomesize=sizes, store_whole_genome=True)
    assert chroms == ["chr2", "chr1"]


def _thread_name() -> str:
    import threading

    return threading.current_thread().name


def test_threaded_tasks_run_in_a_process_forked_after_them():
    """Tasks on threads use a pool of the call's own: dask's default thread pool, once
    started, is not remade in a process forked afterwards, and a threaded build there
    waited forever (a gathered build, whose writes run on threads, in a DataLoader worker
    or a multiprocessing child of a process that had run one)."""
    import multiprocessing

    from genozarr.store._run import run_tasks

    tasks = [(pow, (2, i)) for i in range(4)]
    with set_options(scheduler="threads"):
        assert run_tasks(tasks, 0, "parent") == [1, 2, 4, 8]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child() -> None:
        with set_options(scheduler="threads"):
            queue.put(run_tasks(tasks, 0, "child"))

    proc = ctx.Process(target=child)
    proc.start()
    proc.join(60)
    if proc.exitcode is None:
        proc.kill()
    assert proc.exitcode == 0 and queue.get(timeout=5) == [1, 2, 4, 8]


def test_tasks_run_in_this_process_follow_the_scheduler():
    """Tasks run in this process (a gathered build's writes) run in the calling thread on
    the synchronous scheduler, and otherwise on threads of their own, as many as
    num_workers (they ran on dask's default pool, one thread per core, whatever the
    settings)."""
    from genozarr.store._run import run_tasks

    tasks = [(_thread_name, ()) for _ in range(12)]
    with set_options(scheduler="sync"):
        assert set(run_tasks(tasks, 0, "x", in_process=True)) == {_thread_name()}
    with set_options(scheduler="processes", num_workers=1):
        names = set(run_tasks(tasks, 0, "x", in_process=True))
        assert len(names) == 1 and next(iter(names)).startswith("genozarr")


def test_an_asynchronous_client_plans_for_one_worker(monkeypatch):
    """With an asynchronous dask.distributed client (whose calls return coroutines),
    planning counts one worker instead of calling it (a never-awaited coroutine); a
    client whose nthreads() fails counts one too; a synchronous one counts its threads."""
    from genozarr.store import _run

    class Client:
        def __init__(self, asynchronous: bool, threads: dict | None) -> None:
            self.asynchronous, self.threads = asynchronous, threads

        def nthreads(self) -> dict:
            if self.threads is None:
                raise OSError("no scheduler")
            return self.threads

    with set_options(scheduler="distributed"):
        for client, want in [(Client(True, {"a": 4}), 1), (Client(False, None), 1),
                             (Client(False, {"a": 2, "b": 3}), 5)]:
            monkeypatch.setattr(_run, "_active_client", lambda c=client: c)
            assert _run.planned_workers(10**9, 8) == want


def test_relative_inputs_are_the_callers_files_after_a_chdir(tmp_path, monkeypatch):
    """The kept pool's workers keep the working directory of the process that started it:
    after a chdir (a notebook's %cd), a relative input name read the file of that name in
    the old directory (the store held A's values; its recipe recorded B's digest). Input
    paths are made absolute where the build is called."""
    from genozarr.store._run import shutdown_pool
    from genozarr.testing.simulate import simulate_bigwig

    sizes = {"chr1": 50_000}
    for name, seed in (("A", 1), ("B", 2)):
        (tmp_path / name).mkdir()
        simulate_bigwig(tmp_path / name / "sig.bw", sizes, seed=seed)
    shutdown_pool()  # the pool starts in A
    kw = {"genomesize": sizes, "binsize": 1000}
    with set_options(scheduler="processes", num_workers=2, chunk_bytes=4096):
        monkeypatch.chdir(tmp_path / "A")
        Cover.create_from_bigwig("a", "sig.bw", **kw)
        monkeypatch.chdir(tmp_path / "B")
        got = Cover.create_from_bigwig("b", "sig.bw", **kw)
    shutdown_pool()
    with set_options(scheduler="sync"):
        want = Cover.create_from_bigwig("b", str(tmp_path / "B" / "sig.bw"), **kw)
        other = Cover.create_from_bigwig("a", str(tmp_path / "A" / "sig.bw"), **kw)
    assert not np.array_equal(want[:], other[:])
    np.testing.assert_array_equal(got[:], want[:])


_NESTED = """
import multiprocessing as mp, sys, threading, time
import genozarr, genozarr.ingest
from genozarr.testing.simulate import simulate_bigwig

SIZES = {"chr1": 50_000, "chr2": 50_000}


def build(path, scheduler, **options):
    with genozarr.set_options(scheduler=scheduler, chunk_bytes=4096, progress=False,
                              **options):
        try:
            genozarr.Cover.create_from_bigwig("c", path, genomesize=SIZES, binsize=1000)
            return "ok"
        except Exception as e:
            return f"{type(e).__name__}: {e}"


def child(path):
    print("child:", build(path, "processes", num_workers=2), flush=True)


def slow(x, axis=1):
    time.sleep(0.3)
    return x.sum(axis=axis)


if __name__ == "__main__":
    path = simulate_bigwig(sys.argv[1], SIZES, seed=1)
    # a daemonic process may not start processes: 'auto' (above the threshold) picks
    # threads there, 'processes' says why
    with mp.get_context("spawn").Pool(1) as pool:
        print("daemon auto:", pool.apply(build, (path, "auto"),
                                         {"parallel_threshold_bases": 0}), flush=True)
        print("daemon processes:", pool.apply(build, (path, "processes")), flush=True)
    # a multiprocessing child that built on the kept pool exits (it hung at exit)
    p = mp.get_context("fork").Process(target=child, args=(path,))
    p.start()
    p.join(60)
    print("child exit:", p.exitcode, p.is_alive(), flush=True)
    if p.is_alive():
        p.kill()
    # shutdown_pool() while a build runs in another thread: the build goes on (it died
    # with "RuntimeError: cannot schedule new futures after shutdown")
    out = {}

    def run():
        with genozarr.set_options(scheduler="processes", num_workers=2, progress=False,
                                  chunk_bytes=4096):
            try:
                genozarr.Cover.create_from_bigwig("s", path, genomesize=SIZES, binsize=1000,
                                                  resolution=10, collapser=slow,
                                                  store_whole_genome=True)
                out["r"] = "ok"
            except Exception as e:
                out["r"] = f"{type(e).__name__}: {e}"

    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.0)
    genozarr.ingest.shutdown_pool()
    t.join(120)
    print("shutdown during build:", out.get("r"), flush=True)
"""


def test_builds_in_daemonic_and_child_processes_and_a_pool_shut_down_meanwhile(tmp_path):
    """A build on the processes scheduler inside a daemonic process (a Pool worker, a
    dask.distributed worker) failed with multiprocessing's bare AssertionError; inside a
    multiprocessing child it made the child hang at exit (atexit hooks do not run there:
    its exit joined the kept pool's idle workers); shutdown_pool() while a build ran in
    another thread broke it with a bare RuntimeError."""
    script = tmp_path / "nested.py"
    script.write_text(_NESTED)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "s.bw")],
                          capture_output=True, text=True, timeout=300, check=False)
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert lines.get("daemon auto") == "ok", done.stdout + done.stderr
    assert lines.get("daemon processes", "").startswith(
        "ArgumentError: scheduler='processes' cannot run in a daemonic process"), done.stdout
    assert lines.get("child") == "ok" and lines.get("child exit") == "0 False", done.stdout
    assert lines.get("shutdown during build") == "ok", done.stdout + done.stderr


class _TwoArgumentError(Exception):
    """An exception whose class takes other arguments than its message: unpickling it
    calls it with the message alone, which fails."""

    def __init__(self, track: str, why: str) -> None:
        super().__init__(f"track {track}: {why}")


def _fails_with(kind: str) -> None:
    if kind == "two":
        raise _TwoArgumentError("signal0", "negative coverage")
    if kind == "caused":
        try:
            raise _TwoArgumentError("signal1", "negative coverage")
        except _TwoArgumentError as e:
            raise KeyError("chr9") from e
    if kind == "genozarr":
        from genozarr.errors import InputFileError

        try:
            raise _TwoArgumentError("x.bw", "busy")
        except _TwoArgumentError as e:
            raise InputFileError("cannot read BigWig file x.bw: busy") from e
    raise ValueError("a plain error")


def test_an_exception_that_cannot_be_pickled_comes_back_from_worker_processes():
    """With the processes scheduler, a task raising an exception whose class cannot be
    unpickled (its own __init__ arguments), or whose cause cannot, reached the caller as
    an unrelated TypeError from unpickling ("missing 1 required positional argument"):
    its class and message were lost. It comes back as a RuntimeError naming both; one
    whose cause cannot be pickled comes back as itself (a genozarr error stays one),
    the cause named by a RuntimeError; an exception that pickles comes back as itself."""
    from genozarr.errors import InputFileError
    from genozarr.store._run import run_tasks

    with set_options(scheduler="processes", num_workers=1, progress=False):
        with pytest.raises(RuntimeError, match=r"^test_schedulers\._TwoArgumentError: track "
                                               r"signal0: negative coverage \(raised in a "
                                               r"worker process; it cannot be pickled"):
            run_tasks([(_fails_with, ("two",))], 10**9, "x")
        with pytest.raises(KeyError, match="chr9") as info:  # (its cause named instead)
            run_tasks([(_fails_with, ("caused",))], 10**9, "x")
        assert type(info.value.__cause__) is RuntimeError and str(info.value.__cause__) == (
            "test_schedulers._TwoArgumentError: track signal1: negative coverage (raised in "
            "a worker process; it cannot be pickled, so it is named here)")
        with pytest.raises(InputFileError, match="^cannot read BigWig file x.bw: busy$"):
            run_tasks([(_fails_with, ("genozarr",))], 10**9, "x")  # (except GenozarrError)
        with pytest.raises(ValueError, match="^a plain error$"):
            run_tasks([(_fails_with, ("plain",))], 10**9, "x")
        assert run_tasks([(abs, (-3,))], 10**9, "x") == [3]  # (the pool still serves)


def test_the_work_of_a_build_counts_every_input_file(tmp_path, monkeypatch):
    """``scheduler='auto'`` compares ``parallel_threshold_bases`` ("bases of work") with
    the genome's bases times the input files: it counted the genome's alone, so 8
    BigWigs over a 15 Mb genome (120 Mb to decode) were built in one thread, 2x slower
    than on the process pool (an audit). Whole-genome and partial builds alike."""
    from genozarr.store import _run
    from genozarr.testing.simulate import simulate_bigwig

    sizes = {"chr1": 30_000, "chr2": 20_000}
    files = [str(tmp_path / f"s{i}.bw") for i in range(3)]
    for i, f in enumerate(files):
        simulate_bigwig(f, sizes, seed=i)
    seen = []
    real = _run._scheduler
    monkeypatch.setattr(_run, "_scheduler",
                        lambda work, n: seen.append(work) or real(work, n))
    with set_options(scheduler="sync", progress=False):
        Cover.create_from_bigwig("w", files, genomesize=sizes, binsize=1000,
                                 store_whole_genome=True)
        assert seen[-1] == 50_000 * 3
        Cover.create_from_bigwig("p", files[:2], roi=["chr1:0-4000", "chr2:100-1100"],
                                 binsize=1000)
        assert seen[-1] == 5_000 * 2
        Cover.create_from_bigwig("one", files[0], genomesize=sizes, binsize=1000,
                                 store_whole_genome=True)
        assert seen[-1] == 50_000
    with set_options(scheduler="auto", parallel_threshold_bases=120_000):
        assert _run._scheduler(50_000 * 3, 4)[0] == "processes"  # (the work above)
        assert _run._scheduler(50_000, 4)[0] == "sync"
