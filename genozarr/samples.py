"""Sample sheets: many input files with per-sample metadata.

A sample sheet is a CSV/TSV file (or a :class:`pandas.DataFrame`) with one row per input
file: a ``file`` column (paths relative to the sheet's directory or URL, or URLs), a
``condition`` column (the condition name; default: the file name without extension), and
any metadata columns (cell type, assay, replicate, ...). Every ``create_from_*`` of
:class:`~genozarr.dataset.Cover` takes one where it takes a list of files; the metadata
become coordinates along ``condition`` in the store and in xarray, so conditions can be
selected by them::

    ds = genozarr.open_store(cover.garray.path)
    ds.sel(condition=ds.cell_type == "K562")
"""

from __future__ import annotations

import math
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from genozarr.errors import (
    ArgumentError,
    GenozarrError,
    InputFileError,
    MalformedFileError,
    MissingFileError,
)
from genozarr.io._remote import is_url, local_form
from genozarr.store.layout import MARKER, WINDOWS, metadata_values

__all__ = ["SampleSheet", "condition_metadata", "is_sample_sheet", "read_sample_sheet",
           "RESERVED_COLUMNS"]

_SUFFIXES = (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz")

#: names a metadata column cannot take: they name genozarr's own arrays and dimensions
RESERVED_COLUMNS = frozenset({"data", "region", "position", "strand", "condition", "window",
                              "region_chrom", "region_start", "region_end", "region_strand",
                              "region_name"})
#: also refused: the store's own entries, which a metadata array may not shadow
_RESERVED = RESERVED_COLUMNS | {"zarr.json", MARKER, WINDOWS}


@dataclass(frozen=True)
class SampleSheet:
    """Input files, their condition names and metadata (one entry per file).

    Parameters
    ----------
    files
        Input paths or URLs.
    conditions
        Condition names, one per file, unique.
    metadata
        ``{column: values}``, one value per condition.
    source
        Where the sheet came from (a path, or ``'DataFrame'``).

    Attributes
    ----------
    files
        Input paths or URLs.
    conditions
        Condition names, unique.
    metadata
        ``{column: values}`` per condition, JSON-able (str, int, float, bool or None),
        each column as the store keeps it (see :func:`genozarr.store.layout.metadata_kind`).
    source
        Where the sheet came from (a path, or ``'DataFrame'``).
    """

    files: list[str]
    conditions: list[str]
    metadata: dict[str, list[Any]]
    source: str


def is_sample_sheet(value: Any) -> bool:
    """Whether ``value`` is a sample sheet: a DataFrame, or a path or URL of a CSV/TSV file
    (a URL's query, as in a signed URL, is not part of its name).

    Parameters
    ----------
    value
        What a ``create_from_*`` constructor was given as its files.

    Returns
    -------
    bool
        True for a :class:`pandas.DataFrame`, or a ``str`` or ``os.PathLike`` whose name
        ends in ``.csv``, ``.tsv``, ``.tab``, ``.csv.gz`` or ``.tsv.gz`` (any case); the
        file is not opened.
    """
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return True
    if isinstance(value, (str, os.PathLike)):
        name = str(value)
        if is_url(name):
            name = urlsplit(name).path
        return name.lower().endswith(_SUFFIXES)
    return False


#: cells a CSV/TSV sheet leaves without a value in metadata columns (pandas' defaults);
#: in the file and condition columns only an empty cell has none
_NA_CELLS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                       "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                       "nan", "null"})


def _plain(value: Any) -> Any:
    import numpy as np
    import pandas as pd

    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA \
            or value is pd.NaT or (isinstance(value, np.datetime64) and np.isnat(value)):
        return None  # (NaT: a missing date)
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, str):
        return value.strip()
    return value if isinstance(value, (int, float, bool)) else str(value)


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value))) or (
        isinstance(value, str) and not value.strip())


def _named_columns(frame: Any, source: str) -> Any:
    """``frame`` without its unnamed columns that hold no value (the column a trailing
    separator makes); an unnamed column with values, or a name given twice, is an error."""
    import re

    unnamed = [i for i, c in enumerate(frame.columns)
               if not c or (source == "DataFrame" and re.fullmatch(r"Unnamed: \d+", c))]
    keep = []
    for i in range(len(frame.columns)):
        if i in unnamed:
            if not all(_missing(v) for v in frame.iloc[:, i].tolist()):
                raise MalformedFileError(
                    f"sample sheet {source}: column {i + 1} has values but no name in the "
                    "header; name it (or remove its values)")
        else:
            keep.append(i)
    frame = frame.iloc[:, keep]
    names = list(frame.columns)
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise MalformedFileError(f"sample sheet {source}: column names must be unique, "
                                 f"{dup} occur more than once in the header")
    return frame


def _typed(column: Any) -> Any:
    """A metadata column read as text: numbers where every cell with a value is one and
    each whole number is read exactly (``12345678901234567891`` beside ``1.5`` would be
    rounded to a float64: the column stays text), ``None`` for pandas' missing-value
    spellings, else the stripped text."""
    import re

    import pandas as pd

    # (object dtype: pandas 3 would infer its string dtype, whose missing value is NaN)
    text = pd.Series([None if v.strip() in _NA_CELLS else v.strip() for v in column],
                     index=column.index, name=column.name, dtype=object)
    try:
        numbers = pd.to_numeric(text)
    except (ValueError, TypeError, OverflowError):
        return text
    for cell, number in zip(text.tolist(), numbers.tolist()):
        if cell is not None and re.fullmatch(r"[+-]?\d+", cell) and int(cell) != number:
            return text
    return numbers


def _join_url(sheet_url: str, relative: str) -> str:
    """``relative`` resolved against the folder of the sheet at ``sheet_url`` (the sheet's
    query, such as a signature, is not carried over)."""
    parts = urlsplit(sheet_url)
    folder = parts.path.rpartition("/")[0]
    path = posixpath.normpath(posixpath.join(folder + "/", relative))
    return urlunsplit(parts._replace(path=path, query="", fragment=""))


def _record_widths(text: str, sep: str) -> list[tuple[int, int]]:
    """``(line it starts on, number of cells)`` of each record pandas reads in the sheet
    ``text``, the header first (its python engine: a quoted cell may span lines; a line
    with no cell or one blank cell is skipped)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text), delimiter=sep, skipinitialspace=True)
    rows, before = [], 0
    for row in reader:
        if len(row) > 1 or (len(row) == 1 and row[0].strip()):
            rows.append((before + 1, len(row)))
        before = reader.line_num
    return rows


def _read_table(source: str, storage_options: Any) -> Any:
    """The sheet at ``source`` (a path or URL), every cell as text; ``attrs["lines"]``
    holds each row's line number in the file (blank lines counted)."""
    import gzip
    import io

    import pandas as pd

    name = urlsplit(source).path if is_url(source) else source
    shown = source  # in messages: a URL without its secrets
    if is_url(source):
        from genozarr.io._remote import display_url

        shown = display_url(source)
    sep = "\t" if name.lower().endswith((".tsv", ".tab", ".tsv.gz")) else ","
    # header=None: the header line is taken as it is written (pandas would rename an
    # empty name 'Unnamed: 3' and a repeated one 'ct.1'), checked by read_sample_sheet
    # (the python engine: a row with fewer cells than the header has None where it has
    # no cell, an empty cell is ''; the C engine gives '' for both; dtype=object: pandas
    # 3's dtype=str makes that None a float NaN)
    kwargs = {"sep": sep, "dtype": object, "keep_default_na": False,
              "skipinitialspace": True, "header": None, "engine": "python"}

    def table_of(data: bytes) -> Any:
        if name.lower().endswith(".gz"):
            data = gzip.decompress(data)
        text = data.decode("utf-8")
        if "\r" in text and "\n" not in text:  # old Mac line ends (Excel's "CSV (Mac)")
            text = text.replace("\r", "\n")
        try:
            table = pd.read_csv(io.StringIO(text), **kwargs)
        except pd.errors.ParserError as e:  # a row longer than the header: its line
            count = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
            if not count:
                raise
            # the first record longer than the header, by its line (pandas' own number
            # counts rows, some of them skipped, not lines)
            found = [(line, n) for line, n in _record_widths(text, sep)[1:]
                     if n > int(count[1])]
            line, cells = found[0] if found else (int(count[2]), int(count[3]))
            raise MalformedFileError(
                f"sample sheet {shown}: line {line} has {cells} cells where the "
                f"header has {count[1]}; remove its extra cells (or name their column)"
            ) from e
        header = [str(c) for c in table.iloc[0].tolist()]
        body = table.iloc[1:].reset_index(drop=True)
        starts = [line for line, _ in _record_widths(text, sep)]
        numbers = starts[1:] if len(starts) == len(body) + 1 else \
            list(range(2, len(body) + 2))  # (should the csv module and pandas disagree)
        # a row shorter than the header (an unnamed trailing column aside): its last
        # cells would be missing values without a word
        named = max((i + 1 for i, c in enumerate(header) if c.strip()), default=0)
        for line, row in zip(numbers, body.itertuples(index=False)):
            if any(v is None for v in row[:named]):
                cells = sum(v is not None for v in row)
                raise MalformedFileError(
                    f"sample sheet {shown}: line {line} has {cells} cells where the "
                    f"header has {len(header)}; fill in its missing cells (an empty cell, "
                    "between separators, is a missing value)")
        body.columns = header
        body.attrs["lines"] = numbers
        return body

    try:
        local = source
        if is_url(source):
            # through the input cache, as every remote input: its errors name the URL
            # without secrets and say what the server answered (HTTP 500, refused ...)
            from genozarr.io._remote import fetch

            local = fetch(source, "sample sheet", storage_options, kind="file").path
        with open(local, "rb") as fh:
            return table_of(fh.read())
    except GenozarrError:
        raise
    except FileNotFoundError as e:
        raise MissingFileError(f"sample sheet {shown} does not exist", shown) from e
    except pd.errors.EmptyDataError as e:
        raise MalformedFileError(f"sample sheet {shown} is empty: it needs a header line "
                                 "and one row per input file") from e
    except pd.errors.ParserError as e:
        raise InputFileError(f"cannot read sample sheet {shown}: {e}") from e
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise InputFileError(f"cannot read sample sheet {shown}: {e}") from e


def _bad_names(columns: Any) -> list[str]:
    """The names among ``columns`` that a metadata column cannot take."""
    return [c for c in columns if c in _RESERVED or not c or "/" in c or c.startswith("__")
            or set(c) == {"."} or any(ch.isspace() for ch in c)]


def _bad_names_message(bad: list[str]) -> str:
    return (f"metadata columns {bad} are reserved or not valid names (they name "
            f"coordinates along 'condition', stored as arrays of the store: no blanks or "
            f"'/', not only periods, not starting with '__', and not one of "
            f"{sorted(_RESERVED)}); rename them, e.g. 'cell type' -> 'cell_type'")


def condition_metadata(columns: Any, conditions: Sequence[str]) -> dict[str, list[Any]]:
    """Metadata given per condition, as a store keeps them (the sample sheet's rule).

    Parameters
    ----------
    columns
        A :class:`pandas.DataFrame` (one row per condition: indexed by the condition
        names, in any order, or with the default index, rows in the conditions' order) or
        a mapping ``{column: values}`` with one value per condition in the conditions'
        order.
    conditions
        The condition names.

    Returns
    -------
    dict
        ``{column: [value per condition]}``: numbers, True/False, text, None where
        missing (as ``genozarr.store.layout.metadata_values`` keeps them).

    Raises
    ------
    ArgumentError
        For a column of another length, a DataFrame index that neither names each
        condition once nor is the default, a name a metadata column cannot take, or an
        infinite value (the store keeps metadata as JSON).
    """
    import pandas as pd

    conditions = [str(c) for c in conditions]
    if isinstance(columns, pd.DataFrame):
        frame = columns
        labels = [str(i) for i in frame.index]
        if frame.index.tolist() != list(range(len(frame))):  # labelled rows: by name
            if sorted(labels) != sorted(conditions) or len(set(labels)) != len(labels):
                raise ArgumentError(
                    f"condition_metadata: the DataFrame's index {labels[:8]} does not name "
                    f"each condition {conditions[:8]} once; index it by the condition "
                    "names (any order), or give it the default index (rows in the "
                    "conditions' order)")
            frame = frame.set_axis(labels).loc[conditions]
        columns = {c: frame[c].tolist() for c in frame.columns}
    elif not isinstance(columns, Mapping):
        raise ArgumentError("condition_metadata must be a DataFrame or a mapping of column "
                            f"names to values, got {type(columns).__name__}")
    out: dict[str, list[Any]] = {}
    for column, values in columns.items():
        if not isinstance(column, str):
            raise ArgumentError(f"condition_metadata: column names must be text, got "
                                f"{column!r}")
        values = list(values) if not isinstance(values, str) else [values]
        if len(values) != len(conditions):
            raise ArgumentError(f"condition_metadata: column {column!r} has {len(values)} "
                                f"values for {len(conditions)} conditions {conditions}")
        kept = metadata_values(_plain(v) for v in values)
        if any(isinstance(v, float) and math.isinf(v) for v in kept):
            raise ArgumentError(f"condition_metadata: column {column!r} holds an infinity; "
                                "the store keeps metadata as JSON, which has none")
        out[column] = kept
    bad = _bad_names(out)
    if bad:
        raise ArgumentError(f"condition_metadata: {_bad_names_message(bad)}")
    return out


def read_sample_sheet(sheet: Any, *, file_column: str = "file",
                      condition_column: str = "condition",
                      storage_options: dict[str, Any] | None = None) -> SampleSheet:
    """Read a sample sheet.

    Parameters
    ----------
    sheet
        A CSV/TSV path or URL (the separator is taken from the suffix: ``.tsv``/``.tab``
        tab, ``.csv`` comma; ``.gz`` is decompressed) or a DataFrame. Blanks around cells
        and column names are ignored. A file is read as text: its metadata columns whose
        every value is a number become numbers (unless a whole number would be rounded:
        then the column stays text), and pandas' spellings of a missing value (``NA``,
        ``nan``, an empty cell ...) become None. A DataFrame's cells keep their types (a
        column of strings stays text, as the frame holds it; NaN, None and ``pd.NA``
        become None; a column of True/False stays bool). A column is kept as the store
        keeps it (:func:`genozarr.store.layout.metadata_kind`): one that holds True/False
        and a missing value, values of different kinds (``1``, ``'x'``) or a whole number
        past int64 (or one a float64 would round) becomes text: ``'True'``, ``'1'``,
        ``'12345678901234567891'``, missing values None. A column without a name and
        without values (as a trailing separator makes) is ignored.
    file_column
        Column of the input files; relative paths are relative to the folder the sheet
        is given in (a link to a sheet: the link's folder, not its target's), or to the
        sheet's URL; to the working directory for a DataFrame.
    condition_column
        Column of the condition names, read as text (``01`` stays ``01``); when absent,
        the file names without their extensions.
    storage_options
        fsspec options (credentials, endpoint) for a sheet given as a URL, as for input
        files (see :func:`genozarr.io._remote.options_for`).

    Returns
    -------
    SampleSheet

    Raises
    ------
    InputFileError
        The sheet cannot be read, or an input file it lists (a local path) does not exist
        (naming the sheet and the line or row).
    MalformedFileError
        An empty sheet, a row with fewer or more cells than the header, a missing file
        column, a row without a file or (with a condition column) without a condition
        name, duplicate condition names, a column name given twice, a column with values
        but no name, or a metadata column named like one of genozarr's own arrays or
        store entries, or with blanks in its name.
    """
    import pandas as pd

    from genozarr.sources import file_condition_names

    if isinstance(sheet, pd.DataFrame):
        frame, source, base = sheet.copy(), "DataFrame", None
        rows = [repr(i) for i in frame.index]
        where = ("the row at index", "the rows at index")
    else:
        source = local_form(sheet)  # a file:// URL: its path; ~ expanded
        frame = _read_table(source, storage_options)
        # (the folder the sheet is given in, as for a spec: a link to a sheet elsewhere
        # names the files beside the link)
        base = source if is_url(source) else Path(os.path.abspath(source)).parent
        if is_url(source):  # named in messages (and the sheet's source) without secrets
            from genozarr.io._remote import display_url

            source = display_url(source)
        rows = [str(n) for n in frame.attrs.get("lines", range(2, len(frame) + 2))]
        where = ("line", "lines")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = _named_columns(frame, source)
    if file_column not in frame.columns:
        raise MalformedFileError(
            f"sample sheet {source} has no {file_column!r} column (it has "
            f"{list(frame.columns)}); one row per input file with its path is needed")
    if frame.empty:
        raise MalformedFileError(f"sample sheet {source} has no rows")

    def cells(column: str, what: str) -> list[str]:
        values = frame[column].tolist()
        empty = [r for r, v in zip(rows, values) if _missing(v)]
        if empty:
            one = len(empty) == 1
            raise MalformedFileError(
                f"sample sheet {source}: {where[not one]} {', '.join(empty)} "
                f"{'has' if one else 'have'} no {what} (column {column!r})")
        # (a path given as bytes, as in a file list: its local path)
        return [(os.fsdecode(v) if isinstance(v, bytes) else str(v)).strip() for v in values]

    files = []
    for f in cells(file_column, "input file"):
        f = local_form(f)  # a file:// URL: its path; ~ expanded
        if isinstance(base, str) and not is_url(f) and not os.path.isabs(f):
            f = _join_url(base, f)
        elif isinstance(base, Path) and not is_url(f) and not os.path.isabs(f):
            f = str(base / f)
        files.append(f)
    if condition_column in frame.columns:
        conditions = cells(condition_column, "condition name (fill it in, or drop the "
                                             "column to name conditions after their files)")
    elif any(c.casefold() == condition_column.casefold() for c in frame.columns):
        # ('Condition' was kept as metadata, the conditions named after the files)
        other = next(c for c in frame.columns if c.casefold() == condition_column.casefold())
        raise MalformedFileError(
            f"sample sheet {source} has a column {other!r} but no {condition_column!r} "
            f"column: column names are case-sensitive; name it {condition_column!r} to name "
            "the conditions, or rename it to keep it as metadata")
    else:
        conditions = file_condition_names(files)
    if len(set(conditions)) != len(conditions):  # (named after the sheet, not the files)
        dup = sorted({c for c in conditions if conditions.count(c) > 1})
        places = "; ".join(
            f"{c!r} on {where[1]} {', '.join(r for r, d in zip(rows, conditions) if d == c)}"
            for c in dup)
        raise MalformedFileError(f"sample sheet {source}: condition names must be unique, "
                                 f"{dup} occur more than once ({places})")
    columns = [c for c in frame.columns if c not in (file_column, condition_column)]
    bad = _bad_names(columns)
    if bad:
        raise MalformedFileError(f"sample sheet {source}: {_bad_names_message(bad)}")
    if base is not None:  # read as text: give numbers and missing values their types
        frame = frame.assign(**{c: _typed(frame[c]) for c in columns})
    # each column as the store keeps it: True/False with a missing value, a mixture of
    # kinds or a whole number past int64 as text (the same here as in the store)
    metadata = {c: metadata_values(_plain(v) for v in frame[c].tolist()) for c in columns}
    for c, values in metadata.items():  # JSON, where the store keeps them, has no infinity
        endless = [r for r, v in zip(rows, values) if isinstance(v, float) and math.isinf(v)]
        if endless:
            raise MalformedFileError(
                f"sample sheet {source}: metadata column {c!r} holds an infinity ("
                f"{where[len(endless) > 1]} {', '.join(endless)}); the store keeps metadata "
                "as JSON, which has none: write a number, or leave the cell empty")
    # the input files last (after the sheet's own problems): one that does not exist is
    # named with its line (a URL is fetched by the build, which names it)
    absent = [(r, f) for r, f in zip(rows, files) if not is_url(f) and not os.path.exists(f)]
    if absent:
        one = len(absent) == 1
        raise MissingFileError(
            f"sample sheet {source}: {where[not one]} {', '.join(r for r, _ in absent)} "
            f"{'names an input file that does' if one else 'name input files that do'} not "
            f"exist: {', '.join(f for _, f in absent)}", absent[0][1])
    return SampleSheet(files, conditions, metadata, source)


def _bed_lines(path: Any) -> bool:
    """Whether a local file's first line holding data reads as a BED line (chromosome,
    then two whole numbers: a sheet's first line is its header); False where it cannot
    be read, so that reading it as a sheet says what is wrong."""
    import gzip

    name = local_form(str(path)) if isinstance(path, (str, os.PathLike)) else str(path)
    if is_url(name) or not os.path.isfile(name):  # (a file:// URL: its path)
        return False
    try:
        opener = gzip.open if name.lower().endswith(".gz") else open
        with opener(name, "rt", encoding="utf-8", errors="replace", newline=None) as f:
            for _, line in zip(range(1000), f):
                if not line.strip() or line.startswith("#") or \
                        re.match(r"(track|browser)(\s|$)", line):  # not 'track_id'
                    continue
                fields = line.split("\t") if "\t" in line else line.split()
                return len(fields) >= 3 and all(f.strip().isdigit() for f in fields[1:3])
    except (OSError, EOFError, ValueError):
        pass
    return False


def _reads_as_sheet(item: Any) -> bool:
    """Whether ``item`` is a DataFrame, or a local file named as a sheet whose first line
    holding data is a header naming a ``file`` column (a URL: not opened, False)."""
    import pandas as pd

    if isinstance(item, pd.DataFrame):
        return True
    if not is_sample_sheet(item) or _bed_lines(item):
        return False
    name = local_form(str(item))
    if is_url(name) or not os.path.isfile(name) or name.lower().endswith(".gz"):
        return False
    try:
        with open(name, encoding="utf-8-sig", errors="replace") as f:
            for _, line in zip(range(1000), f):
                if line.strip() and not line.startswith("#"):
                    return "file" in [c.strip().strip('"') for c in re.split(r"[\t,]", line)]
    except OSError:
        pass
    return False


def sheet_of(files: Any, *, bed: bool = False) -> Any:
    """The sample sheet a constructor's file argument gives (itself, or the one item of a
    list), or None where it is no sheet. With ``bed``, a local file named as a sheet
    (``peaks.tsv``) whose lines read as BED lines is a BED file, not a sheet. A sheet among
    several inputs is an :class:`~genozarr.errors.ArgumentError`; among BED inputs (often
    named ``.tsv``) only a DataFrame, or a local file whose header names a ``file``
    column, is taken for one."""
    one = files[0] if isinstance(files, (list, tuple)) and len(files) == 1 else files
    if isinstance(one, (list, tuple)):  # several inputs: none of them may be a sheet
        for item in one:
            # (BED files are often named .tsv: among BED inputs, only what reads as a
            # sheet, a DataFrame or a local file whose header names a 'file' column)
            if is_sample_sheet(item) if not bed else _reads_as_sheet(item):
                shown = "given as a DataFrame" if not isinstance(item, (str, os.PathLike)) \
                    else os.fspath(item)
                raise ArgumentError(
                    f"the sample sheet {shown} is one of {len(one)} inputs: a sample sheet "
                    "lists every input of a dataset, so give it alone (files=sheet), or "
                    "give the input files themselves")
        return None
    if not is_sample_sheet(one) or (bed and _bed_lines(one)):
        return None
    return one


def resolve_inputs(files: Any, conditions: Any, what: str,
                   storage_options: dict[str, Any] | None = None, *, bed: bool = False,
                   ) -> tuple[Any, Any, dict[str, list]]:
    """``(files, conditions, metadata)`` of a constructor's file argument, which may be a
    sample sheet, or a list holding one sheet (then ``conditions`` must be None: the sheet
    names them); ``storage_options`` are those of the input files, used for a sheet URL;
    ``bed`` as for :func:`sheet_of`."""
    given = sheet_of(files, bed=bed)
    if given is None:
        return files, conditions, {}
    sheet = read_sample_sheet(given, storage_options=storage_options)
    if conditions is not None:
        raise ArgumentError(f"the {what} inputs come from the sample sheet {sheet.source}, "
                            "which names the conditions: pass conditions=None")
    return sheet.files, sheet.conditions, sheet.metadata
