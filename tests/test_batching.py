"""genozarr.batches and the zarr read path (direct chunk decode, cache, parallel reads)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import zarr

from genozarr import Bioseq, Cover, GenomicIndexer, RandomSignalScale, batches, set_options
from genozarr.batching import batch_plan
from genozarr.errors import ArgumentError
from genozarr.store._direct import DirectChunks
from genozarr.store.backend import ZarrBackend
from genozarr.store.handle import load_store


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batching")


@pytest.fixture(scope="module", params=[False, True], ids=["chunk-cache", "resident"])
def zarr_pair(request: pytest.FixtureRequest, sample_files: dict[str, str],
              store_dir: Path) -> tuple[Cover, Bioseq, int]:
    """Cover (c.zarr) and Bioseq (s.zarr) of the same 400 windows in zarr stores with small
    chunks, in ``store_dir``, read through the chunk cache or kept decoded in memory (the
    two read paths of a zarr store)."""
    d = store_dir / ("resident" if request.param else "chunks")
    kw = dict(roi=sample_files["roi"], binsize=100, storage="zarr")
    with set_options(chunk_bytes=8192):  # small chunks, of different rows in the two stores
        cover = Cover.create_from_bigwig(
            "c", [sample_files["bigwig_a"], sample_files["bigwig_b"]], **kw, store=d / "c.zarr")
        seq = Bioseq.create_from_refgenome("s", sample_files["fasta"], **kw, store=d / "s.zarr")
    for ds in (cover, seq):
        ds.garray.backend.resident = request.param
    return cover, seq, len(cover)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batches_cover_every_window_once_aligned(zarr_pair: tuple[Cover, Bioseq, int],
                                                 shuffle: bool, drop_last: bool) -> None:
    cover, seq, n = zarr_pair
    dense_c, dense_s = cover[:], seq[:]
    seen = []
    for c, s, idx in batches(cover, seq, np.arange(n), batch_size=48, shuffle=shuffle, seed=4,
                             drop_last=drop_last):
        assert len(c) == len(s) == len(idx)
        if drop_last:
            assert len(idx) == 48
        np.testing.assert_array_equal(c, dense_c[idx])
        np.testing.assert_array_equal(s, dense_s[idx])
        seen.append(idx)
    allidx = np.concatenate(seen)
    assert len(np.unique(allidx)) == len(allidx)
    if drop_last:
        assert len(allidx) == n // 48 * 48
    else:
        np.testing.assert_array_equal(np.sort(allidx), np.arange(n))
    if shuffle:
        assert not np.array_equal(allidx, np.arange(len(allidx)))
    else:
        np.testing.assert_array_equal(allidx, np.arange(len(allidx)))


def test_shuffle_is_chunk_aware_and_seeded(zarr_pair: tuple[Cover, Bioseq, int]) -> None:
    cover, seq, n = zarr_pair
    block = cover.garray.backend.array("data").chunks[0]
    plan = batch_plan(n, 16, shuffle=True, seed=1, block_size=block, buffer_blocks=3)
    for b in plan:  # a batch draws from at most two buffers of 3 blocks
        assert len(np.unique(b // block)) <= 6
    again = batch_plan(n, 16, shuffle=True, seed=1, block_size=block, buffer_blocks=3)
    assert len(again) == len(plan) and all(np.array_equal(a, b) for a, b in zip(plan, again))
    other = batch_plan(n, 16, shuffle=True, seed=2, block_size=block, buffer_blocks=3)
    assert len(other) == len(plan)
    assert not all(np.array_equal(a, b) for a, b in zip(plan, other))


def _rows_per_chunk(store: Path) -> int:
    """Windows per chunk of a partial-layout store, read from zarr itself."""
    return int(zarr.open_group(str(store), mode="r")["data"].chunks[0])


def test_prefetch_zero_reads_in_the_caller_and_decodes_ahead(
        zarr_pair: tuple[Cover, Bioseq, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """prefetch=0 assembles every batch in the caller's thread while the chunks of the next
    batches are asked for ahead (Dataset.prefetch), in order."""

    from genozarr.dataset import Dataset

    cover, seq, n = zarr_pair
    asked: list[tuple[int, ...]] = []
    real = Dataset.prefetch

    def record(self, idx):  # noqa: ANN001, ANN202
        if self is cover:
            asked.append(tuple(np.asarray(idx).tolist()))
        return real(self, idx)

    monkeypatch.setattr(Dataset, "prefetch", record)
    caller = threading.get_ident()
    got = []
    for c, s, idx in batches(cover, seq, np.arange(n), batch_size=48, prefetch=0):
        assert threading.get_ident() == caller
        np.testing.assert_array_equal(c, cover[:][idx])
        got.append(tuple(idx.tolist()))
    assert got[1:] == asked  # every later batch was asked for ahead, in order, once
    assert sorted(np.concatenate([np.array(g) for g in got]).tolist()) == list(range(n))


def test_default_block_is_the_largest_chunk(zarr_pair: tuple[Cover, Bioseq, int]) -> None:
    """Without block_size, batches shuffles blocks of the most windows per chunk among the
    datasets: with one block per buffer, the served order is the chunk-aligned blocks of
    the larger-chunked store one after the other, each block's windows permuted."""
    cover, seq, n = zarr_pair
    c_rows, s_rows = (_rows_per_chunk(Path(ds.garray.path)) for ds in (cover, seq))
    block = max(c_rows, s_rows)
    # the fixture's chunk sizes differ, so the wrong choice (the smaller) would be visible
    assert min(c_rows, s_rows) < block < n
    dense_c, dense_s = cover[:], seq[:]
    stream = []
    for c, s, idx in batches(cover, seq, np.arange(n), batch_size=1, shuffle=True, seed=0,
                             buffer_blocks=1):
        np.testing.assert_array_equal(c, dense_c[idx])
        np.testing.assert_array_equal(s, dense_s[idx])
        stream.extend(idx.tolist())
    assert len(stream) == n
    # cut the stream where each block must end: the block holding its first window
    firsts, pos, within_shuffled = [], 0, False
    while pos < n:
        start = stream[pos] // block * block
        size = min(block, n - start)
        run = stream[pos:pos + size]
        assert sorted(run) == list(range(start, start + size)), (pos, start)
        within_shuffled |= run != sorted(run)
        firsts.append(start)
        pos += size
    assert sorted(firsts) == list(range(0, n, block))  # every block once
    assert firsts != sorted(firsts)  # in random block order
    assert within_shuffled  # and windows permuted within their block


def test_shards_partition_the_epoch() -> None:
    n = 103
    parts = [np.concatenate(batch_plan(n, 10, shuffle=True, seed=5, block_size=7, shard=(k, 3)))
             for k in range(3)]
    allidx = np.concatenate(parts)
    np.testing.assert_array_equal(np.sort(allidx), np.arange(n))
    with pytest.raises(ArgumentError, match="shard"):
        batch_plan(n, 10, shard=(3, 3))


def test_batches_numpy_and_errors() -> None:
    x, y = np.arange(10), np.arange(10) * 2
    out = list(batches(x, y, batch_size=4, prefetch=0))
    assert [b[0].tolist() for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all((b[1] == 2 * b[0]).all() for b in out)
    with pytest.raises(ArgumentError, match="equal length"):
        batches(x, np.arange(3), batch_size=2)
    with pytest.raises(ArgumentError, match="batch_size"):
        batches(x, batch_size=0)
    with pytest.raises(ArgumentError, match="at least one"):
        batches(batch_size=2)


def test_batches_stop_early_and_augmentations(zarr_pair: tuple[Cover, Bioseq, int]) -> None:
    cover, _, n = zarr_pair
    it = batches(cover, batch_size=8, shuffle=True, seed=0)
    first = next(it)
    it.close()  # the prefetch thread stops; nothing hangs
    assert first[0].shape == (8,) + cover.shape[1:]
    assert not [t for t in threading.enumerate() if t.name == "genozarr-prefetch"]
    a = [b[0] for b in batches(RandomSignalScale(cover, 0.3, random_state=1), batch_size=64)]
    b = [b[0] for b in batches(RandomSignalScale(cover, 0.3, random_state=1), batch_size=64)]
    assert len(a) == len(b) == -(-n // 64)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # the same seed, the same draws
    plain = cover[:]
    assert not np.array_equal(np.concatenate(a), plain)  # the augmentation did change values


class _Rows:
    """An array-like of ``n`` rows (row i reads as ``10 * i``) whose reads take
    ``seconds`` and raise when they include row ``bad``."""

    def __init__(self, n: int, *, bad: int | None = None, seconds: float = 0.0) -> None:
        self.n, self.bad, self.seconds = n, bad, seconds

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        import time

        time.sleep(self.seconds)
        if self.bad is not None and self.bad in np.asarray(idx):
            raise ValueError(f"row {self.bad} unreadable")
        return np.asarray(idx) * 10


@pytest.mark.parametrize("caller_seconds", [0.0, 0.05])
def test_a_thread_reads_ahead_only_for_a_caller_that_works(caller_seconds: float) -> None:
    """A loop that only reads is served in its own thread (a thread would add only its
    hand-over); a caller that works between batches (here 50 ms per 20 ms read) gets the
    background thread after the first batches. The batches are the same either way. (The
    reads are long enough that a caller preempted on a busy machine still does not reach
    a quarter of the reading time.)"""
    import time

    got, threads = [], []
    for (b,) in batches(_Rows(60, seconds=0.02), batch_size=6, prefetch=2):
        got.append(b)
        threads.append(any(t.name == "genozarr-prefetch" for t in threading.enumerate()))
        time.sleep(caller_seconds)
    np.testing.assert_array_equal(np.concatenate(got), np.arange(60) * 10)
    if caller_seconds:
        assert not any(threads[:2]) and all(threads[3:-1])
    else:
        assert not any(threads)
    assert not [t for t in threading.enumerate() if t.name == "genozarr-prefetch"]


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_a_failed_read_reaches_the_caller_after_the_batches_before_it(prefetch: int) -> None:
    got = []
    with pytest.raises(ValueError, match="row 23 unreadable"):
        for (b,) in batches(_Rows(40, bad=23), batch_size=5, prefetch=prefetch):
            got.append(b)
    assert np.array_equal(np.concatenate(got), np.arange(20) * 10)  # batches 0-3, in order
    assert not [t for t in threading.enumerate() if t.name == "genozarr-prefetch"]


# ---------------------------------------------------------------------------- read path
def test_zarr_backend_direct_reads_match_zarr(tmp_path) -> None:
    """Direct chunk decode == zarr's own read: edge chunk, never-written (fill) chunks,
    unsorted and repeated rows, ranges over several chunks, parallel decode."""
    rng = np.random.default_rng(0)
    data = rng.poisson(2, size=(103, 5, 2, 3)).astype(np.float32)
    data[40:60] = 0  # chunks 4 and 5 are all fill value: not written
    from zarr.codecs import BloscCodec

    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    arr = group.create_array("data", shape=data.shape, chunks=(10, 5, 2, 3), dtype="float32",
                             fill_value=0, compressors=[BloscCodec(cname="zstd", clevel=3)])
    arr[:] = data
    with pytest.warns(UserWarning, match="[Cc]onsolidated"):
        zarr.consolidate_metadata(str(tmp_path / "s.zarr"))
    assert not (tmp_path / "s.zarr" / "data" / "c" / "4").exists()
    backend = ZarrBackend(str(tmp_path / "s.zarr"), cache_bytes=4 * 10 * 5 * 2 * 3 * 4,
                          resident=False)
    assert DirectChunks.for_array(backend.array("data")) is not None
    rows = rng.integers(0, 103, size=300)
    np.testing.assert_array_equal(backend.read_rows("data", rows), data[rows])
    np.testing.assert_array_equal(backend.read_rows("data", np.sort(rows)), data[np.sort(rows)])
    np.testing.assert_array_equal(backend.read_range("data", 7, 103), data[7:])
    np.testing.assert_array_equal(backend.read_range("data", 95, 200), data[95:])
    # the chunk just decoded is served from the cache (which other chunks of the reads above
    # stayed cached depends on the order in which the decode threads finished)
    hits = backend.cache.hits
    np.testing.assert_array_equal(backend.read_rows("data", np.array([102])), data[[102]])
    assert backend.cache.hits == hits + 1 and backend.cache.nbytes <= backend.cache.max_bytes
    with pytest.raises(IndexError):
        backend.read_rows("data", np.array([103]))
    # the same through a pickled copy (as a DataLoader worker gets it)
    import pickle

    clone = pickle.loads(pickle.dumps(backend))
    np.testing.assert_array_equal(clone.read_rows("data", rows[:20]), data[rows[:20]])
    out = backend.read_range("data", 0, 5)
    out[:] = -1  # results are copies: the cache is untouched
    np.testing.assert_array_equal(backend.read_range("data", 0, 5), data[:5])


def test_load_store_partial_and_whole_genome(sample_files: dict[str, str], tmp_path) -> None:
    for wg in (False, True):
        c = Cover.create_from_bigwig("c", sample_files["bigwig_a"], roi=sample_files["roi"],
                                     binsize=200, storage="zarr", store=tmp_path / f"{wg}.zarr",
                                     store_whole_genome=wg, genomesize=sample_files["chrom_sizes"])
        mem = Cover.create_from_bigwig("c", sample_files["bigwig_a"], roi=sample_files["roi"],
                                       binsize=200, genomesize=sample_files["chrom_sizes"])
        np.testing.assert_array_equal(c[::-1], mem[::-1])
        store = load_store(tmp_path / f"{wg}.zarr")
        assert isinstance(store.backend, ZarrBackend)
        n = len(mem)

        def epoch(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
            """(values, window indices) of every batch of one shuffled epoch."""
            out = list(batches(c, np.arange(n), batch_size=33, shuffle=True, seed=seed))
            assert all(len(b) == len(idx) <= 33 for b, idx in out)
            return out

        served = epoch(0)
        order = np.concatenate([idx for _, idx in served])
        np.testing.assert_array_equal(np.sort(order), np.arange(n))  # every window once
        assert not np.array_equal(order, np.arange(n))  # not the stored order
        dense = mem[:]
        for b, idx in served:
            np.testing.assert_array_equal(b, c[idx])  # the dataset's own indexing
            np.testing.assert_array_equal(b, dense[idx])  # the in-memory build
        again = epoch(0)  # the same seed: the same batches, the same values
        assert len(again) == len(served)
        for (b0, i0), (b1, i1) in zip(served, again):
            np.testing.assert_array_equal(i1, i0)
            np.testing.assert_array_equal(b1, b0)
        other = np.concatenate([idx for _, idx in epoch(1)])
        assert not np.array_equal(other, order)  # another seed: another order


def test_decode_ahead_reaches_the_next_block_while_batches_reuse_its_chunks() -> None:
    """Beyond DECODE_AHEAD batches, read-ahead goes on over batches that start no decoding
    (they reuse decoded chunks) until the decoded bytes started ahead reach an eighth of
    the chunk cache, at most MAX_DECODE_AHEAD batches: the first batch of each block (the
    only one that decodes) is asked for while the block before it is read."""
    from types import SimpleNamespace

    from genozarr.batching import DECODE_AHEAD, MAX_DECODE_AHEAD, _serial
    from genozarr.dataset import Dataset

    block, cost = 10, 100  # batches per block; bytes the first batch of a block decodes
    asked: list[int] = []
    seen: dict[int, list[int]] = {}  # batch read -> batches asked for before it

    class Root(Dataset):
        def __init__(self, cache_bytes: int) -> None:
            self.garray = SimpleNamespace(backend=SimpleNamespace(cache_bytes=cache_bytes))

        def prefetch(self, idx, fetch_only=False):
            asked.append(int(idx[0]))
            return cost if int(idx[0]) % block == 0 else 0

        def read(self, idx):
            seen[int(idx[0])] = list(asked)
            return np.asarray(idx)

    plan = [np.array([b]) for b in range(45)]
    out = [b[0][0] for b in _serial([Root(cache_bytes=8 * cost)], plan)]  # budget: one block
    assert out == list(range(45)) and asked == list(range(1, 45))  # each asked once, in order
    for k in range(block, 45, block):
        assert k in seen[k - block]  # a whole block ahead
        assert k + block not in seen[k - 1]  # but not two: the budget holds it back
    # DECODE_AHEAD batches always; a cache too small for any decoding ahead stops there
    asked.clear()
    list(_serial([Root(cache_bytes=0)], plan))
    assert all(max(seen[i]) == min(i + 1 + DECODE_AHEAD, 44) for i in range(44))
    # batches that decode nothing: read ahead MAX_DECODE_AHEAD batches, no further
    asked.clear()
    block = 10**6  # only batch 0 decodes
    list(_serial([Root(cache_bytes=8 * cost)], plan))
    assert max(seen[0]) == 1 + MAX_DECODE_AHEAD


@pytest.mark.parametrize("shard", [(0.5, 2), (1.0, 2), (1,), "ab", (True, 2), (2, 2), (-1, 2),
                                   (0, 1, 2), None.__class__])
def test_shard_is_two_integers(shard):
    with pytest.raises(ArgumentError, match="shard must be"):
        batch_plan(10, 3, shard=shard)
    assert [len(p) for p in batch_plan(10, 3, shard=(np.int64(1), 2))] == [3, 2]


def test_flags_are_booleans(sample_files):
    """A flag given as text (a spec's "false") is an error, not true."""
    kw = dict(roi="chr1:0-20", binsize=10)
    for flag in ("cache", "overwrite", "channel_last", "zero_padding", "store_whole_genome"):
        with pytest.raises(ArgumentError, match=f"{flag} must be True or False, got 'false'"):
            Cover.create_from_bigwig("c", sample_files["bigwig_a"], **kw, **{flag: "false"})
    flagged = Cover.create_from_bigwig("c", sample_files["bigwig_a"], **kw,
                                       store_whole_genome=np.bool_(False))
    assert flagged.shape == (2, 10, 1, 1) and not flagged.garray.whole_genome


def test_structures_batches_and_loaders_cannot_serve_are_refused():
    """A list or dict given to batches as one dataset, a list inside a list or dict of
    datasets, or labels in a Python list failed deep inside numpy indexing (TypeError),
    or only at the first batch (a nested list taken for a dataset of its items; an
    audit). They are ArgumentErrors naming what to pass."""
    from genozarr.loaders import flatten

    x = np.arange(10)
    for bad in ([x, [x, x]], {"a": [x, x]}, [0, 1, 2], {"a": x, "b": [1, 2]}):
        with pytest.raises(ArgumentError, match="inside the list or dict of datasets"):
            flatten(bad)
    for args in (([x, x],), ({"a": x},), (x, [1] * 10)):
        with pytest.raises(ArgumentError, match="batches takes datasets as separate"):
            list(batches(*args, batch_size=4))
    got = [b for b in batches(x, np.asarray([1] * 10), batch_size=4)]
    assert [len(b[0]) for b in got] == [4, 4, 2]


@pytest.mark.parametrize("n,batch,block", [(22, 8, 4), (1003, 64, 37)])
def test_shuffled_drop_last_leaves_out_every_window_as_likely(n, batch, block):
    """Shuffled with ``drop_last``, the windows left out were the stream's last: those of
    its last group of blocks, where a short block (n not a multiple of the block) is a
    larger share (its windows left out up to 3x as often; an audit). They are now drawn
    from the whole epoch: over 20,000 seeds, every window left out as often (chi-square
    against uniform), full batches only, every other window once."""
    from scipy import stats

    left_out = np.zeros(n)
    for seed in range(20_000):
        plan = batch_plan(n, batch, shuffle=True, seed=seed, drop_last=True,
                          block_size=block)
        served = np.concatenate(plan)
        assert all(len(b) == batch for b in plan) and len(served) == n - n % batch
        counts = np.bincount(served, minlength=n)
        assert counts.max() == 1
        left_out += counts == 0
    assert stats.chisquare(left_out).pvalue > 1e-3, left_out
    # unshuffled: the last, smaller batch dropped, as before
    assert np.concatenate(batch_plan(n, batch, drop_last=True)).tolist() == \
        list(range(n - n % batch))


@pytest.mark.parametrize("block_size", [1, 4, 7])
def test_shuffled_batches_are_each_sorted_and_cover_every_window_once(block_size):
    """Shuffled, each batch's indices are returned sorted (batch_plan's docstring: sorted rows
    read faster) while the epoch still holds every window once; no test checked the
    order within a batch (a mutation audit)."""
    n = 53
    for seed in range(5):
        plan = batch_plan(n, 6, shuffle=True, seed=seed, block_size=block_size,
                          buffer_blocks=2)
        for b in plan:
            assert b.tolist() == sorted(b.tolist()), (seed, b)
        assert [len(b) for b in plan] == [6] * 8 + [5]
        assert sorted(np.concatenate(plan).tolist()) == list(range(n))
    # the shuffle itself still mixes: some batch is not a run of consecutive indices
    plan = batch_plan(n, 6, shuffle=True, seed=0, block_size=block_size, buffer_blocks=2)
    assert any(b.tolist() != list(range(b[0], b[0] + len(b))) for b in plan)
