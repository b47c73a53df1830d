"""Export a :class:`~genozarr.dataset.Cover` to BigWig and bedGraph-like BED files.

One file is written per condition (and per strand for two-strand covers), holding one
entry per stored bin of the Cover's windows (span = the resolution) in genomic
orientation: minus-strand windows are written at the bases they describe (Janggu wrote
them reversed). Values are the ones ``cover[i]`` returns (normalizers applied).

File names
    ``<name>.<condition>.bigwig`` (``.bed``) for one strand; for two strands
    ``<name>.<condition>.plus.bigwig`` and ``<name>.<condition>.minus.bigwig``. Dataset and
    condition names must be plain file-name parts: names with path separators, ``..``,
    absolute paths or control characters raise :class:`~genozarr.errors.ArgumentError`.
Windows and overlaps
    Windows are written sorted by chromosome (in the order of the chromosome sizes) and
    start, flank included; the padded tail of a partial last window of a region (past its
    end + flank) and bins outside the chromosome are left out (a bin straddling a
    chromosome boundary is cut to it). In the whole-genome layout overlapping windows read
    the same stored bins, which are written once. In the partial layout (one row per
    window) overlapping windows carry separate values: ``overlap='error'`` (default)
    raises, ``overlap='mean'`` writes the mean of the windows covering a bin (the windows'
    bins must then be aligned to each other).
Missing values
    NaN values are not written (a BigWig has no NaN; ``pyBigWig.values`` reads them back
    as NaN); the BED files leave them out too.
Chromosome sizes
    From ``genomesize``, else the Cover's store metadata, else the largest window end on
    each chromosome.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genozarr.errors import ArgumentError, ChromosomeNotFoundError

if TYPE_CHECKING:
    from genozarr.dataset import Dataset

__all__ = ["export_to_bigwig", "export_to_bed", "safe_file_part", "OVERLAP_MODES"]

log = logging.getLogger(__name__)

OVERLAP_MODES = ("error", "mean")
_STRAND_NAMES = {"+": "plus", "-": "minus", ".": "unstranded"}
_BATCH_BYTES = 64 * 2**20


def safe_file_part(text: Any, what: str) -> str:
    """Check that ``text`` can be used as one part of a file name.

    Parameters
    ----------
    text
        A dataset or condition name.
    what
        What it names, for the error message.

    Returns
    -------
    str
        ``text`` unchanged.

    Raises
    ------
    ArgumentError
        For an empty name, ``.`` or ``..``, a name holding ``/``, ``\\``, the OS path
        separator, a NUL or another control character, or an absolute path.

    Examples
    --------
    >>> safe_file_part("H3K4me3", "condition")
    'H3K4me3'
    """
    text = str(text)
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    bad = (not text or text in (".", "..") or any(s in text for s in seps)
           or any(ord(ch) < 32 for ch in text) or os.path.isabs(text))
    if bad:
        raise ArgumentError(
            f"{what} name {text!r} cannot be used in an output file name: names must be "
            "non-empty, not '.' or '..', and hold no path separator ('/', '\\') or control "
            "character; rename it (e.g. conditions=[...] when building the Cover)")
    return text


def _output_paths(cover: Dataset, output_dir: str | os.PathLike,
                  suffix: str) -> tuple[Path, list[tuple[int, int, Path]]]:
    """``(directory, [(strand index, condition index, path)])``; checks every name."""
    meta = cover.garray.meta
    name = safe_file_part(cover.name, "dataset")
    conds = [safe_file_part(c, "condition") for c in meta.conditions]
    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    root = directory.resolve()
    out = []
    seen: set[Path] = set()
    for ci, cond in enumerate(conds):
        for si, strand in enumerate(meta.strands):
            parts = [name, cond]
            if len(meta.strands) > 1:
                parts.append(_STRAND_NAMES.get(strand, safe_file_part(strand, "strand")))
            path = directory / (".".join(parts) + suffix)
            if path.resolve().parent != root:
                raise ArgumentError(f"output file {path} would lie outside {directory}")
            if path in seen:
                raise ArgumentError(f"two conditions give the same output file {path}")
            seen.add(path)
            out.append((si, ci, path))
    return directory, out


def _sizes(cover: Dataset, genomesize: Any) -> dict[str, int]:
    from genozarr.genome import chrom_sizes

    gi = cover.gindexer
    chrs, _, ends, _ = gi.as_arrays()
    chr_str = chrs.astype(str)
    chroms = list(dict.fromkeys(chr_str.tolist()))
    if genomesize is not None:
        sizes = chrom_sizes(genomesize)
        missing = [c for c in chroms if c not in sizes]
        if missing:
            raise ChromosomeNotFoundError(
                f"genomesize has no length for chromosome(s) {missing[:5]} of {cover.name}'s "
                f"windows; it has {list(sizes)[:8]}")
        return sizes
    sizes = {str(c): int(v) for c, v in cover.garray.meta.chroms.items() if v}
    for c in chroms:
        if c not in sizes:
            sizes[c] = int(ends[chr_str == c].max())
    return sizes


def _window_bins(cover: Dataset, idx: np.ndarray, size: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins of windows ``idx`` (sorted by start): ``(starts, ends, values (k, S, C))``,
    clipped to the chromosome and to each window's data extent."""
    gi = cover.gindexer
    meta = cover.garray.meta
    x = cover._read_raw(idx)  # (k, nbins, S, C), genomic orientation, normalizers applied
    wstart = gi.starts[idx] - gi.flank
    wend = gi.ends[idx] + gi.flank
    nb = x.shape[1]
    if meta.resolution is None:
        starts, ends = wstart[:, None], wend[:, None]
        valid = np.ones((len(idx), 1), dtype=bool)
    else:
        res = meta.resolution
        starts = wstart[:, None] + res * np.arange(nb)
        ends = starts + res
        valid = starts < wend[:, None]
    starts = np.maximum(starts, 0)
    ends = np.minimum(ends, size)
    valid &= ends > starts
    return starts[valid], ends[valid], x[valid]


def _chrom_entries(cover: Dataset, chrom: str, size: int,
                   overlap: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All bins of one chromosome, sorted: ``(starts, ends, values (m, S, C))``."""
    gi = cover.gindexer
    sel = np.flatnonzero(gi.chrs.astype(str) == chrom)
    sel = sel[np.argsort(gi.starts[sel], kind="stable")]
    meta = cover.garray.meta
    row_bytes = max(1, cover._window_bins * len(meta.strands) * len(meta.conditions) * 8)
    batch = max(1, _BATCH_BYTES // row_bytes)
    parts = [_window_bins(cover, sel[i:i + batch], size) for i in range(0, len(sel), batch)]
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64),
             np.zeros((0, len(meta.strands), len(meta.conditions)), meta.dtype))
    if not parts:
        return empty
    starts = np.concatenate([p[0] for p in parts])
    ends = np.concatenate([p[1] for p in parts])
    values = np.concatenate([p[2] for p in parts])
    if len(starts) < 2:
        return starts, ends, values
    order = np.argsort(starts, kind="stable")
    starts, ends, values = starts[order], ends[order], values[order]
    prev_end = np.maximum.accumulate(ends)[:-1]
    clash = starts[1:] < prev_end
    if not clash.any():
        return starts, ends, values
    if cover.garray.whole_genome:
        # windows read the same stored bins: keep each bin once
        keep = np.concatenate([[True], starts[1:] >= prev_end])
        return starts[keep], ends[keep], values[keep]
    if overlap == "mean":
        uniq, first, counts = np.unique(starts, return_index=True, return_counts=True)
        uend = ends[first]
        if np.any(ends != np.repeat(uend, counts)) or np.any(uniq[1:] < uend[:-1]):
            raise ArgumentError(
                f"{cover.name}: windows on {chrom} overlap with bins that are not aligned to "
                "each other, so overlap='mean' cannot average them; use windows whose starts "
                "differ by multiples of the resolution")
        group = np.repeat(np.arange(len(uniq)), counts)
        sums = np.zeros((len(uniq),) + values.shape[1:], dtype=np.float64)
        np.add.at(sums, group, values.astype(np.float64))
        mean = sums / counts[:, None, None]
        return uniq, uend, mean
    k = int(np.flatnonzero(clash)[0]) + 1
    raise ArgumentError(
        f"{cover.name}: windows overlap on {chrom} (a bin at {chrom}:{starts[k]}-{ends[k]} "
        f"overlaps the previous one ending at {int(prev_end[k - 1])}); a BigWig holds one "
        "value per base. Export non-overlapping windows (stepsize >= binsize + 2 * flank), "
        "build the Cover with store_whole_genome=True, or pass overlap='mean' to average "
        "the overlapping windows")


def _entries(cover: Dataset, sizes: dict[str, int],
             overlap: str) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    if overlap not in OVERLAP_MODES:
        raise ArgumentError(f"overlap must be one of {OVERLAP_MODES}, got {overlap!r}")
    present = set(cover.gindexer.chrs.astype(str).tolist())
    for chrom, size in sizes.items():
        if chrom in present:
            yield (chrom,) + _chrom_entries(cover, chrom, int(size), overlap)


def _add_bigwig_entries(bw: Any, chrom: str, starts: np.ndarray, ends: np.ndarray,
                        values: np.ndarray, span: int | None) -> None:
    """Write sorted entries: bins of width ``span`` as variableStep sections, others
    (cut at a chromosome boundary, or variable windows) as bedGraph sections."""
    if not len(starts):
        return
    regular = (ends - starts == span) if span is not None else np.zeros(len(starts), bool)
    cuts = np.flatnonzero(np.diff(regular.astype(np.int8))) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(starts)]):
        s = np.ascontiguousarray(starts[lo:hi], dtype=np.int64)
        v = np.ascontiguousarray(values[lo:hi], dtype=np.float64)
        if regular[lo]:
            bw.addEntries(chrom, s, values=v, span=int(span))  # type: ignore[arg-type]
        else:
            bw.addEntries([chrom] * len(s), s,
                          ends=np.ascontiguousarray(ends[lo:hi], dtype=np.int64), values=v)


def export_to_bigwig(cover: Dataset, output_dir: str | os.PathLike, genomesize: Any = None,
                     *, overlap: str = "error") -> list[str]:
    """Write a Cover as BigWig files, one per condition (and strand).

    See the module documentation for file names, overlaps, NaN and chromosome sizes.

    Parameters
    ----------
    cover
        The Cover (e.g. from :meth:`Cover.create_from_array`).
    output_dir
        Directory for the files (created if missing).
    genomesize
        Chromosome sizes (dict or file) for the BigWig header; default: the Cover's store
        metadata, else the largest window end per chromosome.
    overlap
        'error' (default) or 'mean', for overlapping windows of a partial-layout Cover.

    Returns
    -------
    list of str
        Paths of the written files, condition by condition (plus strand first).

    Raises
    ------
    ArgumentError
        For names that cannot be file names, or overlapping windows with
        ``overlap='error'``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, pyBigWig, tempfile
    >>> from genozarr import Cover, GenomicIndexer
    >>> roi = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [300]})
    >>> gi = GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)
    >>> cover = Cover.create_from_array("pred", np.array([[0.5], [2.0]]), gi,
    ...                                 conditions=["score"])
    >>> (path,) = cover.export_to_bigwig(tempfile.mkdtemp(), genomesize={"chr1": 1000})
    >>> path.endswith("pred.score.bigwig"), pyBigWig.open(path).intervals("chr1")
    (True, ((100, 200, 0.5), (200, 300, 2.0)))
    """
    import pyBigWig

    from genozarr.errors import InputFileError

    _, targets = _output_paths(cover, output_dir, ".bigwig")
    sizes = _sizes(cover, genomesize)
    header = [(str(c), int(v)) for c, v in sizes.items()]
    span = cover.garray.meta.resolution
    handles = []
    try:
        for _, _, path in targets:
            bw = pyBigWig.open(str(path), "w")
            if bw is None:
                raise InputFileError(f"cannot open {path} for writing")
            handles.append(bw)
            bw.addHeader(header)
        for chrom, starts, ends, values in _entries(cover, sizes, overlap):
            for bw, (si, ci, _) in zip(handles, targets):
                v = values[:, si, ci]
                ok = ~np.isnan(v) if v.dtype.kind == "f" else slice(None)
                _add_bigwig_entries(bw, chrom, starts[ok], ends[ok], v[ok], span)
    finally:
        for bw in handles:
            bw.close()
    paths = [str(p) for _, _, p in targets]
    log.info("%s: wrote %d BigWig file(s) to %s", cover.name, len(paths), output_dir)
    return paths


def export_to_bed(cover: Dataset, output_dir: str | os.PathLike, genomesize: Any = None,
                  *, overlap: str = "error") -> list[str]:
    """Write a Cover as bedGraph-like BED files, one per condition (and strand).

    Each line is ``chrom  start  end  value`` (tab separated, 0-based half-open, no header),
    one per stored bin, sorted by chromosome and start; see the module documentation for
    file names (``.bed``), overlaps and NaN.

    Parameters
    ----------
    cover
        The Cover.
    output_dir
        Directory for the files (created if missing).
    genomesize
        Chromosome sizes (dict or file) to clip bins to; default as for
        :func:`export_to_bigwig`.
    overlap
        'error' (default) or 'mean', for overlapping windows of a partial-layout Cover.

    Returns
    -------
    list of str
        Paths of the written files.
    """
    import pandas as pd

    _, targets = _output_paths(cover, output_dir, ".bed")
    sizes = _sizes(cover, genomesize)
    for _, _, path in targets:
        path.write_text("")
    for chrom, starts, ends, values in _entries(cover, sizes, overlap):
        for si, ci, path in targets:
            v = values[:, si, ci]
            ok = ~np.isnan(v) if v.dtype.kind == "f" else slice(None)
            frame = pd.DataFrame({"chrom": chrom, "start": starts[ok], "end": ends[ok],
                                  "value": v[ok]})
            frame.to_csv(path, sep="\t", header=False, index=False, mode="a")
    paths = [str(p) for _, _, p in targets]
    log.info("%s: wrote %d BED file(s) to %s", cover.name, len(paths), output_dir)
    return paths
