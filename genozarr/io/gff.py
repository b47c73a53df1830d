"""GFF3/GTF reading through :mod:`pyranges`, converted to 0-based half-open regions.

Without a ``feature``, only the ``gene`` lines are read (an annotation holds genes,
transcripts, exons, CDS... and regions of interest are nearly always the genes); the
choice is logged once per file at INFO level. ``feature='*'`` reads every line.

pyranges 0.1 misreads some valid feature lines without a complaint (a '#' inside a line
cuts it there; a GFF3 blank after ';', a GTF attribute without one) and fails on others
(GFF3 attributes ``.``, a '=' inside a value). Every file is scanned once for such lines
(one more pass over it), and a file that has them, or that pyranges fails on, is parsed
from a cleaned copy of its feature lines.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd

from genozarr.errors import ArgumentError, MalformedFileError, get_logger
from genozarr.io._handles import stat_signature
from genozarr.io._remote import names_url

__all__ = ["read_gff", "DEFAULT_FEATURE", "ALL_FEATURES"]

log = get_logger(__name__)

#: the feature type read when ``feature`` is not given
DEFAULT_FEATURE = "gene"
#: ``feature`` value that keeps every line of the file
ALL_FEATURES = "*"

# files whose default feature choice was already logged in this process
_told: set[tuple[str, int, int]] = set()
_told_lock = threading.Lock()

_NAME_ATTRIBUTES = ("gene_name", "Name", "gene_id", "ID", "transcript_id")


@names_url("gff")
def read_gff(path: str | os.PathLike, feature: str | None = None) -> pd.DataFrame:
    """Read a GFF3 or GTF file as regions.

    GFF coordinates are 1-based and closed; the result is 0-based half-open
    (``start = gff_start - 1``, ``end = gff_end``), as pyranges converts them.

    Parameters
    ----------
    path
        ``.gtf``, ``.gff``, ``.gff3`` (optionally gzipped).
    feature
        Keep only rows of this feature type (3rd column, e.g. ``'gene'``, ``'exon'``).
        None (default) keeps the ``gene`` lines and says so once per file in an INFO log
        message; a file without gene lines raises an error naming the types it has.
        ``'*'`` keeps every line (genes, transcripts, exons... together).

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom, start, end, name, score, strand``; ``name`` is taken from the
        first present attribute of ``gene_name, Name, gene_id, ID, transcript_id``.

    Raises
    ------
    InputFileError
        If the file does not exist, is a directory (``NotAFileError``) or cannot be read
        (``UnreadableFileError``).
    MalformedFileError
        If pyranges cannot parse it, or no row has the requested feature type (the
        message lists the types the file has and what to pass).
    """
    from genozarr.io._handles import check_input_file
    from genozarr.io._remote import localize

    path = localize(os.fspath(path), "gff")  # a URL: its copy in the input cache
    check_input_file(path, "GFF/GTF")  # missing, a directory, permission denied
    import pyranges as pr

    is_gtf = path.lower().endswith((".gtf", ".gtf.gz", ".gtf.bgz"))

    _quiet_pyranges()

    def parse(source: str) -> pd.DataFrame:
        # as a DataFrame: the file's order (a PyRanges groups by chromosome and strand)
        _reading.active = True
        try:
            return pr.read_gtf(source, as_df=True) if is_gtf else \
                pr.read_gff3(source, as_df=True)
        finally:
            _reading.active = False

    import gzip
    import zlib

    try:
        try:
            if _unlike_its_name(path) or _needs_cleaning(path, is_gtf):
                raise _NeedsCleaning("feature lines pyranges would misread")
            df = parse(path)
        except Exception as e:  # pyranges raises assorted pandas/ValueErrors for bad input
            df = _retry_without_trailer(path, parse, is_gtf, e)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise MalformedFileError(f"{path}: gzip-compressed GFF/GTF file is truncated or "
                                 f"corrupt: {e}") from e
    except UnicodeDecodeError as e:  # (pandas' too, from the cleaned copy's retry)
        raise _not_utf8(path, e) from e
    if df.empty:
        raise MalformedFileError(f"{path}: no features found")
    if not all(pd.api.types.is_integer_dtype(df[c]) for c in ("Start", "End")):
        # pyranges reads '5.9' or '1e1' as a float, cut to an integer without a complaint
        where = _bad_coordinate(_feature_lines(path)) or "start or end not whole numbers"
        raise MalformedFileError(f"{path}: {where}")
    if feature is not None and not isinstance(feature, str):
        raise ArgumentError(f"feature must be a feature type string (or '*' for every line), "
                            f"got {feature!r}")
    if "Feature" in df.columns:  # a '#' in the type column of a cleaned copy
        df["Feature"] = df["Feature"].astype(str).map(
            lambda v: v.replace(_GTF_HASH, "#") if is_gtf else unquote(v))
    if feature != ALL_FEATURES:
        types = df["Feature"].astype(str)
        wanted = DEFAULT_FEATURE if feature is None else feature
        keep = types == wanted
        if not keep.any():
            present = list(dict.fromkeys(types.tolist()))
            shown = f"{present[:10]}{' ...' if len(present) > 10 else ''}"
            if feature is None:
                raise MalformedFileError(
                    f"{path}: no 'gene' lines, which are read when no feature type is given; "
                    f"the file has the feature types {shown}. Pass feature= one of them "
                    f"(e.g. feature={present[0]!r}), or feature='*' for every line")
            raise MalformedFileError(
                f"{path}: no rows with feature type {feature!r}; the file has {shown}")
        if feature is None and not keep.all():
            _tell_default(path, int(keep.sum()), len(keep))
        df = df[keep]
    name = pd.Series(".", index=df.index, dtype=object)
    for attr in reversed(_NAME_ATTRIBUTES):
        if attr in df.columns:
            vals = df[attr]
            # GFF3 escapes ';', '=', ',' ... as %XX in attribute values; a GTF value of a
            # cleaned copy has stand-in characters
            vals = vals.map(_gtf_restore if is_gtf else
                            (lambda v: unquote(v) if isinstance(v, str) else v))
            # an empty value (GFF3 'Name=', GTF 'gene_name ""') is no name: the next
            # attribute names the row
            named = vals.notna() & (vals.astype(str).str.strip() != "")
            name = vals.where(named, name).astype(object)
    score = pd.to_numeric(df["Score"].astype(str).replace(".", None), errors="coerce") \
        if "Score" in df.columns else pd.Series(float("nan"), index=df.index)
    chrom = df["Chromosome"].astype(str)
    if not is_gtf:  # GFF3 escapes seqids too ('%23' for '#')
        chrom = chrom.map(unquote)
    else:  # the '#' of a cleaned copy (_clean_line)
        chrom = chrom.str.replace(_GTF_HASH, "#", regex=False)
    out = pd.DataFrame({
        "chrom": chrom.to_numpy(dtype=object),
        "start": df["Start"].astype("int64").to_numpy(),
        "end": df["End"].astype("int64").to_numpy(),
        "name": name.astype(str).to_numpy(dtype=object),
        "score": score.astype("float64").to_numpy(),
        # '?' (GFF3: relevant but unknown) is no strand, as '.'
        "strand": df["Strand"].astype(str).replace({"nan": ".", "?": "."}).to_numpy(dtype=object)
        if "Strand" in df.columns else ".",
    })
    _check_rows(path, out, df["Score"] if "Score" in df.columns else None,
                df.index.to_numpy())
    out.attrs["source"] = path
    return out


def _check_rows(path: str, out: pd.DataFrame, score_text: pd.Series | None,
                features: np.ndarray) -> None:
    """A :class:`MalformedFileError` for the first row read whose start is below 1 or past
    its end + 1 (GFF coordinates are 1-based and closed; a zero-length feature has start =
    end + 1), whose strand is not ``+ - . ?`` or whose score is neither a number nor
    ``.``: named by its line (``features``: each row's place among the file's feature
    lines, as pyranges numbers them), with the coordinates as the file writes them."""
    problems = []
    bad = out["start"].to_numpy() < 0
    if bad.any():
        k = int(bad.nonzero()[0][0])
        problems.append((k, (f"start must be >= 1 (GFF coordinates are 1-based), got "
                             f"{out['start'].iat[k] + 1}")))
    bad = out["start"].to_numpy() > out["end"].to_numpy()
    if bad.any():
        k = int(bad.nonzero()[0][0])
        problems.append((k, f"start {out['start'].iat[k] + 1} > end {out['end'].iat[k]}"))
    bad = ~out["strand"].isin(["+", "-", "."]).to_numpy()
    if bad.any():
        k = int(bad.nonzero()[0][0])
        problems.append((k, (f"strand must be '+', '-', '.' or '?', got "
                             f"{out['strand'].iat[k]!r}")))
    if score_text is not None:  # (by position: the rows of out are those kept, renumbered)
        text = score_text.astype(str).to_numpy()
        bad = out["score"].isna().to_numpy() & ~np.isin(text, [".", "nan", "NA"])
        if bad.any():
            k = int(bad.nonzero()[0][0])
            problems.append((k, (f"score (6th column) must be a number or '.', got "
                                 f"{text[k]!r}")))
    if not problems:
        return
    k, problem = min(problems)
    where = _line_of(path, int(features[k]))
    raise MalformedFileError(f"{path}: {where + ': ' if where else ''}{problem}")


def _line_of(path: str, feature: int) -> str | None:
    """'line N' of feature line ``feature`` (counted from 0, comment and blank lines left
    out) of ``path``, or None."""
    seen = -1
    for number, line in enumerate(_feature_lines(path), start=1):
        if line.startswith("#") or not line.strip():
            continue
        seen += 1
        if seen == feature:
            return f"line {number}"
    return None


def _feature_lines(path: str) -> list[str]:
    """The lines of a GFF/GTF file before a ``##FASTA`` section (GFF3 may end with the
    sequences)."""
    lines = []
    with _open_lines(path) as f:
        for line in f:
            if line.startswith(("##FASTA", ">")):
                break
            lines.append(line)
    return lines


class _NeedsCleaning(Exception):
    """A file pyranges would misread: parse a cleaned copy (:func:`_clean_line`)."""


#: what a '#' of a GTF line is written as in the cleaned copy (GTF has no escapes)
_GTF_HASH = "\u2063"
#: what an escaped quote (``\"``, written by some tools) and a ';' inside a quoted GTF
#: value are written as in the cleaned copy (pyranges drops every '"' and splits on '; ')
_GTF_QUOTE = "\u2064"
_GTF_SEMI = "\u2062"
#: what an empty or blank quoted GTF value (``gene_name ""``) is written as in the cleaned
#: copy: pyranges reads ``""`` as the text 'NA' and fails on ``" "``; read back as ''
_GTF_EMPTY = "\u2061"
#: an empty or blank quoted GTF value
_GTF_BLANK = re.compile(r'"\s*"')


def _blank_quoted(quoted: str) -> bool:
    """Whether a quoted GTF value (``'""'``, ``'" "'``) holds nothing but blanks."""
    return not quoted.strip('" \t')
#: a quoted GTF value
_GTF_QUOTED = re.compile(r'"[^"]*"')
#: a '"' after a blank, then a '; ' before the next '"': a quoted value holding '; ' (or
#: a value ending in a blank: :data:`_GTF_QUOTED` tells)
_GTF_OPEN_SEMI = re.compile(r' "[^"]*; ')
#: a GTF attribute separator without the blank pyranges splits on (``'a "x";b "y"'``):
#: a ';' followed by another character, outside double quotes (an even number after it)
_GTF_TIGHT = re.compile(r';(?=\S)(?=(?:[^"]*"[^"]*")*[^"]*$)')


_quieted = False
#: set in the thread that is reading a file through pyranges for genozarr
_reading = threading.local()


def _pyranges_print(*args: Any, **kwargs: Any) -> None:
    """pyranges' ``print``: to the debug log in a thread reading for genozarr (the
    errors here say which line failed), the built-in ``print`` anywhere else."""
    if getattr(_reading, "active", False):
        log.debug("pyranges: %s", " ".join(map(str, args)))
    else:
        print(*args, **kwargs)


def _skiprows(f: Any) -> int:
    """pyranges' ``skiprows`` (the number of '#' lines that start a file), reading bytes:
    pyranges' own opens a plain file in the locale's encoding, which fails on any byte
    past ASCII under ``LANG=C`` (an audit); the user's own calls of pyranges keep it."""
    if not getattr(_reading, "active", False):
        return _PYRANGES_SKIPROWS(f)
    from genozarr.io._handles import open_bytes

    i = 0
    with open_bytes(f) as fh:
        for i, line in enumerate(fh):  # (the count is the answer)
            if line[:1] != b"#":
                break
    return i


_PYRANGES_SKIPROWS: Any = None


def _quiet_pyranges() -> None:
    """Once per process: pyranges 0.1.x calls ``DataFrame.set_index(inplace=True)``,
    deprecated in pandas 3 (pyproject caps pandas below 4, which removes it), and prints
    the GTF line it fails on to stdout (the errors here say it). Its deprecation warning
    is filtered (that message, from the pyranges module only), and its prints go to the
    debug log while genozarr reads a file (:func:`_pyranges_print`; the user's own calls
    of pyranges print as before). (Not by swapping ``sys.stdout`` or the warning filters
    around each read: other threads would lose their output.)"""
    global _quieted
    if _quieted:
        return
    import pyranges.readers

    warnings.filterwarnings("ignore", message="The inplace keyword", module="pyranges")
    pyranges.readers.print = _pyranges_print  # type: ignore[attr-defined]
    global _PYRANGES_SKIPROWS
    _PYRANGES_SKIPROWS = pyranges.readers.skiprows
    pyranges.readers.skiprows = _skiprows
    _quieted = True


def _gtf_restore(value: Any) -> Any:
    """A GTF attribute value of a cleaned copy with its stand-in characters put back."""
    if not isinstance(value, str):
        return value
    if value == _GTF_EMPTY:
        return ""
    return value.replace(_GTF_HASH, "#").replace(_GTF_QUOTE, '"').replace(_GTF_SEMI, ";")


def _open_lines(path: str) -> Any:
    """The file's lines: gzip-compressed or not as its content says (not its name), a
    byte-order mark left out."""
    import gzip

    from genozarr.io._handles import is_gzip

    return gzip.open(path, "rt", encoding="utf-8-sig") \
        if is_gzip(path) else open(path, encoding="utf-8-sig")


def _not_utf8(path: str, error: UnicodeDecodeError) -> MalformedFileError:
    """The error for a GFF/GTF file that is not UTF-8 text, naming its first such line."""
    from genozarr.io._handles import open_bytes

    number = None
    with open_bytes(path) as f:
        for number, line in enumerate(f, start=1):  # (the line is the answer)
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                break
    return MalformedFileError(f"{path}: not a UTF-8 text GFF/GTF file (line {number} is "
                              f"not UTF-8: {error.reason})")


def _unlike_its_name(path: str) -> bool:
    """Whether pyranges, which goes by the name (``.gz``: gzip), would misread ``path``:
    compressed without the suffix or plain with it, or text starting with a byte-order
    mark."""
    import gzip

    from genozarr.io._handles import is_gzip

    compressed = is_gzip(path)
    if compressed != path.lower().endswith(".gz"):
        return True
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as f:
            return f.read(3) == b"\xef\xbb\xbf"
    except (OSError, EOFError):
        return False


def _needs_cleaning(path: str, is_gtf: bool) -> bool:
    """Whether pyranges would misread a feature line of ``path`` without a complaint: a
    '#' inside it (pandas' ``comment='#'`` cuts the line there: ``Name=c#d`` read as
    ``c``), in GFF3 a blank after an attribute's ';' (the next key read with the blank),
    in GTF no blank after it (two attributes read as one value)."""
    with _open_lines(path) as f:
        for line in f:
            if line.startswith(("##FASTA", ">")):
                return False
            if line.startswith("#") or not line.strip():
                continue
            if "#" in line:
                return True
            attributes = line.rstrip("\r\n").rsplit("\t", 1)[-1]
            if is_gtf:
                if '\\"' in attributes or _GTF_TIGHT.search(attributes) is not None:
                    return True
                if _GTF_BLANK.search(attributes) is not None and any(
                        _blank_quoted(q) for q in _GTF_QUOTED.findall(attributes)):
                    return True  # an empty value
                if _GTF_OPEN_SEMI.search(attributes) is not None and any(
                        "; " in q for q in _GTF_QUOTED.findall(attributes)):
                    return True  # a '; ' inside a quoted value
            elif "; " in attributes:
                return True
    return False


def _clean_line(line: str, is_gtf: bool) -> str:
    """A feature line as pyranges reads it right: '#' escaped as ``%23`` in every column
    (the seqid, type and attributes unescaped again after parsing), attributes separated as the format
    says (GFF3 ``key=value;...``, a '=' inside a value escaped as ``%3D``, entries that
    are not ``key=value`` such as ``.`` left out; GTF ``key "value"; ...``)."""
    if line.startswith("#") or not line.strip():
        return line
    cols = line.rstrip("\r\n").split("\t")
    if len(cols) != 9:
        return line
    if is_gtf:  # (GTF has no escapes: stand-in characters, put back after parsing)
        cols[:8] = [c.replace("#", _GTF_HASH) for c in cols[:8]]
        attributes = cols[8].replace("#", _GTF_HASH).replace('\\"', _GTF_QUOTE)
        attributes = _GTF_QUOTED.sub(
            lambda m: f'"{_GTF_EMPTY}"' if _blank_quoted(m.group(0))
            else m.group(0).replace(";", _GTF_SEMI), attributes)
        cols[8] = _GTF_TIGHT.sub("; ", attributes)
        return "\t".join(cols) + "\n"
    cols[:8] = [c.replace("#", "%23") for c in cols[:8]]  # (seqid, source, type, ...)
    kept = []
    for entry in (e.strip() for e in cols[8].split(";")):
        if "=" not in entry:
            continue
        key, value = entry.split("=", 1)
        kept.append(f"{key.strip().replace('#', '%23')}="
                    f"{value.strip().replace('=', '%3D').replace('#', '%23')}")
    cols[8] = ";".join(kept) or "genozarr_no_attributes=."
    return "\t".join(cols) + "\n"


def _retry_without_trailer(path: str, parse: Any, is_gtf: bool,
                           error: Exception) -> pd.DataFrame:
    """After pyranges failed on ``path`` (or would misread it): parse a cleaned copy of
    its feature lines (:func:`_clean_line`; a ``##FASTA`` section after them left out);
    else a :class:`MalformedFileError` that says what is wrong."""
    import tempfile

    kind = "GTF" if is_gtf else "GFF3"
    lines = _feature_lines(path)
    features = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    if not features:
        raise MalformedFileError(f"{path}: no features found (no {kind} lines)") from error
    bad = [ln for ln in features if len(ln.rstrip("\n").split("\t")) != 9]
    where = None if bad else _bad_coordinate(lines)
    if where:
        raise MalformedFileError(f"{path}: cannot be parsed as {kind}: {where}") from error
    if bad:
        raise MalformedFileError(
            f"{path}: cannot be parsed as {kind}: a feature line has "
            f"{len(bad[0].rstrip(chr(10)).split(chr(9)))} tab-separated columns, not 9: "
            f"{bad[0].strip()[:80]!r}") from error
    hint = "" if is_gtf else (" (GTF attributes, 'key \"value\";', in a .gff file? name it "
                              ".gtf)")
    if not is_gtf and any('"' in ln.rsplit("\t", 1)[-1] and "=" not in ln.rsplit("\t", 1)[-1]
                          for ln in features):
        raise MalformedFileError(f"{path}: cannot be parsed as {kind}: its attributes are "
                                 f"not key=value{hint}") from error
    suffix = ".gtf" if is_gtf else ".gff3"
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False,
                                     encoding="utf-8") as tmp:
        # (comment lines left out: pyranges' GTF reader fails on one after a feature
        # line; the feature lines keep their order, by which errors name their line)
        tmp.writelines(_clean_line(line, is_gtf) for line in lines if not line.startswith("#"))
    try:
        return parse(tmp.name)
    except Exception as e:  # as for the whole file
        where = _bad_gtf_attribute(lines) if is_gtf else None
        raise MalformedFileError(
            f"{path}: cannot be parsed as {kind}: {where or e}{hint}") from e
    finally:
        os.unlink(tmp.name)


def _bad_coordinate(lines: list[str]) -> str | None:
    """The first feature line of ``lines`` whose start or end (columns 4 and 5) is not a
    whole number, as 'line N ...', or None."""
    for number, line in enumerate(lines, start=1):
        if line.startswith("#") or not line.strip():
            continue
        cols = line.rstrip("\r\n").split("\t")
        if len(cols) >= 5 and not all(c.strip().isdigit() for c in cols[3:5]):
            return (f"line {number}: start and end ({cols[3]!r}, {cols[4]!r}) must be whole "
                    f"numbers >= 1 (GFF coordinates are 1-based): {line.strip()[:80]!r}")
    return None


def _bad_gtf_attribute(lines: list[str]) -> str | None:
    """The first GTF attribute of ``lines`` that is not ``key "value"`` (what pyranges
    fails on without naming it), as 'line N: ...', or None."""
    for number, line in enumerate(lines, start=1):
        if line.startswith("#") or not line.strip():
            continue
        attributes = _clean_line(line, True).rstrip("\r\n").split("\t")[-1]
        for entry in attributes.rstrip("; ").split("; "):
            if len(entry.split(None, 1)) != 2:
                return (f"line {number} has an attribute without a value ({entry.strip()!r}; "
                        f"GTF attributes are 'key \"value\";'): {line.strip()[:80]!r}")
    return None


def _tell_default(path: str, kept: int, total: int) -> None:
    """Log once per file (path, size, mtime) and process that only gene lines are read."""
    try:
        st = os.stat(path)
        key = (path, *stat_signature(st))
    except OSError:  # pragma: no cover - the file was just read
        key = (path, -1, -1, -1, -1)
    with _told_lock:
        if key in _told:
            return
        _told.add(key)
    log.info("%s: no feature type given, so the %d 'gene' lines of %d are the regions "
             "(pass feature='exon', 'transcript', ... for other lines, or feature='*' for "
             "every line)", path, kept, total)
