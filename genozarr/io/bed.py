"""BED / bedGraph reading (pandas) and BED features painted as coverage."""

from __future__ import annotations

import gzip
import io
import os
import re
import weakref
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genozarr.errors import ArgumentError, MalformedFileError
from genozarr.io._handles import is_gzip, open_bytes, track_kind
from genozarr.io._remote import names_url

__all__ = ["read_bed", "write_bed", "bed_paint", "bed_coverage", "bed_categories", "BED_COLUMNS"]

BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]


def _binary(path: str) -> str:
    """What to add to a 'not a text BED file' error where the file is a binary track."""
    kind = track_kind(path)
    if kind == "bigBed":
        return "; the file is a bigBed: convert it with UCSC's bigBedToBed"
    if kind == "BigWig":
        return "; the file is a BigWig: read it with Cover.create_from_bigwig"
    return ""


def _open_text(path: str) -> Any:
    # utf-8-sig: a byte-order mark (as some editors write) is not part of the first line,
    # so a 'track' or '#' line after it is still a header
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _skipped(line: str) -> bool:
    """Whether a BED line is blank or a header: a comment (``#``), or a UCSC ``track`` or
    ``browser`` line (the word, then whitespace or nothing: a chromosome named ``trackA``
    or ``browser_1`` starts a data line)."""
    return not line.strip() or line.startswith("#") or _UCSC_HEADER.match(line) is not None


#: a UCSC header line's start
_UCSC_HEADER = re.compile(r"(track|browser)(\s|$)")


def _data_lines(path: str) -> tuple[list[int], list[int], int, str | io.StringIO]:
    """Line numbers (1-based) of data lines, 0-based indices of skipped lines, max fields,
    and what pandas is to read (:func:`_read_table`): the file, or its text with ``\\n``
    line ends.

    The file is scanned in blocks of bytes with numpy (line ends, tabs per line); only
    lines that may be blank or a header (first byte ``#``, ``t``, ``b``, whitespace, or
    not ASCII) are decoded and looked at in Python. A file with a bare ``\\r`` line end
    is read line by line instead (:func:`_data_lines_text`), and its text is given to
    pandas with ``\\n`` line ends: pandas' reader does not count an empty line between
    two ``\\r`` as a line, so the skipped lines' indices would miss their lines."""
    data: list[np.ndarray] = []
    skipped: list[int] = []
    fields = 0
    line0 = 0  # lines before the block
    try:
        with open_bytes(path) as fh:
            carry = b""
            first = True
            while True:
                block = fh.read(_SCAN_BYTES)
                text = carry + block
                if first:
                    first = False
                    if text.startswith(b"\xef\xbb\xbf"):  # a byte-order mark
                        text = text[3:]
                if not block:
                    carry, piece = b"", text
                else:
                    cut = text.rfind(b"\n") + 1
                    carry, piece = text[cut:], text[:cut]
                if piece:
                    if b"\r" in piece and _bare_cr(piece):
                        return _data_lines_text(path)
                    try:
                        piece.decode("utf-8")
                    except UnicodeDecodeError as e:
                        n = line0 + piece.count(b"\n", 0, e.start) + 1
                        raise MalformedFileError(f"{path}: not a text BED file (line {n} is "
                                                 f"not UTF-8: {e.reason}){_binary(path)}") \
                            from e
                    lines, skip, most = _scan_piece(piece)
                    data.append(lines + line0 + 1)
                    skipped.extend((skip + line0).tolist())
                    fields = max(fields, most)
                    line0 += piece.count(b"\n") + (0 if piece.endswith(b"\n") else 1)
                if not block:
                    break
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise MalformedFileError(f"{path}: gzip-compressed BED file is truncated or corrupt: "
                                 f"{e}") from e
    return np.concatenate(data).tolist() if data else [], skipped, fields, path


#: bytes of a BED file :func:`_data_lines` scans at once
_SCAN_BYTES = 16 * 2**20
#: first bytes of a line that may make it blank or a header: ``#``, ``t`` (track), ``b``
#: (browser), ASCII whitespace (and the separators ``str.strip`` removes), non-ASCII
_MAYBE_SKIPPED = np.zeros(256, dtype=bool)
_MAYBE_SKIPPED[[ord("#"), ord("t"), ord("b"), 9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_MAYBE_SKIPPED[128:] = True


def _bare_cr(piece: bytes) -> bool:
    """Whether ``piece`` holds a ``\\r`` not followed by ``\\n`` (a line end too)."""
    arr = np.frombuffer(piece, dtype=np.uint8)
    cr = np.flatnonzero(arr == 13)
    return bool(((cr + 1 >= len(arr)) | (arr[np.minimum(cr + 1, len(arr) - 1)] != 10)).any())


def _scan_piece(piece: bytes) -> tuple[np.ndarray, np.ndarray, int]:
    """0-based indices of the data lines and of the skipped lines of ``piece`` (whole
    lines, UTF-8, ``\\n`` line ends), and the most fields of a data line."""
    arr = np.frombuffer(piece, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    if not piece.endswith(b"\n"):
        ends = np.r_[ends, len(arr)]
    starts = np.r_[0, ends[:-1] + 1]
    # a line's first byte (a line ending at the end of the piece without \n is non-empty)
    first = arr[np.minimum(starts, len(arr) - 1)]
    empty = starts >= ends
    maybe = np.flatnonzero(_MAYBE_SKIPPED[first] | empty)
    skip = np.zeros(len(starts), dtype=bool)
    for k in maybe.tolist():
        skip[k] = _skipped(piece[starts[k]:ends[k]].decode("utf-8"))
    data = np.flatnonzero(~skip)
    most = 0
    if len(data):
        tabs = np.flatnonzero(arr == 9)
        in_line = np.searchsorted(tabs, ends[data]) - np.searchsorted(tabs, starts[data])
        most = int(in_line.max()) + 1
    return data, np.flatnonzero(skip), most


def _data_lines_text(path: str) -> tuple[list[int], list[int], int, io.StringIO]:
    """:func:`_data_lines` line by line, through Python's text reader, and the text with
    ``\\n`` line ends."""
    data, skipped, fields = [], [], 0
    text = io.StringIO()
    try:
        with _open_text(path) as fh:
            for i, line in enumerate(fh):
                line = line.rstrip("\r\n")
                text.write(line + "\n")
                if _skipped(line):
                    skipped.append(i)
                else:
                    data.append(i + 1)
                    fields = max(fields, line.count("\t") + 1)
    except UnicodeDecodeError as e:
        raise MalformedFileError(f"{path}: not a text BED file (line {len(data) + len(skipped) + 1} "
                                 f"is not UTF-8: {e.reason}){_binary(path)}") from e
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise MalformedFileError(f"{path}: gzip-compressed BED file is truncated or corrupt: "
                                 f"{e}") from e
    return data, skipped, fields, text


def _read_integers(path: str | io.StringIO, skipped: list[int],
                   nfields: int) -> tuple[pd.DataFrame | None, dict[str, pd.Series]]:
    """The file's columns (text, but start and end parsed as int64 by pandas' reader:
    3x faster than text then ``pandas.to_numeric``) and the coordinates; ``(None, {})``
    where a coordinate is not a plain non-negative integer below 2**62 (or a line lacks
    one): the caller then reads the file as text and names the line."""
    if nfields < 3:
        return None, {}
    dtype: dict[int, Any] = {k: str for k in range(nfields)}
    dtype[1] = dtype[2] = np.int64
    try:
        raw = _read_table(path, skipped, nfields, dtype)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError, TypeError):
        return None, {}
    coords = {"start": raw[1], "end": raw[2]}
    for values in coords.values():
        if values.dtype != np.int64 or bool(((values < 0) | (values >= 2**62)).any()):
            return None, {}
    return raw, coords


def _read_table(path: str | io.StringIO, skipped: list[int], nfields: int,
                dtype: Any) -> pd.DataFrame:
    """The file's data lines as ``nfields`` columns of ``dtype`` (no value is taken as
    missing: an absent field is NaN, an empty one ''); ``path`` is a file or the text of
    one (:func:`_data_lines`)."""
    if isinstance(path, io.StringIO):
        path.seek(0)
        compression = None
    else:
        compression = "gzip" if is_gzip(path) else None
    return pd.read_csv(path, sep="\t", header=None, dtype=dtype, skiprows=skipped,
                       names=list(range(nfields)), keep_default_na=False, na_values=[],
                       quoting=3, compression=compression)


def _bad(path: str, lines: list[int], row: int, problem: str) -> MalformedFileError:
    return MalformedFileError(f"{path}: line {lines[row]}: {problem}")


@names_url("bed")
def read_bed(path: str | os.PathLike, bedgraph: bool = False) -> pd.DataFrame:
    """Read a BED (3 to 12 columns) or bedGraph file, plain or gzipped.

    Blank lines, ``#`` comments and UCSC ``track`` and ``browser`` lines (the word, then
    whitespace) are skipped: a chromosome named ``trackA`` starts a data line.
    Coordinates are 0-based half-open as in the file.

    Parameters
    ----------
    path
        BED or bedGraph file, or its URL (``http(s)://``, ``s3://``: read through a local
        copy, see :mod:`genozarr.io._remote`).
    bedgraph
        Read the 4th column as the value (``score``) instead of a name.

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom, start, end, name, score, strand``; ``score`` is float (NaN where
        the file has none or ``.``), ``strand`` is ``'.'`` where absent.

    Raises
    ------
    InputFileError
        If the file does not exist, is a directory (``NotAFileError``) or cannot be read
        (``UnreadableFileError``).
    MalformedFileError
        For too few columns, non-integer or negative coordinates, start > end or a
        non-numeric score; the message gives the file and line number.
    """
    from genozarr.io._handles import check_input_file
    from genozarr.io._remote import localize

    path = localize(path, "bed")  # a URL: its copy in the input cache
    check_input_file(path, "BED")  # missing, a directory, permission denied
    lines, skipped, nfields, source = _data_lines(path)
    if not lines:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "score" else
                                          ("int64" if c in ("start", "end") else object))
                             for c in BED_COLUMNS})
    raw, coords = _read_integers(source, skipped, nfields)
    if raw is None:  # something to report (or 5.0 for 5): read as text, checked below
        try:
            raw = _read_table(source, skipped, nfields, str)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
            raise MalformedFileError(f"{path}: not a tab-separated BED file: {e}") from e
    short = raw[2].isna() | (raw[2] == "") if nfields >= 3 else pd.Series(True, raw.index)
    if short.any():
        row = int(short.to_numpy().nonzero()[0][0])
        raise _bad(path, lines, row, "a BED line needs at least 3 tab-separated columns "
                   "(chrom, start, end)")
    for col, name in ((1, "start"), (2, "end")):
        if name in coords:
            continue
        values = pd.to_numeric(raw[col], errors="coerce")
        if values.dtype == object:  # integers beyond int64/uint64 stay Python ints
            values = pd.to_numeric(raw[col].where(raw[col].str.len() < 19), errors="coerce")
        bad = values.isna() | (values < 0) | (values != values.round()) | (values >= 2**62)
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise _bad(path, lines, row, f"{name} must be a non-negative integer, "
                       f"got {raw[col].iloc[row]!r}")
        coords[name] = values.astype(np.int64)
    inverted = coords["start"] > coords["end"]
    if inverted.any():
        row = int(inverted.to_numpy().nonzero()[0][0])
        raise _bad(path, lines, row, f"start {coords['start'].iloc[row]} > end "
                   f"{coords['end'].iloc[row]}")
    df = pd.DataFrame({"chrom": raw[0].astype(str).to_numpy(dtype=object),
                       "start": coords["start"].to_numpy(), "end": coords["end"].to_numpy()})
    score_col = 3 if bedgraph else 4
    if nfields > score_col:
        text = raw[score_col].fillna("").astype(str)
        # no value: '.', 'NA', and NaN as Python, R and C tools write it ('nan', 'NaN',
        # '-nan')
        text = text.mask(text.isin([".", "NA"])
                         | text.str.lower().isin(["nan", "-nan", "+nan"]), "")
        score = pd.to_numeric(text.where(text.ne("")), errors="coerce")
        bad = score.isna() & text.ne("")
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            what = "bedGraph value (4th column)" if bedgraph else "score (5th column)"
            raise _bad(path, lines, row, f"{what} must be a number, got {text.iloc[row]!r}")
        df["score"] = score.astype("float64").to_numpy()
    else:
        df["score"] = np.nan
    if not bedgraph and nfields > 3:
        # a line with fewer columns than others has '' there: no name, as '.'
        df["name"] = raw[3].fillna(".").replace({"": "."}).astype(str).to_numpy(dtype=object)
    else:
        df["name"] = "."
    if not bedgraph and nfields > 5:
        strand = raw[5].fillna(".").replace({"": "."})
        bad = ~strand.isin(["+", "-", "."])
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise _bad(path, lines, row, f"strand must be '+', '-' or '.', "
                       f"got {strand.iloc[row]!r}")
        df["strand"] = strand.to_numpy(dtype=object)
    else:
        df["strand"] = "."
    df = df[BED_COLUMNS]
    df.attrs["source"] = path
    df.attrs["fields"] = int(nfields)  # (the most columns of a line)
    return df


def write_bed(frame: pd.DataFrame, path: str | os.PathLike, *, header: bool = False,
              na_rep: str = "") -> None:
    """Write a table as tab-separated BED text, each field as it is.

    pandas' CSV quoting would write a name holding a double quote (``say "hi"``) in
    quotes, its quotes doubled, which BED readers (genozarr's included) take as the name:
    fields are written unquoted, and a field that a BED line cannot hold is refused.

    Parameters
    ----------
    frame
        The columns in their order.
    path
        Output file (``.gz``: gzip-compressed, as pandas infers).
    header
        Write the column names as a first line.
    na_rep
        Text of a missing value.

    Raises
    ------
    ArgumentError
        Where a text field holds a tab or a line break (it would split the line), naming
        the file, the column and the row.
    """
    import csv

    for column in frame.columns:
        values = frame[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
            continue
        text = values.astype(str)
        bad = text.str.contains(r"[\t\n\r]", regex=True).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ArgumentError(
                f"{os.fspath(path)}: the {column!r} of row {row} ({text.iloc[row]!r}) holds a "
                "tab or a line break, which a BED line cannot hold; rename it")
    from genozarr.io._remote import is_url

    if isinstance(path, (str, os.PathLike)) and not is_url(path):
        path = os.path.expanduser(os.fspath(path))  # (as pandas did: '~/x.bed')
    if not isinstance(path, str) or is_url(path) or os.path.islink(path) or (
            os.path.exists(path) and not os.path.isfile(path)):
        # (a buffer, a URL (fsspec writes it); a link, /dev/stdout or a pipe: written
        # through, as given)
        frame.to_csv(path, sep="\t", header=header, index=False, na_rep=na_rep,
                     quoting=csv.QUOTE_NONE)
        return
    import hashlib

    from pandas.io.common import infer_compression

    from genozarr.io.export import NAME_MAX, temporary_path

    # written beside it, then renamed: a write stopped half way (SIGTERM from a workflow
    # manager, a full disk) left a shorter file ending on a whole line, under the name
    # of the complete one it replaced, which a rerun took as up to date (an audit)
    final = Path(path)
    tmp = temporary_path(final)
    if len(os.fsencode(tmp.name)) > NAME_MAX:  # (a long name: a short temporary one)
        digest = hashlib.sha256(os.fsencode(final.name)).hexdigest()[:16]
        tmp = final.with_name(f".{digest}.{os.getpid()}.part")
    try:
        frame.to_csv(tmp, sep="\t", header=header, index=False, na_rep=na_rep,
                     quoting=csv.QUOTE_NONE,
                     compression=infer_compression(os.fspath(final), "infer"))
        os.replace(tmp, final)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def bed_categories(df: pd.DataFrame, mode: str) -> list[Any]:
    """Sorted distinct categories of a BED frame: scores (``score_category``) or names.

    Parameters
    ----------
    df
        Frame from :func:`read_bed`.
    mode
        ``'score_category'`` (or ``'categorical'``) or ``'name_category'``.

    Returns
    -------
    list
        Categories in condition order; integral scores are returned as ``int``.
    """
    if mode in ("score_category", "categorical"):
        scores = df["score"]
        if scores.isna().any():
            src = df.attrs.get("source", "BED file")
            raise ArgumentError(f"{src}: mode={mode!r} needs a score (5th column) on every line")
        values = sorted(set(scores.tolist()))
        return [int(v) if float(v).is_integer() else float(v) for v in values]
    if mode == "name_category":
        return sorted(set(df["name"].astype(str).tolist()))
    raise ArgumentError(f"no categories for mode {mode!r}")


_by_chrom_cache: dict[int, dict[str, tuple[np.ndarray, ...]]] = {}


def _grouped(df: pd.DataFrame) -> dict[str, tuple[np.ndarray, ...]]:
    """Per chromosome: starts, ends, scores, names and the features' lines in the file (their
    order), sorted by start, and the running maximum of the ends in that order (a window's
    features are then found by two binary searches, :func:`_overlapping`); memoised per
    frame."""
    key = id(df)
    hit = _by_chrom_cache.get(key)
    if hit is not None:
        return hit
    # one stable sort by (chromosome, start) and slices of it: a groupby, a sort and a
    # lookup per chromosome cost about 1 ms each (minutes for 100,000 contigs)
    codes, uniques = pd.factorize(df["chrom"], sort=False)
    starts = df["start"].to_numpy(np.int64)
    kept = np.flatnonzero(codes >= 0)  # (a missing name is no chromosome, as groupby's)
    order = kept[np.lexsort((starts[kept], codes[kept]))]  # (stable: file order in ties)
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    ends = df["end"].to_numpy(np.int64)[order]
    scores = df["score"].to_numpy(np.float64)[order]
    names = df["name"].astype(str).to_numpy(dtype=object)[order]
    starts = starts[order]
    groups = {}
    for k, chrom in enumerate(uniques):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        groups[str(chrom)] = (starts[lo:hi], ends[lo:hi], scores[lo:hi], names[lo:hi],
                              order[lo:hi].astype(np.int64),
                              np.maximum.accumulate(ends[lo:hi]) if hi > lo else ends[lo:hi])
    _by_chrom_cache[key] = groups
    weakref.finalize(df, _by_chrom_cache.pop, key, None)
    return groups


def _overlapping(starts: np.ndarray, ends: np.ndarray, reach: np.ndarray, start: int,
                 end: int) -> np.ndarray:
    """Positions, ascending, of the features ``[starts, ends)`` (sorted by start; ``reach``
    the running maximum of ``ends``) that overlap ``[start, end)``. Only the features
    between the first whose ``reach`` passes ``start`` and the last starting before
    ``end`` are compared: a window's cost follows its features, not the chromosome's (a
    scan of every feature per window made builds of one window per feature quadratic)."""
    lo = int(np.searchsorted(reach, start, "right"))
    hi = int(np.searchsorted(starts, end, "left"))
    return lo + np.flatnonzero(ends[lo:hi] > start) if hi > lo else np.empty(0, np.intp)


def bed_paint(df: pd.DataFrame, chrom: str, start: int, end: int, *, mode: str = "binary",
              categories: list[Any] | None = None,
              dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """BED features painted base by base onto ``[start, end)``, and where they lie.

    Where features overlap the larger value wins; in the category modes each base holds one
    category, that of the feature later in the file (as Janggu's: one-hot labels stay
    one-hot). Bases outside any feature are 0.

    Parameters
    ----------
    df
        Frame from :func:`read_bed`.
    chrom, start, end
        Window (0-based half-open; ``start`` may be negative, bases there are uncovered).
    mode
        ``binary`` (1 under a feature), ``score``/``bedgraph`` (the score),
        ``score_category``/``name_category`` (one-hot over ``categories``).
    categories
        Category list for the category modes (see :func:`bed_categories`).
    dtype
        Of the values (float32, or float64 where scores must not be rounded to float32).

    Returns
    -------
    tuple of numpy.ndarray
        ``(values, covered)``: values of ``dtype`` and a boolean mask, both of shape
        ``(end - start, C)`` (C is 1 or the number of categories); ``covered`` is True at
        the bases under a feature of that condition (features of unknown categories are
        ignored).
    """
    n = end - start
    if mode == "categorical":
        mode = "score_category"
    if mode.endswith("category") and not categories:  # (None too: before len())
        raise ArgumentError(f"mode {mode!r} needs categories")
    ncond = len(categories) if mode.endswith("category") else 1
    out = np.zeros((n, ncond), dtype=dtype)
    covered = np.zeros((n, ncond), dtype=bool)  # bases under a feature (for minoverlap)
    group = _grouped(df).get(chrom)
    if group is not None and n > 0:
        starts, ends, scores, names, lines, reach = group
        sel = _overlapping(starts, ends, reach, start, end)
        if len(sel):
            s = np.clip(starts[sel], start, end) - start
            e = np.clip(ends[sel], start, end) - start
            if mode == "binary":
                col, val = np.zeros(len(sel), int), np.ones(len(sel))
            elif mode in ("score", "bedgraph"):
                # no score (NaN) paints 0; infinities stay infinities in every dtype
                col = np.zeros(len(sel), int)
                val = np.nan_to_num(scores[sel], posinf=np.inf, neginf=-np.inf)
            else:
                keys = scores[sel] if mode == "score_category" else names[sel]
                lookup = {(float(c) if mode == "score_category" else str(c)): k
                          for k, c in enumerate(categories)}
                col = np.array([lookup.get(float(k) if mode == "score_category" else str(k), -1)
                                for k in keys])
                val = np.ones(len(sel))
                keep = col >= 0
                s, e, col, val = s[keep], e[keep], col[keep], val[keep]
            if mode.endswith("category"):  # one category per base: the later line wins
                for k in np.argsort(lines[sel][keep], kind="stable"):
                    out[s[k]:e[k]] = 0
                    out[s[k]:e[k], col[k]] = 1
                    covered[s[k]:e[k], col[k]] = True
                return out, covered
            # paint in ascending value order so the larger value wins on overlaps; the
            # first feature on a base sets it (negative scores are kept, not clipped to 0)
            for k in np.argsort(val, kind="stable"):
                seg = out[s[k]:e[k], col[k]]
                fresh = ~covered[s[k]:e[k], col[k]]
                seg[fresh] = val[k]
                np.maximum(seg, val[k], out=seg)
                covered[s[k]:e[k], col[k]] = True
    return out, covered


def bed_coverage(df: pd.DataFrame, chrom: str, start: int, end: int, *, mode: str = "binary",
                 categories: list[Any] | None = None, resolution: int = 1,
                 minoverlap: float | None = None, overlap_span: str = "bin") -> np.ndarray:
    """Paint BED features onto ``[start, end)``; where features overlap the larger value wins
    (the category modes: the feature later in the file, see :func:`bed_paint`).

    Parameters
    ----------
    df
        Frame from :func:`read_bed`.
    chrom, start, end
        Window (0-based half-open).
    mode
        ``binary`` (1 under a feature), ``score``/``bedgraph`` (the score),
        ``score_category``/``name_category`` (one-hot over ``categories``).
    categories
        Category list for the category modes (see :func:`bed_categories`).
    resolution
        Bases per bin: a bin takes the maximum over its bases.
    minoverlap
        Minimum fraction of the span (see ``overlap_span``) that features must cover for
        their values to count: a span whose bases are covered by features (any feature of
        the file, whatever its value or category) for less than this fraction is 0 in
        every condition. None: any overlap counts.
    overlap_span
        What ``minoverlap`` is a fraction of: ``'window'``, the whole ``[start, end)``
        (Janggu's rule for a dataset window, flank included); ``'bin'``, each output bin of
        ``resolution`` bases (at resolution 1 a base is covered or not, so the rule only
        keeps covered bases).

    Returns
    -------
    numpy.ndarray
        float32 of shape ``(ceil((end - start) / resolution), C)`` where C is 1 or the
        number of categories.

    Examples
    --------
    >>> frame = pd.DataFrame({"chrom": ["c"], "start": [0], "end": [30], "name": ["."],
    ...                       "score": [1.0], "strand": ["."]})
    >>> float(bed_coverage(frame, "c", 0, 100, minoverlap=0.5, overlap_span="window").max())
    0.0
    >>> float(bed_coverage(frame, "c", 0, 50, minoverlap=0.5, overlap_span="window").max())
    1.0
    """
    if overlap_span not in ("bin", "window"):
        raise ArgumentError(f"overlap_span must be 'bin' or 'window', got {overlap_span!r}")
    out, covered = bed_paint(df, chrom, start, end, mode=mode, categories=categories)
    n, ncond = out.shape
    if minoverlap is not None and overlap_span == "window" and n > 0:
        if covered.any(axis=1).mean() < minoverlap:
            out[:] = 0
    if resolution == 1:
        return out
    nbins = -(-n // resolution)
    padded = np.zeros((nbins * resolution, ncond), dtype=np.float32)
    padded[:n] = out
    binned = padded.reshape(nbins, resolution, ncond)
    result = binned.max(axis=1)
    if minoverlap is not None and overlap_span == "bin":
        cov = np.zeros(nbins * resolution, dtype=bool)
        cov[:n] = covered.any(axis=1)
        fraction = cov.reshape(nbins, resolution).mean(axis=1)
        result[fraction < minoverlap] = 0
    return result
