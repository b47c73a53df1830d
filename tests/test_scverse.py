"""The scverse bridge (genozarr.scverse): Cover -> AnnData -> Cover."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import genozarr
from genozarr import Cover, GenomicIndexer
from genozarr.errors import ArgumentError

anndata = pytest.importorskip("anndata")
pyBigWig = pytest.importorskip("pyBigWig")
sp = pytest.importorskip("scipy.sparse")

from genozarr import scverse  # noqa: E402

CHROMS = {"chr1": 20_000, "chr2": 12_000}
CELL_TYPES = ["Astro", "Micro", "Neuron"]
# name, chrom, start, end, strand: lengths not all multiples of 500 (padded last windows)
REGIONS = [
    ("p1", "chr1", 1_000, 2_000, "+"),
    ("p2", "chr1", 3_000, 4_200, "-"),
    ("p3", "chr1", 9_000, 9_500, "+"),
    ("p4", "chr1", 15_000, 16_750, "-"),
    ("p5", "chr2", 500, 1_500, "+"),
    ("p6", "chr2", 6_000, 7_000, "."),
    ("p7", "chr2", 10_000, 11_000, "-"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three seeded BigWigs (piecewise constant, many zeros) and a BED ROI."""
    d = tmp_path_factory.mktemp("scverse")
    rng = np.random.default_rng(7)
    tracks: dict[str, dict[str, np.ndarray]] = {}
    paths = []
    for ct in CELL_TYPES:
        per_chrom = {}
        path = str(d / f"{ct}.bw")
        bw = pyBigWig.open(path, "w")
        bw.addHeader(list(CHROMS.items()), maxZooms=0)
        for chrom, size in CHROMS.items():
            edges = np.unique(np.concatenate([[0, size], rng.integers(1, size, 300)]))
            values = rng.integers(0, 6, len(edges) - 1).astype(np.float64)
            values[rng.random(len(values)) < 0.5] = 0.0           # sparse signal
            per_chrom[chrom] = np.repeat(values, np.diff(edges))
            keep = values != 0
            bw.addEntries([chrom] * int(keep.sum()), edges[:-1][keep].tolist(),
                          ends=edges[1:][keep].tolist(), values=values[keep].tolist())
        bw.close()
        tracks[ct] = per_chrom
        paths.append(path)
    bed = d / "peaks.bed"
    bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\t0\t{st}\n" for n, c, s, e, st in REGIONS))
    return {"bigwigs": paths, "bed": str(bed), "tracks": tracks}


def _cover(files: dict, name: str, **kwargs) -> Cover:
    args = dict(roi=files["bed"], conditions=CELL_TYPES, binsize=500, resolution=50)
    args.update(kwargs)
    return Cover.create_from_bigwig(name, files["bigwigs"], **args)


@pytest.fixture(scope="module", params=["ndarray", "zarr"])
def cover(request: pytest.FixtureRequest, files: dict) -> Cover:
    if request.param == "ndarray":
        return _cover(files, "scv_ndarray", flank=50)
    # 10 bp bins in chunks of 4 KiB: 5 windows per zarr chunk, several chunks
    with genozarr.set_options(chunk_bytes=4096):
        cover = _cover(files, "scv_zarr", storage="zarr", flank=50, resolution=10)
    assert 1 < cover.chunk_rows < len(cover)
    return cover


def _served_sum(cover: Cover) -> np.ndarray:
    """(n, L, C): cover[:] with the strands summed (channel order undone)."""
    x = cover[:]
    if not cover.channel_last:
        x = np.moveaxis(x, 1, -1)
    return x.astype(np.float64).sum(axis=2)


# ------------------------------------------------------------------ to_anndata
@pytest.mark.parametrize("aggregate", ["sum", "mean", "max"])
def test_aggregates_equal_numpy_over_cover(cover: Cover, aggregate: str) -> None:
    adata = scverse.to_anndata(cover, aggregate=aggregate)
    values = _served_sum(cover)
    expected = getattr(values, aggregate)(axis=1)
    assert isinstance(adata.X, np.ndarray)
    assert adata.shape == (len(cover), len(CELL_TYPES))
    np.testing.assert_allclose(adata.X, expected, rtol=1e-6)
    assert adata.uns["genozarr"]["aggregate"] == aggregate


def test_sum_equals_bigwig_values(files: dict) -> None:
    """Independent of genozarr's reading: sums of the per-base tracks over each window."""
    cover = _cover(files, "scv_base", resolution=1)
    adata = scverse.to_anndata(cover, aggregate="sum")
    gi = cover.gindexer
    for i in range(len(gi)):
        c, s, e = str(gi.chrs[i]), int(gi.starts[i]), int(gi.ends[i])
        for j, ct in enumerate(CELL_TYPES):
            assert adata.X[i, j] == pytest.approx(files["tracks"][ct][c][s:e].sum())


def test_obs_and_var(cover: Cover) -> None:
    adata = scverse.to_anndata(cover)
    gi = cover.gindexer
    np.testing.assert_array_equal(adata.obs["chrom"].astype(str), gi.chrs.astype(str))
    np.testing.assert_array_equal(adata.obs["start"], gi.starts)
    np.testing.assert_array_equal(adata.obs["end"], gi.ends)
    np.testing.assert_array_equal(adata.obs["strand"].astype(str), gi.strand.astype(str))
    assert adata.obs_names[0] == f"{gi.chrs[0]}:{gi.starts[0]}-{gi.ends[0]}"
    assert adata.obs_names.is_unique
    if gi.names is None:
        assert "name" not in adata.obs
    else:  # region names from the ROI name column
        assert adata.obs["name"].astype(str).tolist() == [str(n) for n in gi.names]
    assert list(adata.var_names) == cover.conditions == CELL_TYPES
    assert list(adata.var["condition"]) == CELL_TYPES
    assert [Path(p).stem for p in adata.var["source"]] == CELL_TYPES
    info = adata.uns["genozarr"]
    assert (info["resolution"], info["binsize"], info["flank"]) == (cover.resolution, 500, 50)
    assert info["conditions"] == CELL_TYPES and info["orientation"] == "genomic"


def test_sparse_equals_dense(cover: Cover) -> None:
    dense = scverse.to_anndata(cover, aggregate="mean")
    sparse = scverse.to_anndata(cover, aggregate="mean", sparse=True)
    assert isinstance(sparse.X, sp.csr_matrix)
    assert sparse.X.dtype == dense.X.dtype == np.float32
    assert sparse.X.nnz < sparse.X.shape[0] * sparse.X.shape[1]  # some all-zero windows
    np.testing.assert_array_equal(sparse.X.toarray(), dense.X)


def test_reads_in_chunk_blocks(cover: Cover, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a tiny block budget every read is one block of chunk_rows windows."""
    monkeypatch.setattr(scverse, "_BLOCK_BYTES", 1)
    sizes = []
    original = type(cover).read_genomic

    def spy(self, idx):  # noqa: ANN001, ANN202
        sizes.append(len(idx))
        return original(self, idx)

    monkeypatch.setattr(type(cover), "read_genomic", spy)
    adata = scverse.to_anndata(cover, sparse=True)
    step = cover.chunk_rows
    assert max(sizes) <= step and sum(sizes) == len(cover)
    assert len(sizes) == -(-len(cover) // step)
    monkeypatch.undo()
    np.testing.assert_allclose(adata.X.toarray(), _served_sum(cover).sum(axis=1), rtol=1e-6)


def test_profile(cover: Cover) -> None:
    adata = scverse.to_anndata(cover, aggregate=None)
    profile = adata.obsm["profile"]
    assert profile.shape == (len(cover), 600 // cover.resolution, len(CELL_TYPES))
    assert adata.X is None
    genomic = cover.read_genomic(np.arange(len(cover))).sum(axis=2)
    np.testing.assert_array_equal(profile, genomic)
    served = _served_sum(cover)
    minus = cover.gindexer.strand.astype(str) == "-"
    assert minus.any()
    np.testing.assert_allclose(profile[minus][:, ::-1], served[minus], rtol=1e-6)
    np.testing.assert_allclose(profile[~minus], served[~minus], rtol=1e-6)


def test_layer(cover: Cover) -> None:
    adata = scverse.to_anndata(cover, layer="counts")
    assert adata.X is None
    np.testing.assert_allclose(adata.layers["counts"], _served_sum(cover).sum(axis=1),
                               rtol=1e-6)
    back = scverse.create_from_anndata(adata, layer="counts")
    np.testing.assert_allclose(back[:][:, 0, 0, :], adata.layers["counts"], rtol=1e-6)


def test_channel_first_and_normalizer(files: dict) -> None:
    cover = _cover(files, "scv_norm", channel_last=False, normalizer="zscore")
    adata = scverse.to_anndata(cover, aggregate="mean")
    np.testing.assert_allclose(adata.X, _served_sum(cover).mean(axis=1), rtol=1e-5, atol=1e-6)


def test_whole_genome_layout(files: dict) -> None:
    cover = _cover(files, "scv_wg", store_whole_genome=True,
                   genomesize=dict(CHROMS), storage="zarr")
    adata = scverse.to_anndata(cover, aggregate="sum", sparse=True)
    np.testing.assert_allclose(adata.X.toarray(), _served_sum(cover).sum(axis=1), rtol=1e-6)


def _stranded_cover() -> Cover:
    """Two stored strands, minus-strand windows, and two windows on the same interval."""
    rng = np.random.default_rng(3)
    gi = GenomicIndexer(np.array(["chr1"] * 5, dtype=object), np.array([0, 200, 200, 600, 800]),
                        np.array([200, 400, 400, 800, 1000]),
                        np.array(["+", "+", "-", "-", "+"], dtype=object), 200, 200, 0)
    pred = rng.integers(0, 9, (5, 4, 2, 2)).astype(np.float32)  # 4 bins of 50, 2 strands
    return Cover.create_from_array("stranded", pred, gi, conditions=["a", "b"])


def test_strand_split() -> None:
    cover = _stranded_cover()
    adata = scverse.to_anndata(cover, strand="split")
    assert list(adata.var_names) == ["a/+", "a/-", "b/+", "b/-"]
    assert list(adata.var["strand"]) == ["+", "-", "+", "-"]
    assert list(adata.var["condition"]) == ["a", "a", "b", "b"]
    genomic = cover.read_genomic(np.arange(len(cover))).sum(axis=1)   # (n, S, C)
    np.testing.assert_array_equal(adata.X, np.moveaxis(genomic, 1, 2).reshape(len(cover), 4))
    summed = scverse.to_anndata(cover, strand="sum")
    np.testing.assert_array_equal(adata.X[:, ::2] + adata.X[:, 1::2], summed.X)
    assert adata.obs_names.is_unique and adata.obs_names[2] == "chr1:200-400-1"
    profile = scverse.to_anndata(cover, strand="split", aggregate=None).obsm["profile"]
    assert profile.shape == (5, 4, 4)


# ------------------------------------------------------------------ back to a Cover
def test_round_trip(cover: Cover) -> None:
    adata = scverse.to_anndata(cover, aggregate="mean")
    back = scverse.create_from_anndata(adata)
    assert back.resolution is None and back.name == cover.name
    assert back.conditions == CELL_TYPES
    np.testing.assert_array_equal(back.gindexer.starts, cover.gindexer.starts)
    np.testing.assert_array_equal(back.gindexer.strand, cover.gindexer.strand)
    assert back.shape == (len(cover), 1, 1, len(CELL_TYPES))
    np.testing.assert_allclose(back[:][:, 0, 0, :], _served_sum(cover).mean(axis=1), rtol=1e-6)
    sparse = scverse.create_from_anndata(scverse.to_anndata(cover, sparse=True), name="sp")
    np.testing.assert_allclose(sparse[:][:, 0, 0, :], _served_sum(cover).sum(axis=1), rtol=1e-6)
    # var names changed (strands summed, no strand column): the condition column still
    # names the conditions, as the docstring says (they were taken from the var names)
    adata.var_names = [f"v{i}" for i in range(adata.n_vars)]
    assert scverse.create_from_anndata(adata).conditions == CELL_TYPES


@pytest.mark.parametrize(("dtype", "value"), [("uint8", 200), ("float16", 60000)])
def test_strands_summed_past_the_stored_dtype(dtype: str, value: float) -> None:
    """aggregate='max' or None keep the stored dtype, but two strands summed first may
    not fit it: 200 + 100 in uint8 was stored as 44, 60000 + 60000 in float16 as inf."""
    gi = GenomicIndexer(["chr1"], [0], [4], ["+"], 4, 4)
    x = np.zeros((1, 4, 2, 1), dtype=dtype)
    x[0, 2, :, 0] = [value, value / 2]
    cover = Cover.create_from_array("s", x, gi, dtype=dtype)
    want = float(value) * 1.5
    assert scverse.to_anndata(cover, aggregate="max").X[0, 0] == want
    profile = scverse.to_anndata(cover, aggregate=None).obsm["profile"]
    np.testing.assert_array_equal(profile[0, :, 0], [0, 0, want, 0])
    assert scverse.to_anndata(cover, aggregate="sum").X[0, 0] == want


def test_sparse_x_of_a_float16_store() -> None:
    """scipy.sparse holds no float16: a sparse X of values kept in the stored dtype
    (max of one strand, resolution=None) failed with scipy's 'does not support dtype
    float16'. It is float32, with the values the dense X has."""
    gi = GenomicIndexer(["chr1"] * 3, [0, 4, 8], [4, 8, 12], ["+"] * 3, 4, 4)
    x = np.zeros((3, 4, 1, 2), dtype="float16")
    x[0, 1, 0, 0], x[2, 3, 0, 1] = 1.5, -2.25
    cover = Cover.create_from_array("h", x, gi, dtype="float16")
    dense = scverse.to_anndata(cover, aggregate="max").X
    sparse = scverse.to_anndata(cover, aggregate="max", sparse=True).X
    assert dense.dtype == np.float16 and sparse.dtype == np.float32
    np.testing.assert_array_equal(sparse.toarray(), x.max(axis=(1, 2)).astype("float32"))
    np.testing.assert_array_equal(dense, x.max(axis=(1, 2)))
    assert sparse.nnz == 1  # -2.25 is no maximum: that window's max is 0


def test_round_trip_channel_first(cover: Cover) -> None:
    """channel_last=False (passed on to create_from_array) serves the condition axis
    second; it was refused with a message asking for channel_last=False."""
    adata = scverse.to_anndata(cover, aggregate=None)
    last = scverse.create_from_anndata(adata, obsm="profile", name="prof")
    first = scverse.create_from_anndata(adata, obsm="profile", name="prof",
                                        channel_last=False)
    assert first.shape == (len(cover), len(CELL_TYPES)) + last.shape[1:3]
    np.testing.assert_array_equal(first[:], np.moveaxis(last[:], 3, 1))
    np.testing.assert_allclose(first[:][:, :, :, 0], np.moveaxis(_served_sum(cover), 2, 1),
                               rtol=1e-6)


def test_round_trip_profile(cover: Cover) -> None:
    adata = scverse.to_anndata(cover, aggregate=None)
    back = scverse.create_from_anndata(adata, obsm="profile", name="prof")
    assert back.resolution == cover.resolution and back.gindexer.flank == 50
    np.testing.assert_allclose(back[:][:, :, 0, :], _served_sum(cover), rtol=1e-6)


def test_round_trip_split_strands() -> None:
    cover = _stranded_cover()
    back = scverse.create_from_anndata(scverse.to_anndata(cover, strand="split"))
    assert back.strands == ["+", "-"] and back.conditions == ["a", "b"]
    np.testing.assert_array_equal(back[:][:, 0], cover[:].sum(axis=1))   # served, as cover[:]
    prof = scverse.create_from_anndata(
        scverse.to_anndata(cover, strand="split", aggregate=None), obsm="profile")
    np.testing.assert_array_equal(prof[:], cover[:])


def test_h5ad_round_trip(cover: Cover, tmp_path: Path) -> None:
    adata = scverse.to_anndata(cover, aggregate=None)
    adata.write_h5ad(tmp_path / "x.h5ad")
    again = anndata.read_h5ad(tmp_path / "x.h5ad")
    np.testing.assert_array_equal(again.obsm["profile"], adata.obsm["profile"])
    back = scverse.create_from_anndata(again, obsm="profile", name="h5")
    np.testing.assert_allclose(back[:][:, :, 0, :], _served_sum(cover), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Writing zarr v2 data:UserWarning")  # (anndata's)
@pytest.mark.parametrize("writer", ["h5ad", "zarr"])
def test_metadata_columns_keep_their_order_through_a_file(tmp_path: Path, writer: str) -> None:
    """Condition metadata came back from a written and read AnnData in alphabetical order
    (the order h5py and zarr give the keys of uns's record of them), not the sample
    sheet's, which var keeps (an audit), and then a column named 'source' last (a
    review). Their order and values now come back as given."""
    gi = GenomicIndexer(np.array(["chr1", "chr1"], dtype=object), np.array([0, 100]),
                        np.array([100, 200]), np.array(["+", "+"], dtype=object), 100, 100, 0)
    cover = Cover.create_from_array(
        "o", np.ones((2, 1, 1, 2), "float32"), gi, conditions=["a", "b"],
        condition_metadata={"zeta": [1, 2], "source": ["s", "t"], "alpha": ["x", "y"],
                            "mid": [0.5, 1.5]})
    adata = scverse.to_anndata(cover)
    path = tmp_path / f"o.{writer}"
    (adata.write_h5ad if writer == "h5ad" else adata.write_zarr)(path)
    again = (anndata.read_h5ad if writer == "h5ad" else anndata.read_zarr)(path)
    back = scverse.create_from_anndata(again).condition_metadata
    assert list(back.columns) == ["zeta", "source", "alpha", "mid"]  # (a review: source
    # was put last)
    assert back["zeta"].tolist() == [1, 2] and back["alpha"].tolist() == ["x", "y"]
    assert back["mid"].tolist() == [0.5, 1.5]


def test_create_from_crested_style_obs_names() -> None:
    """obs without coordinate columns: 'chrom:start-end' names, as CREsted writes them."""
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    adata = anndata.AnnData(X=X, obs={"i": [0, 1, 2]}, var={"x": [0, 0]})
    adata.obs_names = ["chr1:100-600", "chr1:700-1200", "chr2:0-800"]
    adata.var_names = ["T", "B"]
    cover = scverse.create_from_anndata(adata, name="crested")
    assert cover.conditions == ["T", "B"] and cover.resolution is None
    assert list(cover.gindexer.ends) == [600, 1200, 800]
    np.testing.assert_array_equal(cover[:][:, 0, 0, :], X)


def test_create_with_gindexer(cover: Cover) -> None:
    adata = scverse.to_anndata(cover)
    del adata.obs["chrom"]
    back = scverse.create_from_anndata(adata, cover.gindexer, name="gi", conditions=list("abc"))
    assert back.conditions == ["a", "b", "c"] and back.resolution == 600  # window / 1 value
    with pytest.raises(ArgumentError, match="gindexer has 2 windows"):
        scverse.create_from_anndata(adata, cover.gindexer[:2])


# ------------------------------------------------------------------ errors, packaging
def test_bad_arguments(cover: Cover, files: dict) -> None:
    with pytest.raises(ArgumentError, match="aggregate"):
        scverse.to_anndata(cover, aggregate="median")
    with pytest.raises(ArgumentError, match="strand"):
        scverse.to_anndata(cover, strand="both")
    dna = genozarr.Bioseq.create_from_seq(
        "seqs", str(Path(genozarr.__file__).parent / "resources" / "sample.fa"), fixedlen=100)
    with pytest.raises(ArgumentError, match="Cover"):
        scverse.to_anndata(dna)
    adata = scverse.to_anndata(cover, aggregate=None)
    with pytest.raises(ArgumentError, match="X is None"):
        scverse.create_from_anndata(adata)
    with pytest.raises(ArgumentError, match="not both"):
        scverse.create_from_anndata(adata, layer="x", obsm="profile")
    bare = anndata.AnnData(X=np.zeros((2, 1)))
    with pytest.raises(ArgumentError, match="chrom, start and end"):
        scverse.create_from_anndata(bare)


def test_missing_anndata(cover: Cover, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anndata", None)
    with pytest.raises(ImportError, match=re.escape("pip install genozarr[anndata]")):
        scverse.to_anndata(cover)
    with pytest.raises(ImportError, match=re.escape("pip install genozarr[anndata]")):
        scverse.create_from_anndata(object())


def test_lazy_exports() -> None:
    assert genozarr.to_anndata is scverse.to_anndata
    assert genozarr.create_from_anndata is scverse.create_from_anndata
    assert {"to_anndata", "create_from_anndata"} <= set(genozarr.__all__)


def test_docs_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python blocks of docs/scverse.md run in order."""
    page = Path(__file__).resolve().parents[1] / "docs" / "scverse.md"
    blocks = re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", page.read_text(), re.S | re.M)
    assert blocks
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), ns)  # noqa: S102
    assert ns["adata"].shape == (ns["cover"].shape[0], 2)


def test_cover_methods(cover: Cover) -> None:
    """``Cover.to_anndata`` / ``Cover.create_from_anndata``, once dataset.py has them."""
    if not hasattr(Cover, "to_anndata"):
        pytest.skip("Cover.to_anndata is not added yet")
    a = cover.to_anndata(aggregate="max", sparse=True)
    np.testing.assert_array_equal(a.X.toarray(),
                                  scverse.to_anndata(cover, aggregate="max").X)
    if hasattr(Cover, "create_from_anndata"):
        back = Cover.create_from_anndata(a, name="meth")
        assert isinstance(back, Cover)
        np.testing.assert_array_equal(back[:][:, 0, 0, :], a.X.toarray())
