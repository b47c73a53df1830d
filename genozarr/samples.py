"""Sample sheets: many input files with per-sample metadata.

A sample sheet is a CSV/TSV file (or a :class:`pandas.DataFrame`) with one row per input
file: a ``file`` column (paths relative to the sheet's directory, or URLs), a
``condition`` column (the condition name; default: the file name without extension), and
any metadata columns (cell type, assay, replicate, ...). Every ``create_from_*`` of
:class:`~genozarr.dataset.Cover` takes one where it takes a list of files; the metadata
become coordinates along ``condition`` in the store and in xarray, so conditions can be
selected by them::

    ds = genozarr.open_store(cover.garray.path)
    ds.sel(condition=ds.cell_type == "K562")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genozarr.errors import ArgumentError, InputFileError, MalformedFileError

__all__ = ["SampleSheet", "is_sample_sheet", "read_sample_sheet", "RESERVED_COLUMNS"]

_SUFFIXES = (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz")

#: names a metadata column cannot take: they name genozarr's own arrays and dimensions
RESERVED_COLUMNS = frozenset({"data", "region", "position", "strand", "condition", "window",
                              "region_chrom", "region_start", "region_end", "region_strand",
                              "region_name"})


@dataclass(frozen=True)
class SampleSheet:
    """Input files, their condition names and metadata (one entry per file).

    Attributes
    ----------
    files
        Input paths or URLs.
    conditions
        Condition names, unique.
    metadata
        ``{column: values}`` per condition, JSON-able (str, int, float or None).
    source
        Where the sheet came from (a path, or ``'DataFrame'``).
    """

    files: list[str]
    conditions: list[str]
    metadata: dict[str, list[Any]]
    source: str


def is_sample_sheet(value: Any) -> bool:
    """Whether ``value`` is a sample sheet: a DataFrame, or a path to a CSV/TSV file."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return True
    if isinstance(value, (str, os.PathLike)):
        return str(value).lower().endswith(_SUFFIXES)
    return False


def _plain(value: Any) -> Any:
    import numpy as np
    import pandas as pd

    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def read_sample_sheet(sheet: Any, *, file_column: str = "file",
                      condition_column: str = "condition") -> SampleSheet:
    """Read a sample sheet.

    Parameters
    ----------
    sheet
        A CSV/TSV path (the separator is taken from the suffix: ``.tsv``/``.tab`` tab,
        ``.csv`` comma) or a DataFrame.
    file_column
        Column of the input files; relative paths are relative to the sheet's directory.
    condition_column
        Column of the condition names; when absent, the file names without extension.

    Returns
    -------
    SampleSheet

    Raises
    ------
    InputFileError
        The sheet cannot be read.
    MalformedFileError
        A missing file column, empty sheet, duplicate condition names or a metadata
        column named like one of genozarr's own arrays.
    """
    import pandas as pd

    if isinstance(sheet, pd.DataFrame):
        frame, source, base = sheet.copy(), "DataFrame", None
    else:
        source = str(sheet)
        sep = "\t" if source.lower().endswith((".tsv", ".tab", ".tsv.gz")) else ","
        try:
            frame = pd.read_csv(source, sep=sep, dtype={file_column: str,
                                                        condition_column: str})
        except FileNotFoundError as e:
            raise InputFileError(f"sample sheet {source} does not exist") from e
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
            raise InputFileError(f"cannot read sample sheet {source}: {e}") from e
        base = Path(source).resolve().parent
    frame.columns = [str(c).strip() for c in frame.columns]
    if file_column not in frame.columns:
        raise MalformedFileError(
            f"sample sheet {source} has no {file_column!r} column (it has "
            f"{list(frame.columns)}); one row per input file with its path is needed")
    if frame.empty:
        raise MalformedFileError(f"sample sheet {source} has no rows")
    files = []
    for f in frame[file_column].astype(str):
        f = os.path.expanduser(f.strip())
        if base is not None and "://" not in f and not os.path.isabs(f):
            f = str(base / f)
        files.append(f)
    if condition_column in frame.columns:
        conditions = [str(c).strip() for c in frame[condition_column]]
    else:
        conditions = [Path(f).name.split(".")[0] for f in files]
    if len(set(conditions)) != len(conditions):
        dup = sorted({c for c in conditions if conditions.count(c) > 1})
        raise MalformedFileError(f"sample sheet {source}: condition names must be unique, "
                                 f"{dup} occur more than once")
    columns = [c for c in frame.columns if c not in (file_column, condition_column)]
    bad = [c for c in columns if c in RESERVED_COLUMNS or not c or "/" in c]
    if bad:
        raise MalformedFileError(
            f"sample sheet {source}: metadata columns {bad} are reserved or not valid names "
            f"(reserved: {sorted(RESERVED_COLUMNS)}); rename them")
    metadata = {c: [_plain(v) for v in frame[c].tolist()] for c in columns}
    return SampleSheet(files, conditions, metadata, source)


def resolve_inputs(files: Any, conditions: Any, what: str) -> tuple[Any, Any, dict[str, list]]:
    """``(files, conditions, metadata)`` of a constructor's file argument, which may be a
    sample sheet (then ``conditions`` must be None: the sheet names them)."""
    if not is_sample_sheet(files):
        return files, conditions, {}
    sheet = read_sample_sheet(files)
    if conditions is not None:
        raise ArgumentError(f"the {what} inputs come from the sample sheet {sheet.source}, "
                            "which names the conditions: pass conditions=None")
    return sheet.files, sheet.conditions, sheet.metadata
