"""File readers and writers: FASTA, BigWig, BAM, BED, GFF/GTF and export of predictions.

Each reader takes a path (never an open handle, so work can be shipped to dask workers) and
reads through :mod:`pysam`, :mod:`pyBigWig`, :mod:`pandas` or :mod:`pyranges`; handles are
cached per process by :func:`genozarr.io._handles.get_handle`. A reader given a URL
(``http(s)://``, ``s3://``) reads a local copy of it, fetched once with its index files
into ``<output root>/inputs`` by :mod:`genozarr.io._remote`.
"""
