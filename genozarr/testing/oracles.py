"""Independent computations that tests compare genozarr's values with.

An oracle reads the input file with the reference library alone (pyBigWig for BigWig) and
none of genozarr's reading code, so a test that compares against it checks genozarr's
decoding, windowing and gap handling rather than repeating them.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from genozarr.testing.simulate import write_bigwig
>>> track = np.full(20, np.nan)
>>> track[10:15] = 2.0
>>> path = write_bigwig(os.path.join(tempfile.mkdtemp(), "x.bw"), {"chr1": track})
>>> bigwig_values(path, "chr1", 8, 22).tolist()
[0.0, 0.0, 2.0, 2.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
>>> bigwig_values(path, "chr1", 13, 17, nan_to_num=False).tolist()
[2.0, 2.0, nan, nan]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import os

    from numpy.typing import NDArray

__all__ = ["bigwig_values"]


def bigwig_values(path: str | os.PathLike[str], chrom: str, start: int, end: int, *,
                  nan_to_num: bool = True) -> NDArray[np.float32]:
    """pyBigWig's per-base values of ``[start, end)`` on ``chrom``, as float32.

    Parameters
    ----------
    path : str or os.PathLike
        A BigWig file.
    chrom : str
        A chromosome of the file.
    start, end : int
        0-based, half-open interval; it may reach before 0 or past the chromosome's end.
    nan_to_num : bool, default True
        Give 0 for bases without data (gaps, and positions outside the chromosome);
        ``False`` gives NaN there. Infinities are kept either way.

    Returns
    -------
    numpy.ndarray
        float32 array of ``end - start`` values.

    Raises
    ------
    KeyError
        ``chrom`` is not a chromosome of the file.
    """
    import pyBigWig

    out = np.full(end - start, np.nan, np.float32)
    with pyBigWig.open(str(path)) as bw:
        length = bw.chroms().get(chrom)
        if length is None:
            raise KeyError(f"{path}: no chromosome {chrom!r}")
        lo, hi = max(start, 0), min(end, length)
        values = bw.values(chrom, lo, hi, numpy=True) if hi > lo else out[:0]
        if values.size:  # (pyBigWig reads nothing from a file of no data at all)
            out[lo - start:hi - start] = values
    if nan_to_num:
        out[np.isnan(out)] = 0.0
    return out
