"""Personal genomes: ``PersonalBioseq`` windows beside a plain pysam + numpy loop.

Inputs (generated once, cached): a random genome (``genozarr.testing.simulate``) and a
phased, bgzip-compressed and tabix-indexed VCF of 100 samples: SNV sites at 1 per 100 bp
on average, each ALT allele on a haplotype with probability 0.05, so that every sample
carries about one SNV per kb. Windows tile the genome at binsize 1000; a personal window
is one (window, sample, haplotype): 200 per window.

Rows, in personal windows/s, each beside the loop a user would write, in the same
process: for each window, ``pysam.FastaFile.fetch`` of the window, a 256-entry numpy
code table, ``pysam.VariantFile.fetch`` of the window's records (``subset_samples`` to the
100 samples) and their genotypes (``allele_indices`` per sample), the ALT bases written
into a ``(200, 1000)`` copy of the window, and each haplotype one-hot encoded with
``np.take`` into reused ``(128, 1000, 1, 4)`` float32 batch buffers. Target >= 1.0x.

- serving: one pass of ``genozarr.batches(ds, batch_size=128)`` over a
  ``PersonalBioseq`` zarr store (built beforehand, not timed);
- build + serving: the same after building the store (2 worker processes), both timed.

Both loops run in the same process, in turn, each timed as the median of ``repeat``
passes after a warm-up pass; the first windows are checked to be equal.

Usage: ``python benchmarks/personal.py [--quick] [--json rows.json]``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data  # noqa: E402

SCRIPT = os.path.abspath(__file__)
BINSIZE = 1000
BATCH = 128
N_SAMPLES = 100
SITE_RATE = 0.01      # SNV sites per base
ALT_FREQ = 0.05       # chance that a haplotype carries a site's ALT allele
FULL = {"genome_mb": 2.0, "repeat": 3}
QUICK = {"genome_mb": 0.5, "repeat": 1}


def personal_corpus(quick: bool) -> dict:
    """The generated genome (FASTA) and phased VCF (bgzip + tabix); cached on disk."""
    import pysam

    from genozarr.testing.simulate import simulate_genome

    params = QUICK if quick else FULL
    sizes = _data.chrom_sizes(params["genome_mb"])
    d = _data.cache_root() / (f"personal_g{params['genome_mb']:g}mb_s{N_SAMPLES}"
                              f"_r{SITE_RATE:g}_f{ALT_FREQ:g}_{_data.SEED}")
    samples = [f"P{i:03d}" for i in range(N_SAMPLES)]
    paths = {"dir": str(d), "fasta": str(d / "genome.fa"), "vcf": str(d / "calls.vcf.gz"),
             "samples": samples, "chrom_sizes": sizes}
    if (d / "COMPLETE").is_file():
        return paths
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    simulate_genome(paths["fasta"], sizes, seed=_data.SEED)
    rng = np.random.default_rng(_data.SEED + 200)
    n_sites = 0
    plain = str(d / "calls.vcf")
    with open(plain, "w") as fh, pysam.FastaFile(paths["fasta"]) as fa:
        fh.write("##fileformat=VCFv4.2\n")
        fh.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        for c, n in sizes.items():
            fh.write(f"##contig=<ID={c},length={n}>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
                 + "\t".join(samples) + "\n")
        for chrom, size in sizes.items():
            seq = np.frombuffer(fa.fetch(chrom).upper().encode("ascii"), dtype=np.uint8)
            ok = np.flatnonzero(np.isin(seq, np.frombuffer(b"ACGT", np.uint8)))
            pos0 = np.sort(rng.choice(ok, size=int(size * SITE_RATE), replace=False))
            carry = rng.random((len(pos0), N_SAMPLES, 2)) < ALT_FREQ
            # GT columns as bytes: 'a|b\t' per sample, the last tab replaced by a newline
            gt = np.empty((len(pos0), N_SAMPLES, 4), dtype=np.uint8)
            gt[..., 0] = np.where(carry[..., 0], ord("1"), ord("0"))
            gt[..., 1] = ord("|")
            gt[..., 2] = np.where(carry[..., 1], ord("1"), ord("0"))
            gt[..., 3] = ord("\t")
            gt[:, -1, 3] = ord("\n")
            shift = rng.integers(1, 4, size=len(pos0))
            for k, p in enumerate(pos0.tolist()):
                ref = chr(seq[p])
                alt = "ACGT"[("ACGT".index(ref) + int(shift[k])) % 4]
                fh.write(f"{chrom}\t{p + 1}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t")
                fh.write(gt[k].tobytes().decode("ascii"))
            n_sites += len(pos0)
    pysam.tabix_index(plain, preset="vcf", force=True)  # bgzip to calls.vcf.gz + .tbi
    (d / "COMPLETE").write_text(json.dumps({**params, "sites": n_sites}) + "\n")
    print(f"[data] generated {d} ({n_sites} sites) in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    return paths


def windows_of(sizes: dict) -> list[tuple[str, int, int]]:
    from genozarr import GenomicIndexer

    gi = GenomicIndexer.create_from_genome(sizes, BINSIZE)
    return list(zip(gi.chrs.astype(str).tolist(), gi.starts.tolist(), gi.ends.tolist()))


def baseline_codes(fa, vf, code: np.ndarray, chrom: str, start: int, end: int,
                   size: int) -> np.ndarray:
    """The loop's personal windows of one window: ``(2 * n_samples, BINSIZE)`` codes."""
    codes = np.full(BINSIZE, 4, dtype=np.uint8)
    hi = min(end, size)
    codes[:hi - start] = code.take(np.frombuffer(fa.fetch(chrom, start, hi).encode("ascii"),
                                                 np.uint8))
    haps = np.repeat(codes[None], 2 * N_SAMPLES, axis=0)
    for rec in vf.fetch(chrom, start, end):
        calls = np.array([s.allele_indices for s in rec.samples.values()], dtype=np.int8)
        carriers = np.flatnonzero(calls.reshape(-1) == 1)
        haps[carriers, rec.start - start] = code[ord(rec.alts[0])]
    return haps


def baseline_loop(c: dict, windows: list) -> int:
    """The plain loop: pysam fetches and genotypes, numpy tables, reused batch buffers."""
    import pysam

    code = np.full(256, 4, dtype=np.uint8)
    for i, b in enumerate(b"ACGT"):
        code[b] = code[b + 32] = i
    table = np.zeros((5, 4), dtype=np.float32)
    table[np.arange(4), np.arange(4)] = 1
    buf = np.empty((BATCH, BINSIZE, 1, 4), dtype=np.float32)
    sizes = c["chrom_sizes"]
    n = filled = 0
    with pysam.FastaFile(c["fasta"]) as fa, pysam.VariantFile(c["vcf"]) as vf:
        vf.subset_samples(c["samples"])
        for chrom, start, end in windows:
            haps = baseline_codes(fa, vf, code, chrom, start, end, sizes[chrom])
            for h in range(len(haps)):
                np.take(table, haps[h], axis=0, out=buf[filled, :, 0], mode="clip")
                filled += 1
                n += 1
                if filled == BATCH:  # a batch is ready for the model
                    filled = 0
    return n


def build(c: dict, path: str):  # noqa: ANN201
    import warnings

    from genozarr.errors import SkippedCallsWarning
    from genozarr.personal import create_personal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedCallsWarning)
        return create_personal("personal", c["fasta"], binsize=BINSIZE, storage="zarr",
                               store=path, variants=c["vcf"], samples=c["samples"])


def serve(ds) -> int:  # noqa: ANN001
    import genozarr

    n = 0
    for (x,) in genozarr.batches(ds, batch_size=BATCH):
        n += len(x)
    return n


def check(c: dict, ds, windows: list, k: int = 3) -> None:  # noqa: ANN001
    """The first windows of both loops are the same sequences."""
    import pysam

    code = np.full(256, 4, dtype=np.uint8)
    for i, b in enumerate(b"ACGT"):
        code[b] = code[b + 32] = i
    with pysam.FastaFile(c["fasta"]) as fa, pysam.VariantFile(c["vcf"]) as vf:
        vf.subset_samples(c["samples"])
        for w, (chrom, start, end) in enumerate(windows[:k]):
            want = baseline_codes(fa, vf, code, chrom, start, end, c["chrom_sizes"][chrom])
            per = ds.items_per_window
            got = ds.read_genomic(np.arange(w * per, (w + 1) * per))[:, :, 0, 0]
            assert np.array_equal(got, want), f"window {w} differs"


def _setup() -> None:
    import genozarr

    genozarr.set_options(scheduler="processes", num_workers=2, progress=False)


def case_serve(p: dict) -> dict:
    _setup()
    c = personal_corpus(p["quick"])
    windows = windows_of(c["chrom_sizes"])
    tmp = tempfile.mkdtemp(prefix="gzbench_")
    try:
        ds = build(c, os.path.join(tmp, "personal.zarr"))
        check(c, ds, windows)
        counts = {}

        def base() -> None:
            counts["base"] = baseline_loop(c, windows)

        def gz() -> None:
            counts["gz"] = serve(ds)

        sec = _data.timed_alternating({"base": base, "gz": gz}, p["repeat"])
        assert counts["base"] == counts["gz"] == len(ds), (counts, len(ds))
        return {"seconds": sec["gz"], "base_seconds": sec["base"], "work": counts["gz"]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def case_build(p: dict) -> dict:
    _setup()
    c = personal_corpus(p["quick"])
    windows = windows_of(c["chrom_sizes"])
    tmp = tempfile.mkdtemp(prefix="gzbench_")
    try:
        counts = {}
        runs = iter(range(1000))

        def base() -> None:
            counts["base"] = baseline_loop(c, windows)

        def gz() -> None:  # a new store each time, as a first build (no old one removed)
            ds = build(c, os.path.join(tmp, f"personal{next(runs)}.zarr"))
            counts["gz"] = serve(ds)

        sec = _data.timed_alternating({"base": base, "gz": gz}, p["repeat"])
        assert counts["base"] == counts["gz"], counts
        return {"seconds": sec["gz"], "base_seconds": sec["base"], "work": counts["gz"]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


CASES = {"serve": case_serve, "build": case_build}


def measure(quick: bool) -> list[dict]:
    """Run the personal-genome measurements; return the table rows."""
    c = personal_corpus(quick)
    params = QUICK if quick else FULL
    n_windows = len(windows_of(c["chrom_sizes"]))
    rows = []
    labels = {"serve": "serving from the zarr store",
              "build": "build (2 worker processes) + serving"}
    for case, label in labels.items():
        r = _data.run_case(SCRIPT, case, "--params",
                           json.dumps({"quick": quick, "repeat": params["repeat"]}),
                           timeout=1800)
        workload = (f"PersonalBioseq, {label}: {n_windows:,} windows x {N_SAMPLES} samples x "
                    f"2 haplotypes, binsize {BINSIZE}, batches of {BATCH} one-hot")
        baseline = ("pysam FastaFile.fetch + VariantFile.fetch genotypes + numpy one-hot "
                    "loop")
        note = (f"{params['genome_mb']:g} Mb generated genome, ~1 SNV/kb per sample "
                f"(sites 1/{1 / SITE_RATE:g} bp, ALT frequency {ALT_FREQ:g})")
        if "seconds" in r:
            v_gz = r["work"] / r["seconds"]
            v_base = r["work"] / r["base_seconds"]
            rows.append(_data.row(workload, v_gz, "windows/s", baseline, v_base,
                                  v_gz / v_base, ">= 1.0x", note, r.get("peak_rss_mb")))
        else:
            rows.append(_data.row(workload, None, "windows/s", baseline, None, None,
                                  ">= 1.0x", r.get("error", ""), None))
    return rows


def main() -> None:
    _data.script_main("personal genome windows benchmark",
                      "0.5 Mb genome, 1 repeat", CASES, measure)


if __name__ == "__main__":
    main()
