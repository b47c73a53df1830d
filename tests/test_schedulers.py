"""Ingest on dask's processes scheduler equals the single-process build, and the process
pool is kept between builds (scripts without a ``__main__`` guard: tests/test_script_guard.py)."""

from __future__ import annotations


import numpy as np

from genozarr import Cover, set_options


def test_processes_scheduler_equals_sync(sim_data):
    kw = dict(roi=sim_data["roi"], binsize=1000, resolution=10, store_whole_genome=True,
              genomesize=sim_data["chrom_sizes"])
    with set_options(scheduler="sync"):
        bam_ref = Cover.create_from_bam("b", sim_data["bam"], **kw)
        bw_ref = Cover.create_from_bigwig("w", sim_data["bigwigs"], **kw)
    with set_options(scheduler="processes", num_workers=2, chunk_bytes=4096):
        bam = Cover.create_from_bam("b", sim_data["bam"], **kw)
        bw = Cover.create_from_bigwig("w", sim_data["bigwigs"], **kw)
    np.testing.assert_array_equal(bam[:], bam_ref[:])
    np.testing.assert_array_equal(bw[:], bw_ref[:])
    assert bam_ref[:].sum() > 1000 and bw_ref[:].sum() > 0


def test_process_pool_is_kept_between_builds(sim_data):
    from genozarr.store._run import shared_pool, shutdown_pool

    kw = dict(binsize=1000, resolution=10, store_whole_genome=True,
              genomesize=sim_data["chrom_sizes"])
    with set_options(scheduler="processes", num_workers=2, chunk_bytes=4096):
        Cover.create_from_bigwig("w", sim_data["bigwigs"][0], **kw)
        first = shared_pool(2)
        again = Cover.create_from_bigwig("w", sim_data["bigwigs"][0], **kw)
        assert shared_pool(2) is first
    shutdown_pool()
    assert shared_pool(2) is not first
    shutdown_pool()
    with set_options(scheduler="sync"):
        np.testing.assert_array_equal(
            Cover.create_from_bigwig("w", sim_data["bigwigs"][0], **kw)[:], again[:])
