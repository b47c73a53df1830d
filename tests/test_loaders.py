"""PyTorch DataLoader (2 workers, map-style and iterable) and Keras PyDataset adapters."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import zarr

from genozarr import Bioseq, Cover, RandomOrientation, set_options

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loaders")


@pytest.fixture(scope="module")
def data(sample_files: dict[str, str], store_dir: Path) -> tuple[Bioseq, Cover, int]:
    d = store_dir
    kw = dict(roi=sample_files["roi"], binsize=100, storage="zarr")
    with set_options(chunk_bytes=16384):
        seq = Bioseq.create_from_refgenome("s", sample_files["fasta"], **kw, store=d / "s.zarr")
        cov = Cover.create_from_bigwig("c", [sample_files["bigwig_a"], sample_files["bigwig_b"]],
                                       **kw, resolution=10, store=d / "c.zarr")
    return seq, cov, len(seq)


def test_torch_map_style_two_workers(data: tuple[Bioseq, Cover, int]) -> None:
    from torch.utils.data import DataLoader

    from genozarr.loaders.torch import TorchDataset

    seq, cov, n = data
    ds = TorchDataset({"dna": seq}, {"cov": cov, "idx": np.arange(n)})
    x, y = ds[5]
    assert x["dna"].shape == seq.shape[1:] and y["idx"].item() == 5
    loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=2)
    dense_s, dense_c = seq[:], cov[:]
    seen = []
    for x, y in loader:
        idx = y["idx"].numpy()
        np.testing.assert_array_equal(x["dna"].numpy(), dense_s[idx])
        np.testing.assert_array_equal(y["cov"].numpy(), dense_c[idx])
        seen.append(idx)
    assert [len(i) for i in seen] == [32] * (n // 32) + ([n % 32] if n % 32 else [])
    allidx = np.concatenate(seen)
    np.testing.assert_array_equal(np.sort(allidx), np.arange(n))
    assert not np.array_equal(allidx, np.arange(n))  # shuffle=True: not the stored order


def _rows_per_chunk(store: Path) -> int:
    """Windows per chunk of a partial-layout store, read from zarr itself."""
    return int(zarr.open_group(str(store), mode="r")["data"].chunks[0])


def _sequential_two_worker_batches(n: int, block: int, batch_size: int) -> list[np.ndarray]:
    """The unshuffled batches of a 2-worker DataLoader over a TorchIterableDataset.

    Blocks of ``block`` consecutive windows are dealt alternately to the workers (block 0,
    2, 4, ... to worker 0); each worker cuts its own windows into batches; the DataLoader
    returns the workers' batches alternately (worker 0 first) until both are exhausted.
    """
    per_worker = []
    for k in range(2):
        rows = [i for s in range(k * block, n, 2 * block) for i in range(s, min(s + block, n))]
        per_worker.append([np.array(rows[i:i + batch_size])
                           for i in range(0, len(rows), batch_size)])
    out = []
    for j in range(max(len(w) for w in per_worker)):
        out.extend(w[j] for w in per_worker if j < len(w))
    return out


@pytest.mark.parametrize("shuffle", [False, True])
def test_torch_iterable_two_workers(data: tuple[Bioseq, Cover, int], store_dir: Path,
                                    shuffle: bool) -> None:
    from torch.utils.data import DataLoader

    from genozarr.loaders.torch import TorchIterableDataset

    seq, cov, n = data
    ds = TorchIterableDataset([seq, np.arange(n)], cov, batch_size=24, shuffle=shuffle)
    dense_s, dense_c = seq[:], cov[:]
    epochs = []
    for _ in range(2):
        seen = []
        for (x, idx), y in DataLoader(ds, batch_size=None, num_workers=2):
            idx = idx.numpy()
            np.testing.assert_array_equal(x.numpy(), dense_s[idx])
            np.testing.assert_array_equal(y.numpy(), dense_c[idx])
            seen.append(idx)
        allidx = np.concatenate(seen)
        np.testing.assert_array_equal(np.sort(allidx), np.arange(n))  # every window once
        epochs.append(seen)
    # the default block: the most windows per chunk of the two stores
    block = max(_rows_per_chunk(store_dir / name) for name in ("s.zarr", "c.zarr"))
    expected = _sequential_two_worker_batches(n, block, 24)
    assert 1 < block < n and len(expected) > 2
    for seen in epochs:
        if shuffle:
            assert not np.array_equal(np.concatenate(seen), np.concatenate(expected))
        else:  # the same order, batch by batch, in every epoch
            assert len(seen) == len(expected)
            for got, want in zip(seen, expected):
                np.testing.assert_array_equal(got, want)
    if shuffle:  # a new order each epoch
        assert not np.array_equal(np.concatenate(epochs[0]), np.concatenate(epochs[1]))


@pytest.mark.parametrize("cache", ["auto", "memory"])
def test_torch_workers_decode_into_one_shared_copy(data: tuple[Bioseq, Cover, int],
                                                   store_dir: Path, cache: str) -> None:
    """Stores kept decoded in memory are one copy shared with the DataLoader workers: what
    the workers decode, the main process holds, though it never read a window."""
    import multiprocessing

    from torch.utils.data import DataLoader

    from genozarr import open_dataset
    from genozarr.loaders.torch import TorchIterableDataset

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork: each worker keeps its own copy")
    seq = open_dataset(store_dir / "s.zarr", cache=cache)
    cov = open_dataset(store_dir / "c.zarr", cache=cache)
    n = len(seq)
    ds = TorchIterableDataset([seq, np.arange(n)], cov, batch_size=24, shuffle=True)
    got = list(DataLoader(ds, batch_size=None, num_workers=2,
                          multiprocessing_context="fork"))
    for dataset, store in ((seq, "s.zarr"), (cov, "c.zarr")):
        backend = dataset.garray.backend
        whole, done = backend._whole["data"]
        assert done.all()  # every chunk decoded, by the workers
        np.testing.assert_array_equal(whole, zarr.open_group(str(store_dir / store),
                                                             mode="r")["data"][:])
        assert backend.cache.misses == 0  # none of it in this process
    dense_s, dense_c = data[0][:], data[1][:]  # the same stores, read by the fixture's
    seen = []
    for (x, idx), y in got:
        idx = idx.numpy()
        np.testing.assert_array_equal(x.numpy(), dense_s[idx])
        np.testing.assert_array_equal(y.numpy(), dense_c[idx])
        seen.append(idx)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(n))


def test_torch_workers_reseed_augmentations(data: tuple[Bioseq, Cover, int]) -> None:
    """Two workers of a map-style loader draw different flips for the same windows."""
    from torch.utils.data import DataLoader

    from genozarr.loaders.torch import TorchDataset

    from genozarr import view

    seq, _, n = data
    same = view(seq, np.tile(np.arange(8), 8))  # the same 8 windows 8 times
    ds = TorchDataset(RandomOrientation(same, random_state=0))
    torch.manual_seed(0)
    loader = DataLoader(ds, batch_size=8, num_workers=2)
    got = [x.numpy() for x in loader]
    assert len(got) == 8
    # workers 0 and 1 serve alternate batches; their flips differ
    assert not np.array_equal(got[0], got[1])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_keras_pydataset(data: tuple[Bioseq, Cover, int]) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    from genozarr.loaders.keras import KerasDataset
    from genozarr.wrappers import ReduceDim

    seq, cov, n = data
    target = ReduceDim(cov, aggregator="mean")
    ds = KerasDataset({"dna": seq}, {"cov": target, "idx": np.arange(n)}, batch_size=64,
                      shuffle=True, seed=0)
    assert len(ds) == -(-n // 64)
    dense_s, dense_t = seq[:], target[:]
    seen = []
    for k in range(len(ds)):
        x, y = ds[k]
        np.testing.assert_array_equal(x["dna"], dense_s[y["idx"]])
        np.testing.assert_allclose(y["cov"], dense_t[y["idx"]])
        seen.append(y["idx"])
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(n))
    before = [ds[k][1]["idx"].copy() for k in range(len(ds))]
    ds.on_epoch_end()
    assert any(not np.array_equal(a, ds[k][1]["idx"]) for k, a in enumerate(before))
    # keras consumes it: a linear model on the sequence composition, one epoch
    inputs = keras.Input(shape=seq.shape[1:], name="dna")
    out = keras.layers.Dense(2, name="cov")(keras.layers.GlobalAveragePooling2D()(inputs))
    model = keras.Model(inputs, out)
    model.compile(optimizer="sgd", loss="mse")
    xy = KerasDataset(seq, target, batch_size=100)
    hist = model.fit(xy, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_keras_pydataset_joint_augmentation(data: tuple[Bioseq, Cover, int]) -> None:
    """The Keras PyDataset takes the loaders' Augment: a window's sequence is reverse-
    complemented exactly when its coverage is reversed (the two are one draw), and the
    draws are reproducible by seed and change with the epoch."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    from genozarr.loaders.augment import Augment
    from genozarr.loaders.keras import KerasDataset

    seq, cov, n = data
    make = lambda: KerasDataset([seq], [cov, np.arange(n)], batch_size=32,  # noqa: E731
                                augment=Augment(reverse_complement=0.5, seed=5))
    ds = make()
    dense_s, dense_c = seq[:], cov[:]
    flips = []
    for k in range(len(ds)):
        (x,), (y, idx) = ds[k]
        rc_s = dense_s[idx][:, ::-1, :, ::-1]  # order 1: A,C,G,T -> T,G,C,A, reversed
        flip_c = dense_c[idx][:, ::-1, ::-1, :]  # reversed, strands swapped
        is_rc = np.array([np.array_equal(a, b) for a, b in zip(x, rc_s)])
        is_same = np.array([np.array_equal(a, b) for a, b in zip(x, dense_s[idx])])
        np.testing.assert_array_equal(y[is_rc & ~is_same], flip_c[is_rc & ~is_same])
        np.testing.assert_array_equal(y[~is_rc], dense_c[idx][~is_rc])
        assert np.all(is_rc | is_same)
        flips.append(is_rc & ~is_same)
    flips = np.concatenate(flips)
    assert 0.2 < flips.mean() < 0.8
    again = make()
    np.testing.assert_array_equal(again[0][0][0], ds[0][0][0])  # same seed, same draws
    again.on_epoch_end()
    assert not np.array_equal(again[0][0][0], ds[0][0][0])  # a new epoch, new draws


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_keras_fit_epochs_follow_the_seed_from_epoch_one(data: tuple[Bioseq, Cover, int]
                                                         ) -> None:
    """What the KerasDataset docs say of model.fit: a first fit reads one batch of epoch 0
    to build the model, rewinds (on_epoch_end), then trains epochs 1, 2, ... of the seed's
    orders, each window once per epoch; epoch counts the on_epoch_end calls."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    from genozarr.loaders.keras import KerasDataset

    seq, _, n = data

    class Recording(KerasDataset):
        def __getitem__(self, index: int) -> tuple:
            out = super().__getitem__(index)
            served.append(out[1].copy())
            return out

    served: list[np.ndarray] = []
    def make(cls: type) -> KerasDataset:
        return cls(seq, np.arange(n), batch_size=48, shuffle=True, seed=3)

    plans = make(KerasDataset)
    orders = []
    for _ in range(3):  # the orders of epochs 0, 1, 2, drawn independently of fit
        orders.append([idx.copy() for idx in plans._plan])
        plans.on_epoch_end()
    ds = make(Recording)
    inputs = keras.Input(shape=seq.shape[1:])
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(ds, epochs=2, verbose=0, shuffle=False)
    k = len(orders[0])
    assert len(served) == 1 + 2 * k
    np.testing.assert_array_equal(served[0], orders[0][0])  # the batch that built the model
    for e in (1, 2):
        got = served[1 + (e - 1) * k:1 + e * k]
        for a, b in zip(got, orders[e]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.sort(np.concatenate(got)), np.arange(n))
    assert ds.epoch == 3


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("built", [False, True])
def test_keras_fit_resumed_from_a_checkpoint_serves_the_uninterrupted_epochs(
        data: tuple[Bioseq, Cover, int], built: bool) -> None:
    """Resuming a fit after k epochs (``model.fit(initial_epoch=k)``, a fresh
    KerasDataset) served the seed's first order again, and setting ``epoch`` by hand
    changed the augmentations but not the order (an audit). ``set_epoch(k)`` then
    ``fit(initial_epoch=k)`` serves the batches, augmentations included, of the
    uninterrupted run's epochs k+1, ... (a model already built, as one loaded from a
    checkpoint, or one built by the fit)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    from genozarr.errors import ArgumentError
    from genozarr.loaders.augment import Augment
    from genozarr.loaders.keras import KerasDataset

    seq, _, n = data

    def run(first: int, epochs: int, model=None) -> tuple[list[list[bytes]], object]:
        served: list[tuple[int, bytes]] = []

        class Recording(KerasDataset):
            def __getitem__(self, index: int) -> tuple:
                out = super().__getitem__(index)
                served.append((self.epoch, out[0].tobytes() + out[1].tobytes()))
                return out

        ds = Recording(seq, np.arange(n), batch_size=48, shuffle=True, seed=3,
                       augment=Augment(reverse_complement=0.5, seed=5))
        if model is None:
            inputs = keras.Input(shape=seq.shape[1:])
            model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
            model.compile(optimizer="sgd", loss="mse")
        if first:
            ds.set_epoch(first)
        model.fit(ds, initial_epoch=first, epochs=epochs, verbose=0, shuffle=False)
        by_epoch: dict[int, list[bytes]] = {}
        for epoch, batch in served:
            by_epoch.setdefault(epoch, []).append(batch)
        return by_epoch, model

    whole, model = run(0, 4)
    assert sorted(whole) == [0, 1, 2, 3, 4]  # (epoch 0: the batch that built the model)
    resumed, _ = run(2, 4, model if built else None)
    assert {e: b for e, b in resumed.items() if e > 2} == {3: whole[3], 4: whole[4]}
    assert len({tuple(whole[e]) for e in (1, 2, 3, 4)}) == 4  # a new epoch each time
    with pytest.raises(ArgumentError, match="epoch"):
        KerasDataset(seq, batch_size=8).set_epoch(-1)


@pytest.mark.parametrize("block_size", [1, 5])
def test_keras_shuffled_epochs_are_the_pytorch_loaders_of_the_same_seed(block_size) -> None:
    """The KerasDataset docs say its epoch e is a PyTorch loader's epoch e of the same
    seed; its orders came from one stream drawn epoch after epoch, the PyTorch loaders'
    from (seed, epoch), so no Keras epoch matched any of theirs (an audit). Both now
    draw each epoch's order from (seed, epoch); each epoch serves every window once."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    from genozarr.loaders.keras import KerasDataset
    from genozarr.loaders.torch import torch_loader

    ids = np.arange(57)
    ds = KerasDataset(ids, batch_size=8, shuffle=True, seed=4, block_size=block_size)
    orders = []
    for epoch in range(4):
        keras_order = np.concatenate([ds[k][0] for k in range(len(ds))])
        torch_order = np.concatenate([b.numpy() for b in torch_loader(
            ids, batch_size=8, shuffle=True, seed=4, block_size=block_size, epoch=epoch)])
        np.testing.assert_array_equal(keras_order, torch_order)
        np.testing.assert_array_equal(np.sort(keras_order), ids)
        orders.append(keras_order)
        ds.on_epoch_end()
    assert len({o.tobytes() for o in orders}) == 4  # a new order every epoch


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_keras_pydataset_with_processes_shares_its_stores(tmp_path) -> None:
    """A Keras PyDataset with worker processes (use_multiprocessing, which Keras forks)
    prepares its stores for them, as the PyTorch loaders do: a store kept decoded in
    memory is one shared copy that a forked worker fills and reads (a worker not prepared
    reads through its chunk cache); the values are those read in this process."""
    import multiprocessing

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork")
    from genozarr import GenomicIndexer, open_dataset, set_options
    from genozarr.errors import GenozarrWarning
    from genozarr.loaders.keras import KerasDataset

    values = np.random.default_rng(1).random((300, 20, 1, 2)).astype("float32")
    gi = GenomicIndexer(np.array(["chr1"] * 300, dtype=object), np.arange(300) * 20,
                        np.arange(300) * 20 + 20, np.array(["+"] * 300, dtype=object), 20, 20)
    Cover.create_from_array("c", values, gi, storage="zarr", store=str(tmp_path / "c.zarr"))
    with set_options(memory_cache_bytes=2**30):
        for processes in (False, True):
            cover = open_dataset(tmp_path / "c.zarr")
            with pytest.warns(GenozarrWarning, match="read-ahead"):
                ds = KerasDataset(cover, batch_size=50, workers=2,
                                  use_multiprocessing=processes)
            backend = cover.garray.backend
            assert backend._share is processes
            ctx = multiprocessing.get_context("fork")
            queue = ctx.Queue()

            def child(ds=ds, backend=backend, queue=queue) -> None:
                queue.put((ds[1][0], backend.resident))

            proc = ctx.Process(target=child)
            proc.start()
            got, resident = queue.get(timeout=60)
            proc.join(60)
            assert proc.exitcode == 0 and resident is processes
            np.testing.assert_array_equal(got, values[50:100])


def test_keras_sequences_check_their_seed_weights_and_warn_of_keras_read_ahead(
        data: tuple[Bioseq, Cover, int]) -> None:
    """A seed numpy refuses was numpy's bare ValueError/TypeError; sample weights without
    outputs were taken and fit failed on them ("Invalid dtype: object"); Keras' read-ahead
    of a shuffled sequence (workers > 1, or use_multiprocessing with a worker) loses
    windows in an epoch (81-85 of 94 seen) without a word, and so does an unshuffled one
    under model.fit(shuffle=True), Keras' default (39-45 of 57), or in a first epoch (36
    of 57)."""
    import warnings

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    from genozarr.errors import ArgumentError, GenozarrWarning
    from genozarr.loaders.keras import JangguSequence, KerasDataset

    seq, _, n = data
    for bad in (-1, "a", True):
        with pytest.raises(ArgumentError, match="seed must be an integer >= 0"):
            KerasDataset(seq, batch_size=8, seed=bad)
        with pytest.raises(ArgumentError, match="seed must be an integer >= 0"):
            JangguSequence(seq, batch_size=8, seed=bad, as_dict=False)
    with pytest.raises(ArgumentError, match="sample_weights .* need outputs"):
        JangguSequence(seq, None, sample_weights=np.ones(n), as_dict=False)
    for kwargs, warned in (({}, False), ({"workers": 2}, True),
                           ({"workers": 1, "use_multiprocessing": True}, True),
                           ({"workers": 0, "use_multiprocessing": True}, False)):
        for make in (lambda **kw: KerasDataset(seq, batch_size=8, **kw),
                     lambda **kw: JangguSequence(seq, batch_size=8, as_dict=False, **kw)):
            for shuffle in (False, True):
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    make(shuffle=shuffle, **kwargs)
                said = [w for w in seen if issubclass(w.category, GenozarrWarning)
                        and "read-ahead" in str(w.message)]
                # unshuffled here, the first epoch (and model.fit(shuffle=True))
                assert len(said) == warned, (kwargs, shuffle)
                assert all(("model.fit(..., shuffle=True)" in str(w.message)) is not shuffle
                           for w in said)
