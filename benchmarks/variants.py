"""Variant effect windows: ``VariantStreamer`` beside a plain pysam + numpy loop.

Rows:

- ``VariantStreamer`` over 10^5 SNVs (a VCF of random SNVs on a generated 50 Mb genome),
  binsize 1000, batches of 128 reference and alternative one-hot windows (float32), the
  genome read from the FASTA file; in variants/s, beside the loop a user would write: for
  each ``pysam.VariantFile`` record, ``pysam.FastaFile.fetch`` of the window, a 256-entry
  numpy code table, the REF base checked, the ALT base written, both windows one-hot
  encoded with ``np.take`` into reused ``(128, 1000, 1, 4)`` float32 batch buffers.
  Target >= 1.0x.
- The same with the genome read from a whole-genome ``Bioseq`` zarr store.

Both loops run in the same process, in turn (a pass of one, then a pass of the other),
each timed as the median of 5 passes after a warm-up pass.

Usage: ``python benchmarks/variants.py [--quick] [--json rows.json]``.
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
FULL = {"genome_mb": 50.0, "n_variants": 100_000}
QUICK = {"genome_mb": 10.0, "n_variants": 20_000}


def variant_corpus(quick: bool) -> dict:
    """A generated genome (FASTA) and a sorted VCF of random SNVs whose REF bases match it
    (none in N runs, every window inside its chromosome); generated once and cached."""
    from genozarr.testing.simulate import simulate_genome

    params = QUICK if quick else FULL
    sizes = _data.chrom_sizes(params["genome_mb"])
    n = int(params["n_variants"])
    d = _data.cache_root() / f"variants_g{params['genome_mb']:g}mb_n{n}_s{_data.SEED}"
    paths = {"dir": str(d), "fasta": str(d / "genome.fa"), "vcf": str(d / "snvs.vcf"),
             "n_variants": n, "chrom_sizes": sizes}
    if (d / "COMPLETE").is_file():
        return paths
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    simulate_genome(paths["fasta"], sizes, seed=_data.SEED)
    rng = np.random.default_rng(_data.SEED + 100)
    import pysam

    names = list(sizes)
    weights = np.array([sizes[c] for c in names], dtype=float)
    per_chrom = rng.multinomial(n, weights / weights.sum())
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length={sizes[c]}>" for c in names]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    with pysam.FastaFile(paths["fasta"]) as fa:
        for chrom, k in zip(names, per_chrom):
            seq = np.frombuffer(fa.fetch(chrom).upper().encode("ascii"), dtype=np.uint8)
            ok = np.isin(seq, np.frombuffer(b"ACGT", np.uint8))
            ok[:BINSIZE] = ok[-BINSIZE:] = False
            pos0 = np.sort(rng.choice(np.flatnonzero(ok), size=k, replace=False))
            shift = rng.integers(1, 4, size=k)
            for i, (p, s) in enumerate(zip(pos0.tolist(), shift.tolist())):
                ref = chr(seq[p])
                alt = "ACGT"[("ACGT".index(ref) + s) % 4]
                lines.append(f"{chrom}\t{p + 1}\t{chrom}_snv{i}\t{ref}\t{alt}\t.\tPASS\t.")
    with open(paths["vcf"], "w") as fh:
        fh.write("\n".join(lines) + "\n")
    (d / "COMPLETE").write_text(json.dumps(params) + "\n")
    print(f"[data] generated {d} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return paths


def baseline_loop(fasta: str, vcf: str) -> int:
    """The plain loop: pysam records, ``FastaFile.fetch``, numpy tables, reused buffers."""
    import pysam

    code = np.full(256, 4, dtype=np.uint8)
    for i, b in enumerate(b"ACGT"):
        code[b] = code[b + 32] = i
    table = np.zeros((5, 4), dtype=np.float32)
    table[np.arange(4), np.arange(4)] = 1
    offset = (BINSIZE - 1) // 2
    ref_buf = np.empty((BATCH, BINSIZE, 1, 4), dtype=np.float32)
    alt_buf = np.empty_like(ref_buf)
    alt_codes = np.empty(BINSIZE, dtype=np.uint8)
    n = filled = 0
    with pysam.FastaFile(fasta) as fa, pysam.VariantFile(vcf) as vf:
        for rec in vf:
            start = rec.pos - 1 - offset
            codes = code.take(np.frombuffer(
                fa.fetch(rec.chrom, start, start + BINSIZE).encode("ascii"), np.uint8))
            if codes[offset] != code[ord(rec.ref)]:
                continue
            alt_codes[:] = codes
            alt_codes[offset] = code[ord(rec.alts[0])]
            np.take(table, codes, axis=0, out=ref_buf[filled, :, 0], mode="clip")
            np.take(table, alt_codes, axis=0, out=alt_buf[filled, :, 0], mode="clip")
            filled += 1
            n += 1
            if filled == BATCH:  # a batch is ready for the model
                filled = 0
    return n


def streamer_loop(genome: object, vcf: str) -> int:
    from genozarr import VariantStreamer

    n = 0
    for batch in VariantStreamer(genome, vcf, binsize=BINSIZE, batch_size=BATCH):
        n += len(batch.names)
    return n


def _compare(genome: object, c: dict, repeat: int) -> dict:
    counts = {}

    def base() -> None:
        counts["base"] = baseline_loop(c["fasta"], c["vcf"])

    def gz() -> None:
        counts["gz"] = streamer_loop(genome, c["vcf"])

    sec = _data.timed_alternating({"base": base, "gz": gz}, repeat)
    assert counts["base"] == counts["gz"] == c["n_variants"], counts
    return {"seconds": sec["gz"], "base_seconds": sec["base"], "work": counts["gz"]}


def case_fasta(p: dict) -> dict:
    c = variant_corpus(p["quick"])
    return _compare(c["fasta"], c, p["repeat"])


def case_bioseq(p: dict) -> dict:
    import genozarr
    from genozarr import Bioseq

    c = variant_corpus(p["quick"])
    genozarr.set_options(scheduler="processes", num_workers=2, progress=False)
    tmp = tempfile.mkdtemp(prefix="gzbench_")
    try:
        dna = Bioseq.create_from_refgenome("dna", c["fasta"], binsize=BINSIZE, storage="zarr",
                                           store=os.path.join(tmp, "dna.zarr"),
                                           store_whole_genome=True)
        return _compare(dna, c, p["repeat"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


CASES = {"fasta": case_fasta, "bioseq": case_bioseq}


def _run(case: str, **params: object) -> dict:
    return _data.run_case(SCRIPT, case, "--params", json.dumps(params))


def measure(quick: bool) -> list[dict]:
    """Run the variant measurements; return the table rows."""
    c = variant_corpus(quick)
    rep = 1 if quick else 5
    n = c["n_variants"]
    rows = []
    for case, label in (("fasta", "FASTA"), ("bioseq", "whole-genome Bioseq zarr store")):
        r = _run(case, quick=quick, repeat=rep)
        workload = (f"VariantStreamer: {n:,} SNVs, binsize {BINSIZE}, batches of {BATCH} "
                    f"ref + alt one-hot ({label})")
        if "seconds" in r:
            v_gz = r["work"] / r["seconds"]
            v_base = r["work"] / r["base_seconds"]
            rows.append(_data.row(workload, v_gz, "variants/s",
                                  "pysam VariantFile + FastaFile.fetch + numpy one-hot loop",
                                  v_base, v_gz / v_base, ">= 1.0x",
                                  f"{sum(c['chrom_sizes'].values()) / 1e6:g} Mb generated "
                                  "genome", r.get("peak_rss_mb")))
        else:
            rows.append(_data.row(workload, None, "variants/s", "", None, None, ">= 1.0x",
                                  r.get("error", ""), None))
    return rows


def main() -> None:
    _data.script_main("variant effect windows benchmark",
                      "10 Mb genome, 20k SNVs, 1 repeat", CASES, measure)


if __name__ == "__main__":
    main()
