"""torch_loader, ChunkSampler, sharding by rank x worker, and joint augmentation."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genozarr import Bioseq, Cover, GenomicIndexer, set_options
from genozarr.batching import batch_plan
from genozarr.errors import ArgumentError, GenozarrWarning

torch = pytest.importorskip("torch")

from genozarr.loaders.augment import Augment  # noqa: E402
from genozarr.loaders.torch import (  # noqa: E402
    ChunkSampler,
    GenozarrDataLoader,
    TorchDataset,
    TorchIterableDataset,
    distributed_rank,
    torch_loader,
)

N = 103          # windows of the index cover (not a multiple of its chunk)
BINS = 32        # bins per window at resolution 10
ROWS = 8         # windows per zarr chunk: 32 bins x 2 strands x float64 = 512 B, 4096 B chunks


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


@pytest.fixture(scope="module")
def index_cover(tmp_path_factory: pytest.TempPathFactory) -> Cover:
    """A zarr-backed Cover whose window i holds the value i everywhere (8 windows a chunk)."""
    d = tmp_path_factory.mktemp("index_cover")
    starts = np.arange(N) * 400
    strands = np.where(np.arange(N) % 3 == 0, "-", "+")
    gi = GenomicIndexer(["chr1"] * N, starts, starts + 320, strands, 320, 320)
    arr = np.broadcast_to(np.arange(N, dtype="float64")[:, None, None, None],
                          (N, BINS, 2, 1)).copy()
    with set_options(chunk_bytes=4096):
        cover = Cover.create_from_array("idx", arr, gi, resolution=10, storage="zarr",
                                        store=d / "idx.zarr")
    assert cover.chunk_rows == ROWS
    return cover


def _served(loader: Any) -> list[np.ndarray]:
    """The window indices of each batch of one pass (from the np.arange target)."""
    return [y.numpy() for _, y in loader]


# ------------------------------------------------------------------ exactly once
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("workers", [0, 2])
def test_every_window_once_across_ranks_and_workers(index_cover: Cover, workers: int,
                                                    world: int, shuffle: bool) -> None:
    dense = index_cover[:]
    seen = []
    for rank in range(world):
        loader = torch_loader(index_cover, np.arange(N), batch_size=10, shuffle=shuffle,
                              seed=7, num_workers=workers, rank=rank, world_size=world)
        assert isinstance(loader, GenozarrDataLoader) and loader.batch_size is None
        batches = 0
        for x, y in loader:
            idx = y.numpy()
            assert 0 < len(idx) <= 10
            # the loader's batch is the dataset's own read of the windows served
            np.testing.assert_array_equal(x.numpy(), index_cover.read(idx))
            np.testing.assert_array_equal(x.numpy()[:, 0, 0, 0], idx)
            np.testing.assert_array_equal(x.numpy(), dense[idx])
            seen.append(idx)
            batches += 1
        assert len(loader) == batches  # the batches of this rank, over its workers
    allidx = np.concatenate(seen)
    np.testing.assert_array_equal(np.sort(allidx), np.arange(N))  # every window exactly once
    if shuffle:
        assert not np.array_equal(allidx, np.arange(N))


def test_shards_are_whole_blocks_of_the_plan(index_cover: Cover) -> None:
    """Rank r, worker w of R x W serves batch_plan's shard r*W + w of the epoch's plan."""
    world, workers, seed = 2, 2, 5
    for rank in range(world):
        loader = torch_loader(index_cover, np.arange(N), batch_size=6, shuffle=True,
                              seed=seed, num_workers=workers, rank=rank, world_size=world)
        got = _served(loader)
        expect = [batch_plan(N, 6, shuffle=True, seed=_epoch_seed(seed, 0), block_size=ROWS,
                             shard=(rank * workers + w, world * workers))
                  for w in range(workers)]
        # the DataLoader takes the workers' batches in turn
        interleaved = [b for j in range(max(map(len, expect)))
                       for e in expect if j < len(e) for b in [e[j]]]
        assert len(got) == len(interleaved)
        for a, b in zip(got, interleaved):
            np.testing.assert_array_equal(a, b)
        for idx in got:  # whole blocks: a batch never mixes more than buffer_blocks chunks
            assert len(np.unique(idx // ROWS)) <= 4


def test_iterable_dataset_directly_with_rank(index_cover: Cover) -> None:
    from torch.utils.data import DataLoader

    seen = []
    for rank in range(3):
        ds = TorchIterableDataset(index_cover, np.arange(N), batch_size=16, shuffle=True,
                                  seed=1, rank=rank, world_size=3)
        seen += [y.numpy() for _, y in DataLoader(ds, batch_size=None, num_workers=0)]
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(N))
    ds = TorchIterableDataset(index_cover, batch_size=16, num_workers=2)
    with pytest.raises(ArgumentError, match="num_workers=2"):
        next(iter(DataLoader(ds, batch_size=None, num_workers=0)))
    with pytest.raises(TypeError, match="num_workers"):
        len(TorchIterableDataset(index_cover, batch_size=16))


# ------------------------------------------------------------------ order and epochs
def test_order_is_batch_plan_and_depends_on_seed_and_epoch(index_cover: Cover) -> None:
    def order(**kw: Any) -> list[np.ndarray]:
        return _served(torch_loader(index_cover, np.arange(N), batch_size=8, shuffle=True,
                                    **kw))

    first = order(seed=3)
    for got, want in zip(first, batch_plan(N, 8, shuffle=True, seed=_epoch_seed(3, 0),
                                           block_size=ROWS)):
        np.testing.assert_array_equal(got, want)
    same = order(seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, same))
    assert not np.array_equal(np.concatenate(first), np.concatenate(order(seed=4)))
    assert not np.array_equal(np.concatenate(first), np.concatenate(order(seed=3, epoch=1)))


@pytest.mark.parametrize("map_style", [False, True])
def test_the_dataloaders_generator_seeds_the_order(index_cover: Cover,
                                                   map_style: bool) -> None:
    """``generator=`` (a DataLoader argument torch_loader passes on) fixes a shuffled
    order without ``seed``, as it fixes a plain DataLoader's: the same generator state
    serves the same order (it was drawn from PyTorch's default generator instead), and
    the order is that of the seed the generator draws."""
    def order(g: Any) -> np.ndarray:
        loader = torch_loader(index_cover, np.arange(N), batch_size=8, shuffle=True,
                              generator=g, map_style=map_style)
        return np.concatenate(_served(loader))

    first = order(torch.Generator().manual_seed(5))
    torch.manual_seed(1)  # (the default generator: another state)
    np.testing.assert_array_equal(order(torch.Generator().manual_seed(5)), first)
    seed = int(torch.empty((), dtype=torch.int64).random_(
        generator=torch.Generator().manual_seed(5)).item()) % 2**63
    plan = batch_plan(N, 8, shuffle=True, seed=_epoch_seed(seed, 0), block_size=ROWS)
    np.testing.assert_array_equal(first, np.concatenate(plan))
    assert not np.array_equal(order(torch.Generator().manual_seed(6)), first)


def test_an_item_of_a_1d_array_is_a_scalar_as_in_its_batch(index_cover: Cover) -> None:
    """``ds[i]`` is item i of a batch, as PyTorch has it: a 1-d array's item is a 0-d
    tensor (it was shape (1,), so a DataLoader over a ConcatDataset or a per-item
    collate served labels of shape (B, 1) where the plain DataLoader served (B,), and
    cross_entropy refused them)."""
    from torch.utils.data import ConcatDataset, DataLoader, default_collate

    ds = TorchDataset(index_cover, np.arange(N))
    x, y = ds[5]
    assert y.shape == () and int(y) == 5 and x.shape == index_cover[5].shape[1:]
    assert TorchDataset(np.arange(6.0))[2].shape == ()
    plain = next(iter(DataLoader(ds, batch_size=4)))
    concat = next(iter(DataLoader(ConcatDataset([ds]), batch_size=4)))
    items = default_collate([ds[i] for i in range(4)])
    for got in (concat, items):
        assert got[1].shape == plain[1].shape == (4,)
        torch.testing.assert_close(got[0], plain[0])
        torch.testing.assert_close(got[1], plain[1])
    logits = torch.zeros(4, N)
    torch.nn.functional.cross_entropy(logits, concat[1])  # (refused (4, 1) labels)


def test_each_pass_is_the_next_epoch(index_cover: Cover) -> None:
    loader = torch_loader(index_cover, np.arange(N), batch_size=8, shuffle=True, seed=3)
    assert loader.epoch == 0
    passes = [np.concatenate(_served(loader)) for _ in range(3)]
    assert loader.epoch == 3
    for e, p in enumerate(passes):
        fresh = torch_loader(index_cover, np.arange(N), batch_size=8, shuffle=True, seed=3,
                             epoch=e)
        np.testing.assert_array_equal(p, np.concatenate(_served(fresh)))
    assert not np.array_equal(passes[0], passes[1])
    loader.set_epoch(1)  # replay epoch 1
    np.testing.assert_array_equal(np.concatenate(_served(loader)), passes[1])
    loader.dataset.set_epoch(0)  # a trainer setting the dataset's epoch is followed
    assert loader.epoch == 0
    np.testing.assert_array_equal(np.concatenate(_served(loader)), passes[0])
    np.testing.assert_array_equal(np.concatenate(_served(loader)), passes[1])


def test_map_style_passes_follow_the_dataset_epoch(index_cover: Cover) -> None:
    """A map-style loader overwrote the epoch a trainer set on its dataset with its own
    pass count (the next pass replayed epoch 0's order and draws; an audit)."""
    kw = {"batch_size": 8, "shuffle": True, "seed": 3, "map_style": True}
    want = np.concatenate(_served(torch_loader(index_cover, np.arange(N), epoch=5, **kw)))
    loader = torch_loader(index_cover, np.arange(N), **kw)
    first = np.concatenate(_served(loader))
    assert not np.array_equal(first, want)
    loader.dataset.set_epoch(5)
    assert loader.epoch == 5
    np.testing.assert_array_equal(np.concatenate(_served(loader)), want)
    assert loader.dataset.epoch == 5 and loader.epoch == 6
    loader.sampler.set_epoch(0)  # the sampler's is followed too
    np.testing.assert_array_equal(np.concatenate(_served(loader)), first)


def test_persistent_workers_warn_of_options_set_between_passes(index_cover: Cover) -> None:
    """Persistent workers keep the options of their first pass (set_options later does not
    reach a running worker process): a pass that starts with other options says so."""
    loader = torch_loader(index_cover, np.arange(N), batch_size=8, num_workers=1,
                          persistent_workers=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GenozarrWarning)
        _served(loader)
        _served(loader)  # the same options: no warning
    with set_options(remote_timeout=30), pytest.warns(
            GenozarrWarning, match="remote_timeout changed since this loader's persistent "
                                   "workers started"):
        _served(loader)
    fresh = torch_loader(index_cover, np.arange(N), batch_size=8, num_workers=1)
    with set_options(remote_timeout=30), warnings.catch_warnings():
        warnings.simplefilter("error", GenozarrWarning)
        _served(fresh)
        _served(fresh)  # workers made for each pass take the options anew


@pytest.mark.parametrize("option", [None, 3])
def test_workers_decode_with_a_share_of_the_cores(index_cover: Cover, monkeypatch: Any,
                                                  option: int | None) -> None:
    """Each of N DataLoader workers decodes with cores // N threads (the backend it reads
    with, in the worker); the decode_threads option overrides it; the main process keeps
    all cores (at most 4)."""
    import os

    from genozarr.store import backend as backend_module

    monkeypatch.setattr(os, "cpu_count", lambda: 4)  # forked workers see the same
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    backend = index_cover.garray.backend

    def threads(batch: Any) -> tuple[int, int]:  # runs in the worker, after its first read
        return backend.threads, backend_module.decode_threads()

    with set_options(decode_threads=option):
        served = set(torch_loader(index_cover, batch_size=8, num_workers=2,
                                  collate_fn=threads))
        assert backend_module.decode_threads() == (4 if option is None else option)
    assert served == ({(2, 2)} if option is None else {(3, 3)})
    with pytest.raises(ArgumentError):
        set_options(decode_threads=0)


def test_persistent_workers_follow_the_epoch(index_cover: Cover) -> None:
    kw = dict(batch_size=8, shuffle=True, seed=11, num_workers=2)
    persistent = torch_loader(index_cover, np.arange(N), persistent_workers=True, **kw)
    fresh = torch_loader(index_cover, np.arange(N), **kw)
    a = [np.concatenate(_served(persistent)) for _ in range(2)]
    b = [np.concatenate(_served(fresh)) for _ in range(2)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])


def test_seed_none_follows_torch_manual_seed(index_cover: Cover) -> None:
    def order() -> np.ndarray:
        torch.manual_seed(123)
        loader = torch_loader(index_cover, np.arange(N), batch_size=8, shuffle=True)
        return np.concatenate(_served(loader))

    np.testing.assert_array_equal(order(), order())


def test_seed_none_with_persistent_workers_renews_the_order(index_cover: Cover) -> None:
    """A plain DataLoader with persistent workers never advances the epoch and keeps its
    workers' seeds: each pass must still get a new order, every window once, and the
    same passes again under the same torch seed."""
    from torch.utils.data import DataLoader

    def passes() -> list[np.ndarray]:
        torch.manual_seed(5)
        ds = TorchIterableDataset(index_cover, np.arange(N), batch_size=8, shuffle=True,
                                  num_workers=2)
        loader = DataLoader(ds, batch_size=None, num_workers=2, persistent_workers=True)
        return [np.concatenate(_served(loader)) for _ in range(3)]

    first = passes()
    for order in first:
        np.testing.assert_array_equal(np.sort(order), np.arange(N))
    assert len({order.tobytes() for order in first}) == 3
    for x, y in zip(first, passes()):
        np.testing.assert_array_equal(x, y)


def test_len_of_one_shuffled_shard_without_seed(index_cover: Cover) -> None:
    """With one rank and no workers the number of batches does not depend on the order,
    even where the last block is partial (N = 103, blocks of 8)."""
    for drop_last, want in ((False, -(-N // 4)), (True, N // 4)):
        ds = TorchIterableDataset(index_cover, np.arange(N), batch_size=4, shuffle=True,
                                  num_workers=0, drop_last=drop_last)
        assert len(ds) == want
        assert sum(1 for _ in ds) == want
    with pytest.raises(TypeError, match="pass a seed"):  # 2 shards: it depends on the order
        len(TorchIterableDataset(index_cover, np.arange(N), batch_size=4, shuffle=True,
                                 num_workers=2))


def test_len_during_a_pass_counts_that_pass() -> None:
    """Shuffled shards of 2 ranks differ in length from epoch to epoch (103 windows in
    blocks of 7): ``len(loader)`` inside a pass is the batches that pass serves (before,
    the next pass's), and before a pass the batches it will serve."""
    changed = False
    for rank in range(2):
        loader = torch_loader(np.arange(N), batch_size=4, shuffle=True, seed=3, rank=rank,
                              world_size=2, block_size=7)
        for _ in range(6):
            before, inside, served = len(loader), [], 0
            for _ in loader:
                served += 1
                inside.append(len(loader))
            assert before == served and set(inside) == {served}
            changed |= len(loader) != served  # the next pass's count differs at times
    assert changed


def test_workers_draw_independent_augmentations() -> None:
    """Two random wrappers through 2 workers: no wrapper of one worker repeats another
    wrapper's draws (before, wrapper k + 1 of worker 0 had the seed of wrapper k of
    worker 1: PyTorch seeds worker w with base + w, genozarr wrapper k with seed + k)."""
    from genozarr.wrappers import RandomSignalScale

    n, length = 64, 10
    gi = GenomicIndexer(["chr1"] * n, np.arange(n) * length, np.arange(n) * length + length,
                        ["+"] * n, length, length)
    ones = np.ones((n, length, 1, 1), "float32")
    a = RandomSignalScale(Cover.create_from_array("a", ones, gi), 0.5, random_state=1)
    b = RandomSignalScale(Cover.create_from_array("b", ones, gi), 0.5, random_state=2)
    for map_style in (False, True):
        torch.manual_seed(0)
        loader = torch_loader([a, b, np.arange(n)], batch_size=8, num_workers=2, block_size=8,
                              map_style=map_style)
        draws = {}  # (first window of the batch, wrapper) -> its scales
        for xa, xb, idx in loader:
            draws[int(idx[0]), "a"] = xa[:, 0, 0, 0].numpy()
            draws[int(idx[0]), "b"] = xb[:, 0, 0, 0].numpy()
        assert len(draws) == 16
        streams = [v.tobytes() for v in draws.values()]
        assert len(set(streams)) == len(streams), map_style
        assert all(len(np.unique(v)) == 8 for v in draws.values())  # random, not constant


def test_workers_of_different_ranks_draw_different_augmentations() -> None:
    """Every rank seeding torch alike (DDP practice): worker w of each rank got the same
    worker seed, so the ranks' random wrappers drew the same augmentations (an audit);
    the rank is now mixed into the workers' seeds, iterable and map-style. Rank 0 keeps
    its seeds. Without workers the ranks' wrappers drew one stream too, whatever their
    ``random_state`` (a second audit): each rank's stream is now drawn from it and the
    rank, so the same script reproduces the same draws on each rank."""
    from genozarr.wrappers import RandomSignalScale

    n, length = 64, 10
    gi = GenomicIndexer(["chr1"] * n, np.arange(n) * length, np.arange(n) * length + length,
                        ["+"] * n, length, length)
    ones = Cover.create_from_array("c", np.ones((n, length, 1, 1), "float32"), gi)
    for workers, map_style, state in [(1, False, None), (1, True, None), (0, False, 5),
                                      (0, True, 5), (0, False, None)]:
        scales = {}
        for rank in (0, 1, 1):
            torch.manual_seed(0)  # the same on every rank
            np.random.seed(0)
            loader = torch_loader(RandomSignalScale(ones, 0.5, random_state=state),
                                  np.arange(n), batch_size=8, num_workers=workers, rank=rank,
                                  world_size=2, block_size=8, map_style=map_style)
            got = np.concatenate([x[:, 0, 0, 0].numpy() for x, _ in loader])
            if rank in scales:  # (the same run again: the same draws)
                np.testing.assert_array_equal(got, scales[rank])
            scales[rank] = got
        case = (workers, map_style, state)
        assert len(scales[0]) == len(scales[1]) == n // 2, case
        assert len(np.intersect1d(scales[0], scales[1])) == 0, case
        assert ((scales[0] >= 0.5) & (scales[0] <= 1.5)).all()


def test_a_batch_index_past_the_end_is_refused_as_one_item_is() -> None:
    """__getitems__ (the DataLoader's batched read) took each index modulo the length: a
    sampler of another dataset was served other windows silently (an audit). As
    __getitem__, it raises IndexError; negative indices keep Python's meaning."""
    ds = TorchDataset(np.arange(10.0)[:, None], np.arange(10))
    with pytest.raises(IndexError, match="index 12 out of range for a dataset of 10"):
        ds.__getitems__([3, 12])
    with pytest.raises(IndexError, match="index 12 out of range for a dataset of 10"):
        list(torch.utils.data.DataLoader(ds, sampler=[12, 13, 3], batch_size=3))
    with pytest.raises(IndexError, match="index -11 out of range"):
        ds.__getitems__([-11])
    assert [int(y) for _, y in ds.__getitems__([9, -1, -10])] == [9, 9, 0]


# ------------------------------------------------------------------ ChunkSampler
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_chunk_sampler_shards_like_distributed_sampler(world: int, shuffle: bool) -> None:
    n, rows = 101, 8
    parts = [list(ChunkSampler(n, rows, shuffle=shuffle, seed=2, num_replicas=world, rank=r))
             for r in range(world)]
    per = -(-n // world)
    assert all(len(p) == per for p in parts)  # equal lengths: padded
    stream = np.concatenate(batch_plan(n, 1, shuffle=shuffle,
                                       seed=_epoch_seed(2, 0) if shuffle else None,
                                       block_size=rows))
    served = np.concatenate(parts)  # contiguous parts of the stream, then the padding:
    np.testing.assert_array_equal(served[:n], stream)  # (shuffled: drawn from the epoch;
    if not shuffle:                                     # in order, its first windows)
        np.testing.assert_array_equal(served[n:], stream[:per * world - n])
    counts = np.bincount(np.concatenate(parts), minlength=n)
    assert counts.min() == 1 and counts.sum() - n == per * world - n < world
    dropped = [list(ChunkSampler(n, rows, shuffle=shuffle, seed=2, drop_last=True,
                                 num_replicas=world, rank=r)) for r in range(world)]
    assert all(len(p) == n // world for p in dropped)
    flat = np.concatenate(dropped)
    assert len(np.unique(flat)) == len(flat) == n // world * world
    if shuffle:
        assert not np.array_equal(stream, np.arange(n))


def test_chunk_sampler_epochs_and_locality(index_cover: Cover) -> None:
    s = ChunkSampler(index_cover, shuffle=True, seed=4)
    assert s.chunk_rows == ROWS and len(s) == N
    e0 = list(s)
    assert e0 == list(s)  # same epoch, same order (as DistributedSampler)
    s.set_epoch(1)
    e1 = list(s)
    assert e1 != e0 and sorted(e1) == list(range(N))
    assert list(ChunkSampler(index_cover, shuffle=True, seed=5)) != e0
    # consecutive samples come from a few chunks: the stream is cut into groups of whole
    # chunks (every window of each), at most 4 (buffer_blocks) chunks a group
    chunks = np.asarray(e0) // ROWS
    sizes = np.bincount(np.arange(N) // ROWS)
    pos = groups = 0
    while pos < N:
        members: set[int] = set()
        count = 0
        while pos < N:
            members.add(int(chunks[pos]))
            count += 1
            pos += 1
            assert len(members) <= 4
            if len(members) == 4 and count == sizes[list(members)].sum():
                break
        assert count == sizes[list(members)].sum()
        groups += 1
    assert groups == -(-len(sizes) // 4)


@pytest.mark.parametrize("workers", [0, 2])
def test_map_style_loader_with_sampler(index_cover: Cover, workers: int) -> None:
    world = 2
    seen = []
    lengths = []
    for rank in range(world):
        loader = torch_loader(index_cover, np.arange(N), batch_size=10, shuffle=True, seed=9,
                              num_workers=workers, rank=rank, world_size=world,
                              map_style=True)
        assert isinstance(loader.sampler, ChunkSampler)
        batches = _served(loader)
        lengths.append(len(batches))
        for x, y in loader:  # second pass: epoch 1, batches equal direct reads
            np.testing.assert_array_equal(x.numpy(), index_cover.read(y.numpy()))
        seen.append(np.concatenate(batches))
    assert lengths[0] == lengths[1] == len(loader)  # every rank the same number of steps
    allidx = np.concatenate(seen)
    counts = np.bincount(allidx, minlength=N)
    assert counts.min() == 1 and len(allidx) == 2 * -(-N // 2)  # one padded window


@pytest.mark.parametrize("map_style", [False, True])
def test_a_numpy_batch_size_serves_as_an_int(index_cover: Cover, map_style: bool) -> None:
    """torch's BatchSampler (map-style) refused np.int64(10) with 'batch_size should be a
    positive integer value, but got batch_size=10'."""
    got = [y.numpy() for _, y in torch_loader(index_cover, np.arange(N),
                                               batch_size=np.int64(10), map_style=map_style)]
    assert [len(b) for b in got] == [10] * (N // 10) + ([N % 10] if N % 10 else [])
    np.testing.assert_array_equal(np.concatenate(got), np.arange(N))


def test_sampler_with_torch_dataset_serves_plan_batches(index_cover: Cover) -> None:
    from torch.utils.data import DataLoader

    ds = TorchDataset(index_cover, np.arange(N))
    sampler = ChunkSampler(ds, shuffle=True, seed=0, batch_size=12)
    got = [y.numpy() for _, y in DataLoader(ds, batch_size=12, sampler=sampler)]
    want = batch_plan(N, 12, shuffle=True, seed=_epoch_seed(0, 0), block_size=ROWS)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_rank_arguments() -> None:
    assert distributed_rank() == (0, 1)
    assert distributed_rank(2, 3) == (2, 3)
    with pytest.raises(ArgumentError, match="rank"):
        distributed_rank(3, 3)
    with pytest.raises(ArgumentError, match="sampler"):
        torch_loader(np.arange(4), sampler=None)


# ------------------------------------------------------------------ augmentation
_CODE = {b: i for i, b in enumerate("ACGT")}
_COMP = str.maketrans("ACGTN", "TGCAN")


def _onehot(seq: str, order: int) -> np.ndarray:
    """One-hot k-mers of a string, computed directly: (len - order + 1, 1, 4**order)."""
    out = np.zeros((len(seq) - order + 1, 1, 4 ** order), dtype="float32")
    for p in range(len(seq) - order + 1):
        kmer = seq[p:p + order]
        if all(b in _CODE for b in kmer):
            out[p, 0, sum(_CODE[b] * 4 ** (order - 1 - j) for j, b in enumerate(kmer))] = 1
    return out


def _revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


def _shift_str(seq: str, s: int) -> str:
    """The sequence moved by s bases (content to higher positions for s > 0), N-filled."""
    if s > 0:
        return "N" * s + seq[:-s]
    if s < 0:
        return seq[-s:] + "N" * (-s)
    return seq


def _shift_bins(x: np.ndarray, b: int) -> np.ndarray:
    """One window (position first) moved by b bins, zero-filled."""
    out = np.zeros_like(x)
    if b > 0:
        out[b:] = x[:-b]
    elif b < 0:
        out[:b] = x[-b:]
    else:
        out[:] = x
    return out


L = 40


@pytest.fixture(scope="module")
def seqs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    rng = np.random.default_rng(0)
    strings = ["".join(rng.choice(list("ACGT"), L)) for _ in range(24)]
    strings[3] = strings[3][:10] + "NN" + strings[3][12:]
    path = tmp_path_factory.mktemp("seqs") / "seqs.fa"
    path.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(strings)))
    return strings, path


@pytest.mark.parametrize("order", [1, 2, 3])
def test_reverse_complement_of_onehot(seqs: tuple[list[str], Path], order: int) -> None:
    strings, path = seqs
    dna = Bioseq.create_from_seq("dna", path, order=order)
    idx = np.arange(len(strings))
    (out,) = Augment(reverse_complement=1.0, seed=0).bind([dna])([dna.read(idx)])
    for i, s in enumerate(strings):
        np.testing.assert_array_equal(out[i], _onehot(_revcomp(s), order))
    if order == 1:  # channel order A, C, G, T becomes T, G, C, A
        x = dna.read(idx[:1])
        np.testing.assert_array_equal(out[0], x[0, ::-1, :, ::-1])


def test_reverse_complement_channel_first(seqs: tuple[list[str], Path]) -> None:
    strings, path = seqs
    dna = Bioseq.create_from_seq("dna", path, order=2, channel_last=False)
    (out,) = Augment(reverse_complement=1.0, seed=0).bind([dna])([dna.read(np.arange(4))])
    for i in range(4):
        np.testing.assert_array_equal(out[i], np.moveaxis(_onehot(_revcomp(strings[i]), 2),
                                                          -1, 0))


def test_channel_first_sequence_from_workers_is_contiguous(seqs: tuple[list[str], Path]
                                                           ) -> None:
    """A channel-first Bioseq sent from worker processes as codes was one-hot encoded into
    a strided view (np.moveaxis): x.view(len(x), -1) failed with workers and worked
    without (an audit). Both are contiguous now, with the same values."""
    from genozarr.loaders.torch import torch_loader

    strings, path = seqs
    dna = Bioseq.create_from_seq("dna", path, channel_last=False)
    for workers in (0, 2):
        loader = torch_loader(dna, np.arange(len(strings)), batch_size=8, shuffle=False,
                              num_workers=workers)
        seen = []
        for x, y in loader:
            assert x.is_contiguous(), workers
            rows = y.numpy()
            np.testing.assert_array_equal(x.view(len(x), -1).numpy(),
                                          dna.read(rows).reshape(len(rows), -1))
            seen.extend(rows.tolist())
        assert sorted(seen) == list(range(len(strings)))


@pytest.fixture(scope="module")
def joint(seqs: tuple[list[str], Path]) -> tuple[list[str], Bioseq, Cover, np.ndarray]:
    """A Bioseq and a stranded Cover at resolution 10 over the same windows; the cover's
    values name window, bin and strand (all nonzero)."""
    strings, path = seqs
    dna = Bioseq.create_from_seq("dna", path, order=2)
    n = len(strings)
    arr = (1 + np.arange(n)[:, None, None, None] * 100 + np.arange(L // 10)[None, :, None, None]
           * 2 + np.arange(2)[None, None, :, None]).astype("float32")
    arr = np.concatenate([arr, -arr], axis=3)  # two conditions
    cov = Cover.create_from_array("cov", arr, dna.gindexer, resolution=10)
    return strings, dna, cov, arr


def test_cover_flip_swaps_strands(joint: tuple[list[str], Bioseq, Cover, np.ndarray]) -> None:
    _, _, cov, arr = joint
    idx = np.arange(len(arr))
    bound = Augment(reverse_complement=0.5, seed=3).bind([cov])
    (out,) = bound([cov.read(idx)], key=(0, 0, 0))
    flip, shift = bound.draw(len(idx), key=(0, 0, 0))
    assert flip.any() and not flip.all() and not shift.any()
    for i in idx:
        want = np.flip(arr[i], axis=(0, 1)) if flip[i] else arr[i]
        np.testing.assert_array_equal(out[i], want)


@pytest.mark.parametrize("key", [(0,), (1, 2, 3)])
def test_joint_reverse_complement_and_shift(joint: tuple[list[str], Bioseq, Cover, np.ndarray],
                                            key: tuple[int, ...]) -> None:
    strings, dna, cov, arr = joint
    idx = np.arange(len(strings))
    bound = Augment(reverse_complement=0.5, shift=25, seed=1).bind([dna, cov, idx])
    assert bound.step == 10 and bound.max_steps == 2  # shifts in {-20, ..., 20}: whole bins
    x, y, label = bound([dna.read(idx), cov.read(idx), idx.copy()], key=key)
    flip, shift = bound.draw(len(idx), key=key)
    assert set(np.unique(shift)) <= {-20, -10, 0, 10, 20} and len(np.unique(shift)) > 2
    assert flip.any() and not flip.all()
    np.testing.assert_array_equal(label, idx)  # labels are left alone
    for i, s in enumerate(strings):
        seq = _revcomp(s) if flip[i] else s
        np.testing.assert_array_equal(x[i], _onehot(_shift_str(seq, int(shift[i])), 2))
        c = np.flip(arr[i], axis=(0, 1)) if flip[i] else arr[i]
        np.testing.assert_array_equal(y[i], _shift_bins(c, int(shift[i]) // 10))
    again = bound([dna.read(idx), cov.read(idx), idx.copy()], key=key)
    np.testing.assert_array_equal(again[0], x)  # reproducible by seed and key
    other = Augment(reverse_complement=0.5, shift=25, seed=2).bind([dna, cov, idx])
    assert not np.array_equal(other([dna.read(idx), cov.read(idx), idx], key=key)[0], x)


def _decode(window: np.ndarray, arr: np.ndarray) -> tuple[int, bool, int]:
    """(window, flipped, shift in bases) of an augmented cover window (values name bins)."""
    v = window[:, :, 0]
    nz = np.argwhere(v != 0)
    p, s = nz[0]
    code = int(v[p, s]) - 1
    w, b, strand = code // 100, (code % 100) // 2, code % 2
    flipped = strand != s
    src = (L // 10 - 1 - b) if flipped else b
    return w, bool(flipped), int(p - src) * 10


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_augments_inputs_and_targets_together(
        joint: tuple[list[str], Bioseq, Cover, np.ndarray], workers: int) -> None:
    strings, dna, cov, arr = joint
    aug = Augment(reverse_complement=0.5, shift=20, seed=0)

    def run() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        loader = torch_loader({"dna": dna}, [cov, np.arange(len(strings))], batch_size=5,
                              shuffle=True, seed=0, num_workers=workers, augment=aug)
        return [(x["dna"].numpy(), y[0].numpy(), y[1].numpy()) for x, y in loader]

    got = run()
    flips, shifts = [], []
    for x, y, idx in got:
        for j, i in enumerate(idx):
            w, flipped, s = _decode(y[j], arr)
            assert w == i
            seq = _revcomp(strings[i]) if flipped else strings[i]
            np.testing.assert_array_equal(x[j], _onehot(_shift_str(seq, s), 2))
            c = np.flip(arr[i], axis=(0, 1)) if flipped else arr[i]
            np.testing.assert_array_equal(y[j], _shift_bins(c, s // 10))
            flips.append(flipped)
            shifts.append(s)
    assert any(flips) and not all(flips) and len(set(shifts)) > 2
    np.testing.assert_array_equal(np.sort(np.concatenate([g[2] for g in got])),
                                  np.arange(len(strings)))
    again = run()  # the same seed: the same augmentations
    for a, b in zip(got, again):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


def test_map_style_augmentation(joint: tuple[list[str], Bioseq, Cover, np.ndarray]) -> None:
    strings, dna, cov, arr = joint
    loader = torch_loader(dna, [cov, np.arange(len(strings))], batch_size=6, shuffle=True,
                          seed=0, map_style=True,
                          augment=Augment(reverse_complement=0.5, shift=10, seed=0))
    flips = []
    for x, (y, idx) in loader:
        for j, i in enumerate(idx.numpy()):
            w, flipped, s = _decode(y.numpy()[j], arr)
            assert w == i
            seq = _revcomp(strings[i]) if flipped else strings[i]
            np.testing.assert_array_equal(x.numpy()[j], _onehot(_shift_str(seq, s), 2))
            flips.append(flipped)
    assert any(flips) and not all(flips)


def test_augment_arguments(joint: tuple[list[str], Bioseq, Cover, np.ndarray],
                           tmp_path: Path) -> None:
    _, dna, cov, _ = joint
    with pytest.raises(ArgumentError, match="probability"):
        Augment(reverse_complement=1.5)
    with pytest.raises(ArgumentError, match="shift"):
        Augment(shift=-1)
    with pytest.raises(ArgumentError, match="multiples of 10"):
        Augment(shift=5).bind([dna, cov])
    with pytest.raises(ArgumentError, match="no dataset has positions"):
        Augment(shift=5).bind([np.arange(3)])
    prot = tmp_path / "p.fa"
    prot.write_text(">a\nACDEFG\n>b\nHIKLMN\n")
    protein = Bioseq.create_from_seq("p", prot, seqtype="protein")
    with pytest.raises(ArgumentError, match="protein"):
        Augment(reverse_complement=0.5).bind([protein])
    Augment(reverse_complement=0.0, shift=2).bind([protein])  # shifting protein is fine
    with pytest.raises(ArgumentError, match="Augment"):
        torch_loader(dna, augment="flip")


# ------------------------------------------------------------------ torch.distributed
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dist_worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        n = 53
        served = {}
        for workers in (0, 2):
            # fork: a spawned rank's workers would otherwise spawn too (slow imports)
            ctx = {"multiprocessing_context": "fork"} if workers else {}
            loader = torch_loader(np.arange(n), batch_size=5, shuffle=True, seed=3,
                                  num_workers=workers, block_size=4, **ctx)
            assert loader.dataset.rank == rank and loader.dataset.world_size == world
            served[f"iter{workers}"] = np.concatenate([b.numpy() for b in loader])
        sampler = ChunkSampler(n, 4, shuffle=True, seed=3)
        assert (sampler.rank, sampler.num_replicas) == (rank, world)
        served["sampler"] = np.asarray(list(sampler))
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, served)
        if rank == 0:
            np.savez(out, **{f"{k}_{r}": g[k] for r, g in enumerate(gathered) for k in g})
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_real_process_group_two_ranks(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    out = str(tmp_path / "served.npz")
    mp.spawn(_dist_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    got = np.load(out)
    for workers in (0, 2):
        allidx = np.concatenate([got[f"iter{workers}_0"], got[f"iter{workers}_1"]])
        np.testing.assert_array_equal(np.sort(allidx), np.arange(53))
    a, b = got["sampler_0"], got["sampler_1"]
    assert len(a) == len(b) == 27
    np.testing.assert_array_equal(np.unique(np.concatenate([a, b])), np.arange(53))


@pytest.mark.slow
def test_spawned_persistent_workers(index_cover: Cover, monkeypatch: Any) -> None:
    """Workers started with 'spawn' (the loader pickles: zarr store, structure, shared
    epoch and read marks) serve the same epochs as forked ones, and follow set_epoch
    while persistent; their batches come through slots, and the read marks they see are
    the training process's (at most prefetch_factor + 2 slots per worker, where marks
    never seen would let a worker make all 6 and then send tensors)."""
    kw = dict(batch_size=8, shuffle=True, seed=2, num_workers=2)
    spawned = torch_loader(index_cover, {"i": np.arange(N)}, persistent_workers=True,
                           multiprocessing_context="spawn", **kw)
    forked = torch_loader(index_cover, {"i": np.arange(N)}, **kw)
    received = _count_slot_batches(monkeypatch)
    for epoch in (0, 1, 5):
        spawned.set_epoch(epoch)
        forked.set_epoch(epoch)
        received.clear()
        a = [(x.numpy(), y["i"].numpy()) for x, y in spawned]
        assert len(received) == len(a)
        slots: dict[int, set[int]] = {}
        for pid, slot in received:
            slots.setdefault(pid, set()).add(slot)
        assert max(len(s) for s in slots.values()) <= 4
        b = [(x.numpy(), y["i"].numpy()) for x, y in forked]
        assert len(a) == len(b)
        for (xa, ia), (xb, ib) in zip(a, b):
            np.testing.assert_array_equal(ia, ib)
            np.testing.assert_array_equal(xa, xb)


@pytest.mark.parametrize("channel_last,pin", [(True, False), (False, False), (True, True),
                                               (False, True)])
def test_workers_send_sequence_as_codes(sample_files: dict[str, str], tmp_path: Path,
                                        channel_last: bool, pin: bool,
                                        monkeypatch: Any) -> None:
    """With workers, Bioseq batches travel as uint8 codes and are one-hot encoded in the
    training process: the batches equal the datasets' own reads (minus-strand windows
    reverse-complemented, order 2, channel order), in the inputs' structure. With
    ``pin_memory`` where CUDA is there, each array is copied out of its slot, and the
    sequence encoded, straight into a page-locked tensor (here a stand-in allocator that
    counts them): the same batches, every tensor from it."""
    import pandas as pd

    import genozarr.loaders.torch as gt

    pinned: list[tuple[int, ...]] = []
    if pin:
        def page_locked(shape: tuple[int, ...], dtype: Any) -> Any:
            pinned.append(tuple(shape))
            return torch.empty(shape, dtype=dtype)

        monkeypatch.setattr(gt, "_pinned_empty", page_locked)
        monkeypatch.setattr(gt, "_can_pin", lambda: True)

    roi = pd.read_csv(sample_files["roi"], sep="\t", header=None).iloc[:, :3]
    roi.columns = ["chrom", "start", "end"]
    roi["strand"] = np.where(np.arange(len(roi)) % 2 == 0, "+", "-")
    with set_options(chunk_bytes=8192):
        dna = Bioseq.create_from_refgenome("dna", sample_files["fasta"], roi=roi, binsize=100,
                                           order=2, storage="zarr", store=tmp_path / "s.zarr",
                                           channel_last=channel_last)
        cov = Cover.create_from_bigwig("cov", sample_files["bigwig_a"], roi=roi, binsize=100,
                                       storage="zarr", store=tmp_path / "c.zarr")
    n = len(dna)
    loader = torch_loader({"seq": dna, "cov": cov}, np.arange(n), batch_size=16, shuffle=True,
                          seed=2, num_workers=2, pin_memory=pin)
    assert loader.dataset.compact == [0]  # the Bioseq: sent as codes
    seen = []
    with warnings.catch_warnings():  # pin_memory without an accelerator: PyTorch warns
        warnings.filterwarnings("ignore", "'pin_memory' argument is set as true")
        for x, y in loader:
            idx = y.numpy()
            assert x["seq"].dtype == torch.float32
            np.testing.assert_array_equal(x["seq"].numpy(), dna[idx])
            np.testing.assert_array_equal(x["cov"].numpy(), cov[idx])
            seen.append(idx)
    assert sorted(np.concatenate(seen).tolist()) == list(range(n))
    if pin:  # sequence, coverage and target of every batch
        assert sorted(pinned) == sorted(
            shape for idx in seen
            for shape in ((len(idx), *dna.shape[1:]), (len(idx), *cov.shape[1:]), (len(idx),)))
    assert torch_loader(dna, batch_size=16).dataset.compact == []  # no workers: one-hot


def _count_slot_batches(monkeypatch: Any) -> list[Any]:
    """A list that gets one entry per batch the training process reads out of a slot."""
    import genozarr.loaders.torch as gt

    received: list[Any] = []
    receive = gt._EpochDatasets._receive

    def counted(self: Any, batch: Any, slots: Any, pin: bool) -> list[Any]:
        received.append(batch.key)
        return receive(self, batch, slots, pin)

    monkeypatch.setattr(gt._EpochDatasets, "_receive", counted)
    return received


@pytest.mark.filterwarnings("ignore:This DataLoader will create")  # 4 workers on 2 cores
@pytest.mark.parametrize("workers,persistent,prefetch,map_style", [
    (1, False, 1, False), (2, True, 2, False), (2, False, 4, False), (2, False, 2, True),
    (1, False, 3, True), (4, True, 1, False)])
def test_workers_send_batches_through_shared_memory_slots(index_cover: Cover, workers: int,
                                                          persistent: bool, prefetch: int,
                                                          map_style: bool,
                                                          monkeypatch: Any) -> None:
    """Worker batches (iterable and map-style) travel through shared-memory slots, at most
    prefetch_factor x workers + 2 per worker: every batch of 3 passes (the consumer slow now and
    then, so that the workers run ahead, and holding every batch to the end) still holds
    its own windows' values (window i holds i), every window once per pass; a pass left
    after two batches does not disturb the next; slots were used (the loader received
    them)."""
    import time

    received = _count_slot_batches(monkeypatch)
    loader = torch_loader(index_cover, np.arange(N), batch_size=8, shuffle=True, seed=3,
                          num_workers=workers, persistent_workers=persistent,
                          prefetch_factor=prefetch, map_style=map_style)
    assert loader.dataset.slots == prefetch * workers + 2
    for epoch in range(3):
        held = []
        received.clear()
        for k, (x, y) in enumerate(loader):
            if k % 3 == 0:
                time.sleep(0.02)
            held.append((x, y))
        assert len(received) == len(held)  # every batch came through a slot
        for x, y in held:
            idx = y.numpy()
            np.testing.assert_array_equal(
                x.numpy(), np.broadcast_to(idx[:, None, None, None].astype("float64"), x.shape))
        assert sorted(np.concatenate([y.numpy() for _, y in held]).tolist()) == list(range(N))
        if epoch == 0:
            it = iter(loader)
            next(it), next(it)
            del it


@pytest.mark.filterwarnings("ignore:This DataLoader will create")  # 4 workers on 2 cores
def test_worker_slots_are_made_as_needed(index_cover: Cover, monkeypatch: Any) -> None:
    """A worker makes a batch slot only when none of its slots is free (the training
    process marks a slot free once it has read the batch out). Map-style with 4 workers
    and prefetch_factor 2 deals the 52 batches in turn: each worker has at most 2 batches
    requested and 1 being read, so it uses at most 3 slots (4 allowed here), where a ring
    of prefetch_factor x workers + 2 = 10 slots each would use all 10 over its 13 batches.
    Every batch holds its own windows, every window once."""
    received = _count_slot_batches(monkeypatch)
    loader = torch_loader(index_cover, np.arange(N), batch_size=2, shuffle=True, seed=5,
                          num_workers=4, prefetch_factor=2, map_style=True)
    assert loader.dataset.slots == 10  # the most a worker may make
    held = list(loader)
    assert len(received) == len(held) == -(-N // 2)
    slots: dict[int, set[int]] = {}
    for pid, slot in received:
        slots.setdefault(pid, set()).add(slot)
    assert len(slots) == 4
    assert max(len(s) for s in slots.values()) <= 4
    for x, y in held:
        np.testing.assert_array_equal(
            x.numpy(), np.broadcast_to(y.numpy()[:, None, None, None].astype("float64"),
                                       x.shape))
    assert sorted(np.concatenate([y.numpy() for _, y in held]).tolist()) == list(range(N))


def test_batch_pool_reuses_only_freed_memory() -> None:
    """The training process's batch arrays come from blocks that return to the pool when
    the last tensor, view or array using them is freed: a freed block serves the next
    array of its size (its pages already faulted in); a block in use, even through a
    slice or a numpy array of a tensor, is never handed out; a forked process starts with
    no free blocks; free blocks past the pool's bytes are dropped."""
    import gc

    from genozarr.loaders.torch import _BatchPool

    pool = _BatchPool()
    made = pool.array((4, 8), np.float32)
    address = made.ctypes.data
    first = torch.from_numpy(made)
    first[:] = 1.0
    held = first[1].numpy()  # a numpy view of a slice holds the block
    del made, first
    gc.collect()
    second = pool.array((4, 8), np.float32)
    assert second.ctypes.data != address  # the block is in use
    second[:] = 2.0
    assert held.tolist() == [1.0] * 8
    del held
    gc.collect()
    third = pool.array((2, 16), np.float32)  # 128 bytes again: the freed block
    assert third.ctypes.data == address
    del third
    gc.collect()
    assert pool._free_bytes == 128
    pool._after_fork()  # in a forked process: the parent's free blocks are not served
    assert pool._free_bytes == 0 and not pool._free
    small = _BatchPool(max_bytes=100)
    a = small.array((4, 8), np.float32)
    del a
    assert small._free_bytes == 0  # 128 bytes do not fit a pool of 100


def test_loader_batches_come_from_the_pool(sample_files: dict[str, str], tmp_path: Path,
                                           monkeypatch: Any) -> None:
    """With workers, every array the training process hands on (copied out of a slot, or
    a one-hot batch encoded from codes) is a pool array: one per dataset per batch;
    blocks freed by earlier batches serve later ones; after the pass, with the batches
    dropped, every block is back in the pool."""
    import gc

    import genozarr.loaders.torch as gt

    pool = gt._BatchPool(max_bytes=2**30)
    taken: list[tuple[int, ...]] = []
    array = pool.array

    blocks: dict[int, int] = {}  # address -> bytes of every block the pool handed out

    def counted(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        taken.append(tuple(shape))
        out = array(shape, dtype)
        blocks[out.ctypes.data] = out.nbytes
        return out

    monkeypatch.setattr(pool, "array", counted)
    monkeypatch.setattr(gt, "_POOL", pool)
    with set_options(chunk_bytes=8192):
        dna = Bioseq.create_from_refgenome("dna", sample_files["fasta"],
                                           roi=sample_files["roi"], binsize=100,
                                           storage="zarr", store=tmp_path / "s.zarr")
    n = len(dna)
    loader = torch_loader(dna, np.arange(n), batch_size=16, shuffle=True, seed=1,
                          num_workers=2)
    sizes = []
    for x, y in loader:
        np.testing.assert_array_equal(x.numpy(), dna[y.numpy()])
        sizes.append(len(y))
    assert sum(sizes) == n
    assert sorted(taken) == sorted([(k, *dna.shape[1:]) for k in sizes] + [(k,) for k in sizes])
    del x, y
    gc.collect()
    assert len(blocks) < len(taken)  # freed blocks served later batches
    assert pool._free_bytes == sum(blocks.values())  # and every block is back


@pytest.mark.parametrize("map_style", [False, True])
def test_batches_too_large_for_the_slots_travel_as_tensors(index_cover: Cover,
                                                           monkeypatch: Any,
                                                           map_style: bool) -> None:
    """Past the slots' shared-memory budget, batches travel as tensors: the same batches."""
    import genozarr.loaders.torch as gt

    kw = {"batch_size": 8, "shuffle": True, "seed": 4, "num_workers": 2,
          "map_style": map_style}
    want = [(x.numpy(), y.numpy()) for x, y in torch_loader(index_cover, np.arange(N), **kw)]
    received = _count_slot_batches(monkeypatch)
    monkeypatch.setattr(gt, "SLOT_BYTES_MAX", 1)  # the workers fork after this
    loader = torch_loader(index_cover, np.arange(N), **kw)
    passes = [[(x.numpy(), y.numpy()) for x, y in loader]]
    assert loader.dataset.slots and not received  # slots on, every batch too large
    if map_style:  # persistent map-style workers send tensors (see torch_loader)
        kw["persistent_workers"] = True
        loader = torch_loader(index_cover, np.arange(N), **kw)
        assert loader.dataset.slots == 0
        for _ in range(2):
            loader.set_epoch(0)
            passes.append([(x.numpy(), y.numpy()) for x, y in loader])
    for got in passes:
        assert len(got) == len(want)
        for (xa, ya), (xb, yb) in zip(got, want):
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(xa, xb)


def test_slot_batches_outside_their_loader_say_so(index_cover: Cover) -> None:
    """A DataLoader rebuilt from torch_loader's as another class (as accelerate's prepare
    does) hands out the slots' batches unread: using one says what happened and what to
    do; shared_slots=False sends tensors that any DataLoader serves."""
    from torch.utils.data import DataLoader

    def rebuilt(ours: Any) -> DataLoader:
        sampler = {"sampler": ours.sampler} if isinstance(ours.dataset, TorchDataset) else {}
        return DataLoader(ours.dataset, batch_size=ours.batch_size, num_workers=2,
                          collate_fn=ours.collate_fn, **sampler)

    for map_style in (False, True):
        ours = torch_loader(index_cover, np.arange(N), batch_size=8, num_workers=2,
                            map_style=map_style)
        with pytest.raises(TypeError, match="shared_slots=False"):
            x, y = next(iter(rebuilt(ours)))
        ours = torch_loader(index_cover, np.arange(N), batch_size=8, num_workers=2,
                            map_style=map_style, shared_slots=False)
        assert ours.dataset.slots == 0
        x, y = next(iter(rebuilt(ours)))
        np.testing.assert_array_equal(x.numpy()[:, 0, 0, 0], y.numpy().astype("float64"))


@pytest.mark.parametrize("map_style", [False, True], ids=["iterable", "map_style"])
def test_two_passes_iterated_at_once_keep_inputs_and_targets_together(
        index_cover: Cover, map_style: bool) -> None:
    """zip(loader, loader): two passes, each with workers of its own, read at the same
    time. Each pass has its own slot marks, so a batch of one is never marked read by the
    other and overwritten before it is copied out: every window's coverage is its index."""
    loader = torch_loader(np.arange(N), index_cover, batch_size=4, shuffle=True, seed=5,
                          num_workers=2, map_style=map_style)
    served = 0
    for _ in range(6):
        for a, b in zip(loader, loader):
            for x, y in (a, b):
                want = x.numpy().astype("float64")[:, None, None, None]
                assert (y.numpy() == want).all(), "a batch of another window's coverage"
                served += len(x)
    assert served >= 6 * 2 * (N - 4)


@pytest.mark.parametrize("workers", [1, 2])
def test_two_passes_at_once_with_persistent_workers_share_one_pass(index_cover: Cover,
                                                                   workers: int) -> None:
    """With persistent workers PyTorch hands every iter() the same iterator, reset: two
    passes iterated at once (zip(loader, loader)) share one pass's batches, as with a
    plain DataLoader. It raised a bare KeyError (a worker's slot sent to the other pass,
    or with batches PyTorch dropped at the reset). Every window comes once, with its own
    coverage; a pass broken off early and the next whole pass serve every window too."""
    loader = torch_loader(np.arange(N), index_cover, batch_size=4, shuffle=True, seed=3,
                          num_workers=workers, persistent_workers=True)
    for _ in range(3):
        seen = []
        for a, b in zip(loader, loader):
            for x, y in (a, b):
                assert (y.numpy() == x.numpy().astype("float64")[:, None, None, None]).all()
                seen.extend(x.tolist())
        assert sorted(seen) == list(range(N))  # (26 batches: 13 pairs)
        for k, _ in enumerate(loader):  # broken off early
            if k == 1:
                break
        whole = np.concatenate([x.numpy() for x, _ in loader])
        assert sorted(whole.tolist()) == list(range(N))


def _worker_options(batch: Any) -> tuple[Any, Any]:
    """(a collate_fn: runs in the worker, after its dataset's first read)"""
    from genozarr.config import get_options

    return get_options()["remote_timeout"], get_options()["chunk_cache_bytes"]


@pytest.mark.slow
@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_spawned_workers_take_the_training_process_options(index_cover: Cover,
                                                           context: str) -> None:
    """A worker started with spawn or forkserver started from genozarr's default options:
    remote_timeout=None there let a stalled server hang the loader past the timeout set.
    The options as they are when a pass starts are the workers' (a second pass with other
    options, new workers, takes those)."""
    import multiprocessing

    if context == "forkserver":  # (a fork server started since has genozarr imported)
        multiprocessing.get_context("forkserver").set_forkserver_preload(["genozarr.config"])
    loader = torch_loader(index_cover, batch_size=32, num_workers=1,
                          multiprocessing_context=context, collate_fn=_worker_options)
    with set_options(remote_timeout=7, chunk_cache_bytes=12345):
        assert set(loader) == {(7, 12345)}
    with set_options(remote_timeout=3):
        assert set(loader) == {(3, 268435456)}


def test_forked_workers_keep_the_options_they_inherit(index_cover: Cover) -> None:
    """A forked worker has the training process's options as they are when it forks; the
    snapshot a dataset took when it was made (for spawned workers) must not undo options
    set since (a review found remote_timeout and chunk_cache_bytes reset in fork workers
    of a plain DataLoader)."""
    from torch.utils.data import DataLoader

    from genozarr.loaders.torch import TorchDataset

    ds = TorchDataset(index_cover)
    with set_options(remote_timeout=5.0, chunk_cache_bytes=0):
        loader = DataLoader(ds, batch_size=32, num_workers=1,
                            multiprocessing_context="fork", collate_fn=_worker_options)
        assert set(loader) == {(5.0, 0)}


def test_chunk_sampler_pads_and_cuts_with_every_window_as_likely() -> None:
    """Padding ranks to equal lengths repeated the stream's first windows, and
    ``drop_last`` left out its last ones: those of its first or last group of blocks, in
    which a short block's windows are a larger share (11 windows, blocks of 4 each
    shuffled alone, 2 ranks: short-block windows served twice 0.109 of epochs against
    0.084; an audit). Shuffled,
    the windows repeated or left out are drawn from the whole epoch: chi-square of the
    counts per window over 6,000 epochs against uniform; every rank agrees on them, and
    each window is served once or twice (padding) or at most once (drop_last)."""
    from scipy import stats

    n, epochs = 11, 6000
    for drop_last in (False, True):
        extra = np.zeros(n)
        for epoch in range(epochs):
            served = [ChunkSampler(n, 4, seed=3, num_replicas=2, rank=r, epoch=epoch,
                                   drop_last=drop_last, buffer_blocks=1).epoch_indices()
                      for r in (0, 1)]
            counts = np.bincount(np.concatenate(served), minlength=n)
            assert counts.sum() == (10 if drop_last else 12)
            assert set(counts.tolist()) <= ({0, 1} if drop_last else {1, 2})
            extra += counts == (0 if drop_last else 2)
        assert extra.sum() == epochs
        assert stats.chisquare(extra).pvalue > 1e-3, (drop_last, extra)
    # in index order: the first windows repeated, the last left out, as before
    assert ChunkSampler(11, 4, shuffle=False, num_replicas=2, rank=1).epoch_indices(
        ).tolist() == [6, 7, 8, 9, 10, 0]
    assert ChunkSampler(11, 4, shuffle=False, num_replicas=2, rank=1,
                        drop_last=True).epoch_indices().tolist() == [5, 6, 7, 8, 9]


class _DecodeThreadsSeen(torch.utils.data.Dataset):
    """A user's own Dataset: each item is the decode threads genozarr would use there."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> int:
        from genozarr.store.backend import decode_threads

        return decode_threads()


class _BackendThreadsSeen(torch.utils.data.Dataset):
    """A user's own Dataset over a genozarr dataset: each item is the decode threads of
    the store it read, after the read."""

    def __init__(self, cover: Cover) -> None:
        self.cover = cover

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> int:
        self.cover[i]
        return self.cover.garray.backend.threads


def test_spawned_workers_of_a_plain_dataloader_decode_with_their_share(
        index_cover: Cover) -> None:
    """A store unpickled in a spawned worker chose its decode threads before PyTorch said
    it was one of N workers: each decoded with every core (a review). The threads are
    chosen at the first read in the worker."""
    from genozarr.config import available_cpus

    loader = torch.utils.data.DataLoader(_BackendThreadsSeen(index_cover), batch_size=None,
                                         num_workers=2, multiprocessing_context="spawn")
    assert set(map(int, loader)) == {max(1, min(4, available_cpus() // 2))}


def test_pools_are_sized_by_the_cpus_this_process_may_use(monkeypatch) -> None:
    """Thread and process pools were sized by os.cpu_count(): under ``taskset -c 0`` an
    export started 8 writer processes on one CPU (1.1-2.2x slower than writing in the
    process), and a plain DataLoader's workers each decoded with every core (genozarr's
    own loaders only shared them out; an audit). Sizes now follow the CPU affinity, and a
    worker of any DataLoader decodes with its share."""
    from genozarr import export
    from genozarr.config import available_cpus
    from genozarr.store import _run
    from genozarr.store.backend import decode_threads

    for cpus, threads in ((1, 1), (4, 4), (16, 4)):
        monkeypatch.setattr("os.sched_getaffinity", lambda pid, n=cpus: set(range(n)),
                            raising=False)
        monkeypatch.setattr("os.cpu_count", lambda: 64)
        assert available_cpus() == cpus
        assert decode_threads() == threads and _run._local_workers() == cpus
        assert export._reader_threads() == min(cpus, export._MAX_THREADS)
        assert export._writer_processes(8) == (cpus > 1)
        with set_options(num_workers=1, decode_threads=3):  # (the options win)
            assert not export._writer_processes(8) and _run._local_workers() == 1
            assert decode_threads() == 3
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    loader = torch.utils.data.DataLoader(_DecodeThreadsSeen(), batch_size=None, num_workers=2)
    assert list(map(int, loader)) == [2, 2, 2, 2]  # 4 CPUs, 2 workers: 2 threads each
    assert decode_threads() == 4  # (this process: all of them)


def test_torch_dataset_indices_must_be_integers() -> None:
    """``TorchDataset`` took ``int(index)``: ``ds[2.7]`` served item 2 and ``ds[True]``
    item 1, where the dataset itself (as numpy) refuses such keys; a batched read cast
    float indices the same way. Integer keys of numpy and torch still serve."""
    ds = TorchDataset(np.arange(10.0)[:, None], np.arange(10))
    for key in (2.7, 2.0, True, np.float64(3), "3", torch.tensor(True), np.array(True)):
        with pytest.raises(TypeError, match="indices must be integers"):
            ds[key]
    with pytest.raises(TypeError, match="indices must be integers, got float64"):
        ds.__getitems__([1.5, 2.0])
    with pytest.raises(TypeError, match="got object values such as None"):
        ds.__getitems__([1, None])
    for big in (2**64 - 1, 2**63):  # (unsigned: were cast, 2**64 - 1 served item 9)
        with pytest.raises(IndexError, match=f"index {big} out of range"):
            ds.__getitems__(np.array([1, big], dtype=np.uint64))
    assert int(ds[np.int32(4)][1]) == 4 and int(ds[torch.tensor(5)][1]) == 5
    assert int(ds[-1][1]) == 9
    assert [int(y) for _, y in ds.__getitems__(np.array([3, 1], dtype=np.uint8))] == [3, 1]
    assert ds.__getitems__([]) == []
