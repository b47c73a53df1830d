"""File readers and writers: FASTA, BigWig, BAM, BED, GFF/GTF and export of predictions.

Each reader takes a path (never an open handle, so work can be shipped to dask workers) and
reads through :mod:`pysam`, :mod:`pyBigWig`, :mod:`pandas` or :mod:`pyranges`; handles are
cached per process by :func:`genozarr.io._handles.get_handle`.
"""
