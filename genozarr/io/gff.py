"""GFF3/GTF reading through :mod:`pyranges`, converted to 0-based half-open regions."""

from __future__ import annotations

import os
import warnings

import pandas as pd

from genozarr.errors import MalformedFileError

__all__ = ["read_gff"]

_NAME_ATTRIBUTES = ("gene_name", "Name", "gene_id", "ID", "transcript_id")


def read_gff(path: str | os.PathLike, feature: str | None = None) -> pd.DataFrame:
    """Read a GFF3 or GTF file as regions.

    GFF coordinates are 1-based and closed; the result is 0-based half-open
    (``start = gff_start - 1``, ``end = gff_end``), as pyranges converts them.

    Parameters
    ----------
    path
        ``.gtf``, ``.gff``, ``.gff3`` (optionally gzipped).
    feature
        Keep only rows of this feature type (3rd column, e.g. ``'gene'``).

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
        If pyranges cannot parse it, or no row has the requested feature type.
    """
    from genozarr.io._handles import check_input_file

    path = os.fspath(path)
    check_input_file(path, "GFF/GTF")  # missing, a directory, permission denied
    import pyranges as pr

    is_gtf = path.lower().endswith((".gtf", ".gtf.gz"))
    try:
        with warnings.catch_warnings():
            # pyranges 0.1.x calls DataFrame.set_index(inplace=True), deprecated in pandas 3
            # (pyproject caps pandas below 4, which removes it)
            warnings.filterwarnings("ignore", message="The inplace keyword")
            gr = pr.read_gtf(path) if is_gtf else pr.read_gff3(path)
    except Exception as e:  # pyranges raises assorted pandas/ValueErrors for bad input
        raise MalformedFileError(f"{path}: cannot be parsed as {'GTF' if is_gtf else 'GFF3'}: "
                                 f"{e}") from e
    df = gr.df
    if df.empty:
        raise MalformedFileError(f"{path}: no features found")
    if feature is not None:
        df = df[df["Feature"].astype(str) == feature]
        if df.empty:
            raise MalformedFileError(f"{path}: no rows with feature type {feature!r}")
    name = pd.Series(".", index=df.index, dtype=object)
    for attr in reversed(_NAME_ATTRIBUTES):
        if attr in df.columns:
            vals = df[attr]
            name = vals.where(vals.notna(), name).astype(object)
    score = pd.to_numeric(df["Score"].astype(str).replace(".", None), errors="coerce") \
        if "Score" in df.columns else pd.Series(float("nan"), index=df.index)
    out = pd.DataFrame({
        "chrom": df["Chromosome"].astype(str).to_numpy(dtype=object),
        "start": df["Start"].astype("int64").to_numpy(),
        "end": df["End"].astype("int64").to_numpy(),
        "name": name.astype(str).to_numpy(dtype=object),
        "score": score.astype("float64").to_numpy(),
        "strand": df["Strand"].astype(str).replace({"nan": "."}).to_numpy(dtype=object)
        if "Strand" in df.columns else ".",
    })
    out.attrs["source"] = path
    return out
