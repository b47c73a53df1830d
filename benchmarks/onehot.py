"""FASTA -> store and one-hot batches from a zarr store, beside numpy in memory.

Rows (the performance targets, see benchmarks/README.md):

- FASTA -> whole-genome uint8 store (``Bioseq.create_from_refgenome``, zarr, 2 worker
  processes), in Mb/s, beside reading the same FASTA with ``pysam.FastaFile.fetch`` and
  encoding it with a 256-entry numpy table in one process, 1 Mb at a time; on the corpus's genome and on a
  400 Mb one (generated once, FASTA only), where the fixed cost of creating a store (its
  metadata, recorded windows, flush and publication: about 0.1 s) no longer weighs.
  Target >= 1.0x.
- One-hot batches: 1 kb windows tiling the genome, batches of 64 read in order with
  ``bioseq[a:b]`` from the zarr store on disk, in Mb/s of sequence, beside a plain numpy
  lookup-table encode (``np.take`` on a (256, 4) float32 table into a reused buffer) of the
  same bytes held in memory. Target >= 0.7x. Beside it, the same windows block-shuffled
  with ``genozarr.batches`` against numpy gathering their bytes in the same order. Each
  pair is timed in alternation (:data:`BATCH_ROUNDS` passes of each, medians).

Usage: ``python benchmarks/onehot.py [--quick] [--json rows.json]``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data  # noqa: E402

SCRIPT = os.path.abspath(__file__)
BATCH = 64
WINDOW = 1000
#: bases the raw FASTA baseline fetches and encodes at a time (whole chromosomes, the
#: baseline of earlier rounds, ran 4x slower: large strings and arrays miss the caches)
RAW_BLOCK = 1 << 20
#: rounds of the one-hot batch rows (genozarr and numpy in turn; a pass is tens of ms)
BATCH_ROUNDS = 9
#: genome of the second FASTA row, where the fixed cost of creating a store no longer weighs
LARGE_MB = 400


def _max_windows(quick: bool) -> int:
    return 4_000 if quick else 20_000


def _fasta(p: dict) -> dict:
    """The corpus's FASTA, or the larger one of ``p['fasta_mb']`` megabases."""
    return _data.large_fasta(p["fasta_mb"]) if p.get("fasta_mb") else _data.corpus(p["quick"])


def case_fasta_raw(p: dict) -> dict:
    import pysam

    c = _fasta(p)
    table = np.full(256, 4, dtype=np.uint8)
    for i, b in enumerate(b"ACGT"):
        table[b] = table[b + 32] = i

    def run() -> None:  # 1 Mb at a time: 4x faster than whole chromosomes here
        with pysam.FastaFile(c["fasta"]) as fa:
            for chrom, size in c["chrom_sizes"].items():
                for lo in range(0, size, RAW_BLOCK):
                    seq = fa.fetch(chrom, lo, min(lo + RAW_BLOCK, size))
                    table.take(np.frombuffer(seq.encode("ascii"), np.uint8))

    return {"seconds": _data.timed(run, p["repeat"]), "work": c["genome_bases"]}


def case_fasta_store(p: dict) -> dict:
    import genozarr
    from genozarr import Bioseq

    c = _fasta(p)
    genozarr.set_options(scheduler="processes", num_workers=p.get("workers", 2),
                         progress=False)
    tmp = tempfile.mkdtemp(prefix="gzbench_")

    out = os.path.join(tmp, "dna.zarr")

    def run() -> None:
        Bioseq.create_from_refgenome("dna", c["fasta"], binsize=WINDOW, storage="zarr",
                                     store=out, store_whole_genome=True)

    try:
        sec = _data.timed(run, p["repeat"], setup=lambda: shutil.rmtree(out, ignore_errors=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": sec, "work": c["genome_bases"]}


def case_batches(p: dict) -> dict:
    import genozarr
    import pysam
    from genozarr import Bioseq, batches
    from genozarr.batching import batch_plan

    c = _data.corpus(p["quick"])
    # every repeat decodes from the store: it is not kept decoded in memory after the first
    genozarr.set_options(scheduler="processes", num_workers=2, progress=False,
                         memory_cache_bytes=0)
    tmp = tempfile.mkdtemp(prefix="gzbench_")
    try:
        ds = Bioseq.create_from_refgenome("dna", c["fasta"], binsize=WINDOW, storage="zarr",
                                          store=os.path.join(tmp, "dna.zarr"),
                                          store_whole_genome=True)
        n = min(len(ds), _max_windows(p["quick"]))
        # the same windows' bytes in memory, for the numpy baseline
        with pysam.FastaFile(c["fasta"]) as fa:
            chrs, starts = ds.gindexer.chrs[:n], ds.gindexer.starts[:n]
            seqs = {ch: np.frombuffer(fa.fetch(ch).encode("ascii"), np.uint8)
                    for ch in np.unique(chrs)}
        raw = np.stack([seqs[ch][s:s + WINDOW] for ch, s in zip(chrs, starts)])
        table = np.zeros((256, 4), dtype=np.float32)
        for i, b in enumerate(b"ACGT"):
            table[b, i] = table[b + 32, i] = 1
        buf = np.empty((BATCH, WINDOW, 4), dtype=np.float32)

        def numpy_run() -> None:
            for a in range(0, n - BATCH + 1, BATCH):
                np.take(table, raw[a:a + BATCH], axis=0, out=buf, mode="clip")

        def genozarr_run() -> None:
            for a in range(0, n - BATCH + 1, BATCH):
                ds[a:a + BATCH]

        # block-shuffled: genozarr.batches, beside numpy gathering the same windows' bytes
        # in the same order and encoding them
        first = ds.subset(np.arange(n))
        plan = batch_plan(n, BATCH, shuffle=True, seed=0, drop_last=True,
                          block_size=first.chunk_rows)

        def numpy_shuffled() -> None:
            for idx in plan:
                np.take(table, raw[idx], axis=0, out=buf, mode="clip")

        def genozarr_shuffled() -> None:
            for _ in batches(first, batch_size=BATCH, shuffle=True, seed=0, drop_last=True):
                pass

        ds[0:BATCH]  # open the arrays
        work = (n // BATCH) * BATCH * WINDOW
        # a pass takes tens of ms: genozarr and numpy alternate, pass by pass, so that the
        # machine's drift between two series of passes does not enter the ratio
        rounds = max(BATCH_ROUNDS, p["repeat"])
        in_order = _data.timed_alternating({"gz": genozarr_run, "np": numpy_run}, rounds)
        shuffled = _data.timed_alternating({"gz": genozarr_shuffled, "np": numpy_shuffled},
                                           rounds)
        return {"seconds": in_order["gz"], "work": work, "base_seconds": in_order["np"],
                "shuffled_seconds": shuffled["gz"], "shuffled_base_seconds": shuffled["np"],
                "shape": list(ds[0:BATCH].shape)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


CASES = {"fasta_raw": case_fasta_raw, "fasta_store": case_fasta_store,
         "batches": case_batches}


def _run(case: str, **params: object) -> dict:
    return _data.run_case(SCRIPT, case, "--params", json.dumps(params))


def measure(quick: bool) -> list[dict]:
    """Run the one-hot measurements; return the table rows."""
    c = _data.corpus(quick)
    rep = 1 if quick else 3
    rows = []
    for mb in [None] if quick else [None, LARGE_MB]:  # None: the corpus's FASTA
        raw = _run("fasta_raw", quick=quick, repeat=rep, fasta_mb=mb)
        store = _run("fasta_store", quick=quick, repeat=rep, fasta_mb=mb)
        r_raw = raw["work"] / raw["seconds"] / 1e6 if "seconds" in raw else None
        r_st = store["work"] / store["seconds"] / 1e6 if "seconds" in store else None
        size = f"{(mb or c['genome_bases'] / 1e6):g} Mb genome"
        rows.append(_data.row(f"FASTA -> whole-genome uint8 zarr store, {size}", r_st, "Mb/s",
                              "pysam fetch + numpy table encode, 1 Mb blocks, 1 process", r_raw,
                              r_st / r_raw if r_st and r_raw else None, ">= 1.0x",
                              store.get("error", "2 worker processes"),
                              store.get("peak_rss_mb")))
    b = _run("batches", quick=quick, repeat=rep)
    if "seconds" in b:
        r_gz = b["work"] / b["seconds"] / 1e6
        r_np = b["work"] / b["base_seconds"] / 1e6
        rows.append(_data.row(f"one-hot batches {BATCH} x 1 kb from zarr (in order)", r_gz,
                              "Mb/s", "numpy LUT encode of the same bytes in memory", r_np,
                              r_gz / r_np, ">= 0.7x", f"batch shape {tuple(b['shape'])}",
                              b.get("peak_rss_mb")))
        r_gz = b["work"] / b["shuffled_seconds"] / 1e6
        r_np = b["work"] / b["shuffled_base_seconds"] / 1e6
        rows.append(_data.row("  same, block-shuffled (genozarr.batches)", r_gz, "Mb/s",
                              "numpy: the same windows' bytes gathered and encoded", r_np,
                              r_gz / r_np, "(reference)", "decoded chunks cached after the "
                              "first epoch", b.get("peak_rss_mb")))
    else:
        rows.append(_data.row("one-hot batches from zarr", None, "Mb/s", "", None, None,
                              ">= 0.7x", b.get("error", ""), None))
    return rows


def main() -> None:
    _data.script_main("one-hot benchmark", "10 Mb genome, 1 repeat", CASES, measure)


if __name__ == "__main__":
    main()
