"""Benchmark inputs, generated once with a fixed seed and cached on disk.

The full corpus is a 50 Mb genome (FASTA + .fai), a single-end BAM of 2 M reads with bases
from the genome, 4 BigWigs (even index: 1 bp bedGraph runs; odd: fixed 50 bp steps) and a
BED of 50k peaks, and 2 *sparse* BigWigs (``bigwigs_sparse``: signal in peaks only, ~5 % of
the genome covered, no data elsewhere; bedGraph runs inside the peaks of 10 bp on average in
the first, as a peak caller's pileup track, of 50 bp in the second, as a binned track).
Chromosome sizes are 20 %, 30 %, 25 % and 25 % of the genome so that the
first chromosome alone is 20 % of the genome and the first two 50 % (the 10, 25 and 50 Mb
genomes of the peak-memory rows reuse the same files with ``genomesize``).

The cache directory is ``$GENOZARR_BENCH_DATA`` (default ``/tmp/genozarr_bench``); each
corpus lives in a sub-directory named after its sizes and seed, completed by a marker file,
so a second run reuses it.

Run ``python benchmarks/_data.py [--quick]`` to generate and print the paths.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SEED = 20240501
FULL = {"genome_mb": 50.0, "n_reads": 2_000_000, "n_bigwigs": 4, "n_peaks": 50_000}
QUICK = {"genome_mb": 10.0, "n_reads": 400_000, "n_bigwigs": 4, "n_peaks": 10_000}
_FRACTIONS = (0.2, 0.3, 0.25, 0.25)
#: the sparse BigWigs of a corpus: mean run length (bp) inside the peaks, one file each;
#: the fraction of the genome their peaks cover
SPARSE_RUNS = (10.0, 50.0)
N_SPARSE = len(SPARSE_RUNS)
SPARSE_COVERED = 0.05


def cache_root() -> Path:
    """Directory holding the generated corpora."""
    return Path(os.environ.get("GENOZARR_BENCH_DATA", "/tmp/genozarr_bench"))


def chrom_sizes(genome_mb: float) -> dict[str, int]:
    """Chromosome sizes of a genome of ``genome_mb`` megabases."""
    total = int(genome_mb * 1_000_000)
    sizes = [int(total * f) for f in _FRACTIONS]
    sizes[-1] += total - sum(sizes)
    return {f"chr{i + 1}": s for i, s in enumerate(sizes)}


def genome_subsets(sizes: dict[str, int]) -> dict[str, dict[str, int]]:
    """Nested genomes of 20 %, 50 % and 100 % of ``sizes`` (first 1, 2 and 4 chromosomes)."""
    names = list(sizes)
    out = {}
    for k in (1, 2, len(names)):
        sub = {c: sizes[c] for c in names[:k]}
        out[f"{sum(sub.values()) / 1e6:g}"] = sub
    return out


def large_fasta(genome_mb: float) -> dict:
    """Generate (or reuse) a FASTA of ``genome_mb`` megabases alone (no reads or tracks),
    for the FASTA rows at a size where fixed per-store costs no longer weigh; returns the
    same keys as :func:`corpus` for it (``fasta``, ``chrom_sizes``, ``genome_bases``)."""
    from genozarr.testing.simulate import simulate_genome

    sizes = chrom_sizes(genome_mb)
    d = cache_root() / f"fasta{genome_mb:g}mb_s{SEED}"
    path = d / "genome.fa"
    if not (d / "COMPLETE").is_file():
        d.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        simulate_genome(str(path), sizes, seed=SEED)
        (d / "COMPLETE").write_text("\n")
        print(f"[data] generated {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return {"fasta": str(path), "chrom_sizes": sizes, "genome_bases": sum(sizes.values())}


def corpus(quick: bool = False, **overrides: float) -> dict:
    """Generate (or reuse) the benchmark inputs and return their paths.

    Returns a dict with keys ``dir``, ``fasta``, ``bam``, ``bigwigs`` (list), ``bigwigs_1bp``,
    ``bigwigs_50bp``, ``bigwigs_sparse``, ``peaks``, ``chrom_sizes`` (dict), ``n_reads``,
    ``genome_bases``.
    """
    from genozarr.testing.simulate import (
        simulate_bam,
        simulate_bed,
        simulate_bigwig,
        simulate_genome,
        write_chrom_sizes,
    )

    params = dict(QUICK if quick else FULL)
    params.update(overrides)
    sizes = chrom_sizes(params["genome_mb"])
    tag = (f"g{params['genome_mb']:g}mb_r{int(params['n_reads'])}_bw{int(params['n_bigwigs'])}"
           f"_p{int(params['n_peaks'])}_s{SEED}")
    d = cache_root() / tag
    done = d / "COMPLETE"
    bigwigs = [str(d / f"signal{i}.bw") for i in range(int(params["n_bigwigs"]))]
    paths = {
        "dir": str(d), "fasta": str(d / "genome.fa"), "bam": str(d / "reads.bam"),
        "bigwigs": bigwigs, "bigwigs_1bp": bigwigs[0::2], "bigwigs_50bp": bigwigs[1::2],
        "peaks": str(d / "peaks.bed"), "chrom_sizes_file": str(d / "chrom.sizes"),
        "chrom_sizes": sizes, "n_reads": int(params["n_reads"]),
        "genome_bases": sum(sizes.values()),
        "bigwigs_sparse": [str(d / f"sparse{i}.bw") for i in range(N_SPARSE)],
    }
    if done.is_file():
        _sparse_corpus(paths)  # added later than the rest: made once, beside a finished corpus
        return paths
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write_chrom_sizes(paths["chrom_sizes_file"], sizes)
    simulate_genome(paths["fasta"], sizes, seed=SEED)
    simulate_bam(paths["bam"], sizes, int(params["n_reads"]), seed=SEED + 1,
                 reference=paths["fasta"])
    for i, bw in enumerate(bigwigs):
        if i % 2 == 0:
            simulate_bigwig(bw, sizes, seed=SEED + 10 + i, kind="bedgraph")
        else:
            simulate_bigwig(bw, sizes, seed=SEED + 10 + i, kind="fixed", step=50)
    simulate_bed(paths["peaks"], sizes, int(params["n_peaks"]), seed=SEED + 2)
    _sparse_corpus(paths)
    done.write_text(json.dumps({k: v for k, v in params.items()}) + "\n")
    print(f"[data] generated {d} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return paths


def write_sparse_bigwig(path: str, sizes: dict[str, int], seed: int,
                        covered: float = SPARSE_COVERED, width: tuple[int, int] = (200, 3000),
                        mean_run: float = 10.0) -> int:
    """Write a sparse BigWig: signal in peaks only, no data elsewhere.

    Peaks of uniform random width in ``width`` are placed at random, non-overlapping, with
    ``covered`` x the chromosome length covered in expectation; inside a peak the signal is
    bedGraph runs of geometric length (mean ``mean_run`` bp), values gamma(2, 2) plus a
    peak height, rounded to 1/1000. Written with pyBigWig's ``addEntries`` (bedGraph
    entries). Returns the number of entries.
    """
    import numpy as np
    import pyBigWig

    rng = np.random.default_rng(seed)
    bw = pyBigWig.open(path, "w")
    n_entries = 0
    try:
        bw.addHeader(list(sizes.items()), maxZooms=10)
        for chrom, size in sizes.items():
            mean_w = (width[0] + width[1]) / 2
            n = max(1, int(size * covered / mean_w))
            starts = np.sort(rng.integers(0, size - width[1], n))
            ends = starts + rng.integers(width[0], width[1] + 1, n)
            keep = np.ones(n, dtype=bool)  # drop a peak overlapping the one kept before it
            last = -1
            for k in range(n):
                if starts[k] < last:
                    keep[k] = False
                else:
                    last = ends[k]
            starts, ends = starts[keep], ends[keep]
            # cut every peak into runs: run boundaries at geometric steps inside the peak
            lengths = ends - starts
            total = int(lengths.sum())
            cuts = np.cumsum(rng.geometric(1.0 / mean_run, int(total / mean_run * 1.3) + 16))
            cuts = cuts[cuts < total]
            offsets = np.concatenate([[0], np.cumsum(lengths)])  # peaks on a covered axis
            bounds = np.union1d(cuts, offsets)  # run starts on the covered axis, + end
            run_s, run_e = bounds[:-1], bounds[1:]
            peak = np.searchsorted(offsets, run_s, side="right") - 1
            genome_s = starts[peak] + (run_s - offsets[peak])
            genome_e = genome_s + (run_e - run_s)
            height = rng.gamma(2.0, 10.0, starts.size)[peak]
            vals = np.round(np.minimum(rng.gamma(2.0, 2.0, run_s.size) + height, 1000.0), 3)
            bw.addEntries([chrom] * run_s.size, genome_s.astype(np.int64),
                          ends=genome_e.astype(np.int64), values=vals.astype(np.float64))
            n_entries += int(run_s.size)
    finally:
        bw.close()
    return n_entries


def _sparse_corpus(paths: dict) -> None:
    """Make the sparse BigWigs of ``paths`` once (their own completion marker)."""
    marker = Path(paths["dir"]) / "SPARSE_COMPLETE"
    stamp = f"covered={SPARSE_COVERED} runs={SPARSE_RUNS}\n"
    if marker.is_file() and marker.read_text() == stamp:
        return
    for i, (f, run) in enumerate(zip(paths["bigwigs_sparse"], SPARSE_RUNS)):
        write_sparse_bigwig(f, paths["chrom_sizes"], seed=SEED + 30 + i, mean_run=run)
    marker.write_text(stamp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus (10 Mb, 400k reads)")
    args = parser.parse_args()
    print(json.dumps(corpus(args.quick), indent=1))


if __name__ == "__main__":
    main()


# ------------------------------------------------------------------ shared harness
def run_case(script: str, case: str, *args: str, timeout: float = 600) -> dict:
    """Run ``python script --case case args`` in a fresh process; return its JSON result
    with ``peak_rss_mb`` added (the largest resident set of that process or any process it
    reaped, e.g. ingest workers, from ``wait4``)."""
    import subprocess

    cmd = [sys.executable, script, "--case", case, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return {"error": f"timed out after {timeout} s"}
    # communicate() has reaped the child; its rusage is in RUSAGE_CHILDREN only as a max, so
    # the case also reports its own peak (ru_maxrss of itself and its reaped children)
    if proc.returncode != 0:
        return {"error": (err.strip().splitlines() or ["failed"])[-1][:200]}
    line = [ln for ln in out.splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process in MB, from
    ``/proc/self/status``. ``ru_maxrss`` is not used: Linux carries the parent's peak over
    fork + exec into the child."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


_PEAK = [0]


def start_rss_sampler(interval: float = 0.02) -> None:
    """Sample, every ``interval`` s in a daemon thread, the summed RSS of this process and
    all its descendants (ingest workers, fork servers); :func:`report` reports the peak."""
    import threading

    import psutil

    me = psutil.Process()

    def loop() -> None:
        while True:
            total = 0
            try:
                procs = [me, *me.children(recursive=True)]
            except psutil.Error:
                procs = [me]
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            _PEAK[0] = max(_PEAK[0], total)
            time.sleep(interval)

    threading.Thread(target=loop, daemon=True).start()


def report(result: dict) -> None:
    """Print a case's JSON result for :func:`run_case`, with ``peak_rss_mb``: the peak of
    the summed RSS of the process tree (sampled), or the largest single process's peak
    from ``getrusage`` if that is higher."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    result["peak_rss_mb"] = round(max(own, kids, _PEAK[0]) / 2**20, 1)
    print(json.dumps(result), flush=True)


def timed(fn, repeat: int = 3, setup=None) -> float:
    """Median wall time of ``fn()`` over ``repeat`` calls after one untimed warm-up call.

    The warm-up pays what a session pays once (lazy imports, the ingest fork server
    start, the page cache filling with the input files). ``setup()``, when given, runs
    untimed before every call (removing the output of the previous one: deleting a
    store is not part of building one, and the baselines delete nothing)."""
    import statistics

    if setup is not None:
        setup()
    fn()
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timed_alternating(fns: dict, repeat: int = 3) -> dict:
    """Median wall time of each of ``fns`` (``{name: fn}``) over ``repeat`` rounds that
    call every one of them in turn, after one untimed warm-up call each.

    For short workloads compared with each other on a machine whose speed drifts: a
    ratio of two medians measured in alternation does not take the drift between two
    separate series of runs."""
    import statistics

    for fn in fns.values():
        fn()
    times: dict = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def row(workload: str, value: float | None, unit: str, baseline: str = "",
        base_value: float | None = None, ratio: float | None = None, target: str = "",
        note: str = "", rss_mb: float | None = None) -> dict:
    """One line of a benchmark table."""
    return {"workload": workload, "value": value, "unit": unit, "baseline": baseline,
            "baseline_value": base_value, "ratio": ratio, "target": target, "note": note,
            "peak_rss_mb": rss_mb}


def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def format_table(rows: list[dict]) -> str:
    """Rows as a Markdown table."""
    head = "| workload | genozarr | baseline (same run) | ratio | target | peak RSS | note |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        val = f"{_fmt(r['value'])} {r['unit']}" if r["value"] is not None else "-"
        base = r["baseline"]
        if r.get("baseline_value") is not None:
            base = f"{base}: {_fmt(r['baseline_value'])}"
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") is not None else "-"
        rss = f"{r['peak_rss_mb']:.0f} MB" if r.get("peak_rss_mb") else "-"
        lines.append(f"| {r['workload']} | {val} | {base} | {ratio} | {r['target']} | {rss} "
                     f"| {r['note']} |")
    return "\n".join(lines)


def emit(rows: list[dict], json_path: str | None) -> None:
    """Print the table; write the rows as JSON when asked (for ``run.py``)."""
    print(format_table(rows), flush=True)
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1))


def script_main(description: str, quick_help: str, cases: dict, measure) -> None:
    """The command line shared by the benchmark scripts: ``--quick``/``--json`` measure and
    print the table; the hidden ``--case NAME --params JSON`` runs one case in this process
    (how :func:`run_case` starts every measurement in a fresh process)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--case", choices=sorted(cases), help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        start_rss_sampler()
        report(cases[args.case](json.loads(args.params)))
        return
    t = time.perf_counter()
    emit(measure(args.quick), args.json)
    print(f"({description}: {time.perf_counter() - t:.0f} s)", file=sys.stderr)
