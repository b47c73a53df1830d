"""Tests of genozarr._kernels: hand-worked cases and property tests against plain-Python oracles."""

from __future__ import annotations

import itertools
import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genozarr import _kernels as K
from genozarr._kernels import (
    DNA_ALPHABET,
    PROTEIN_ALPHABET,
    alphabet_size,
    bin_counts,
    collapse,
    decode_codes,
    encode_sequence,
    invalid_code,
    kmer_codes,
    kmer_dtype,
    nan_to_zero,
    onehot,
    orient,
    reverse_complement_codes,
)
from genozarr.errors import ArgumentError

# local settings, so other test modules keep the global hypothesis profile
fast = settings(max_examples=60, deadline=None)

# ----------------------------------------------------------------------------- oracles


def oracle_kmers(seq: list[int], order: int, size: int) -> list[int]:
    """k-mer indices of one sequence by a plain loop."""
    result = []
    for i in range(len(seq) - order + 1):
        kmer = seq[i : i + order]
        if any(c < 0 or c >= size for c in kmer):
            result.append(size**order)
        else:
            result.append(sum(c * size ** (order - 1 - j) for j, c in enumerate(kmer)))
    return result


def oracle_onehot(codes: np.ndarray, order: int, size: int) -> np.ndarray:
    """One-hot by a plain loop over rows and k-mers."""
    rows = codes.reshape(-1, codes.shape[-1])
    n_out = codes.shape[-1] - order + 1
    result = np.zeros((rows.shape[0], n_out, size**order), dtype=np.float64)
    for r, row in enumerate(rows.tolist()):
        for i, k in enumerate(oracle_kmers(row, order, size)):
            if k < size**order:
                result[r, i, k] = 1
    return result.reshape(codes.shape[:-1] + (n_out, size**order))


def oracle_revcomp(seq: list[int]) -> list[int]:
    pairs = {0: 3, 1: 2, 2: 1, 3: 0}
    return [pairs.get(c, 4) for c in reversed(seq)]


def oracle_collapse(values: np.ndarray, resolution: int, reduce) -> np.ndarray:
    """Bin by a plain loop over bins, strands and conditions."""
    length, n_strands, n_conditions = values.shape
    result = np.zeros((length // resolution, n_strands, n_conditions), dtype=np.float64)
    for b in range(length // resolution):
        for s in range(n_strands):
            for c in range(n_conditions):
                block = values[b * resolution : (b + 1) * resolution, s, c]
                result[b, s, c] = reduce(block.tolist())
    return result


def oracle_bin_counts(positions, start, length, resolution, weights=None) -> list[float]:
    result = [0.0] * math.ceil(length / resolution)
    for i, p in enumerate(positions):
        if start <= p < start + length:
            result[(p - start) // resolution] += 1 if weights is None else weights[i]
    return result


# ----------------------------------------------------------------------------- strategies


@st.composite
def code_arrays(draw, min_length: int = 1, max_value: int = 6, dtype=np.uint8):
    """Arrays (..., L) of codes including invalid ones, L >= min_length."""
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
    length = draw(st.integers(min_length, min_length + 12))
    low = -2 if np.dtype(dtype).kind == "i" else 0
    return draw(
        hnp.arrays(dtype, lead + (length,), elements=st.integers(low, max_value))
    )


# ----------------------------------------------------------------------------- alphabets


def test_alphabet_sizes():
    assert DNA_ALPHABET == "ACGT"
    assert PROTEIN_ALPHABET == "ACDEFGHIKLMNPQRSTVWY"
    assert alphabet_size("dna") == 4
    assert alphabet_size("protein") == 20
    assert alphabet_size("DNA") == 4
    assert invalid_code("dna") == 4
    assert invalid_code("protein") == 20


@pytest.mark.parametrize("seqtype", ["rna", "", None, 4])
def test_bad_seqtype(seqtype):
    with pytest.raises(ArgumentError, match="seqtype must be one of"):
        alphabet_size(seqtype)
    with pytest.raises(ArgumentError, match="seqtype"):
        encode_sequence("ACGT", seqtype)
    with pytest.raises(ArgumentError, match="seqtype"):
        onehot(np.zeros(3, np.uint8), seqtype=seqtype)


# ----------------------------------------------------------------------------- encode / decode


def test_encode_dna_by_hand():
    codes = encode_sequence("ACGTN")
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(encode_sequence("UuRYKM-.*n "), [3, 3] + [4] * 9)


def test_encode_lower_equals_upper():
    np.testing.assert_array_equal(encode_sequence("acgtn"), encode_sequence("ACGTN"))
    np.testing.assert_array_equal(
        encode_sequence(PROTEIN_ALPHABET.lower(), "protein"),
        encode_sequence(PROTEIN_ALPHABET, "protein"),
    )


def test_encode_protein():
    np.testing.assert_array_equal(encode_sequence(PROTEIN_ALPHABET, "protein"), np.arange(20))
    codes = encode_sequence("MKXBZ*-", "protein")
    np.testing.assert_array_equal(codes, [10, 8, 20, 20, 20, 20, 20])


def test_encode_input_kinds_agree():
    text = "ACGTNacgtRY"
    expected = encode_sequence(text)
    raw = text.encode()
    np.testing.assert_array_equal(encode_sequence(raw), expected)
    np.testing.assert_array_equal(encode_sequence(bytearray(raw)), expected)
    np.testing.assert_array_equal(encode_sequence(memoryview(raw)), expected)
    np.testing.assert_array_equal(encode_sequence(np.frombuffer(raw, np.uint8)), expected)
    np.testing.assert_array_equal(encode_sequence(np.frombuffer(raw, "S1")), expected)


def test_encode_keeps_array_shape():
    raw = np.frombuffer(b"ACGTNNAC", np.uint8).reshape(2, 4)
    codes = encode_sequence(raw)
    assert codes.shape == (2, 4)
    np.testing.assert_array_equal(codes, [[0, 1, 2, 3], [4, 4, 0, 1]])


def test_encode_non_ascii_is_unknown_and_keeps_length():
    np.testing.assert_array_equal(encode_sequence("AéC"), [0, 4, 1])


def test_encode_empty():
    assert encode_sequence(b"").shape == (0,)


@pytest.mark.parametrize("bad", [np.zeros(3, np.float32), np.zeros(3, np.int64), [65, 67], 7])
def test_encode_rejects_other_inputs(bad):
    with pytest.raises(ArgumentError, match="seq must be"):
        encode_sequence(bad)


def test_encode_large_input_uses_blocks_correctly():
    # longer than one lookup block, so the blocked path runs; compare with a dict oracle
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, size=3 * K._BLOCK + 17, dtype=np.uint8)
    mapping = {ord(c): i for i, c in enumerate("ACGT")} | {ord(c): i for i, c in enumerate("acgt")}
    mapping |= {ord("U"): 3, ord("u"): 3}
    expected = np.array([mapping.get(b, 4) for b in raw.tolist()], dtype=np.uint8)
    np.testing.assert_array_equal(encode_sequence(raw.tobytes()), expected)
    np.testing.assert_array_equal(encode_sequence(raw.reshape(-1, 1)), expected.reshape(-1, 1))


@fast
@given(st.text(alphabet="ACGTNacgtnRYW-", max_size=50))
def test_encode_decode_roundtrip_dna(text):
    expected = "".join(c if c in "ACGT" else "N" for c in text.upper())
    assert decode_codes(encode_sequence(text)) == expected


@fast
@given(st.text(alphabet=PROTEIN_ALPHABET + PROTEIN_ALPHABET.lower() + "BXZ*", max_size=50))
def test_encode_decode_roundtrip_protein(text):
    expected = "".join(c if c in PROTEIN_ALPHABET else "X" for c in text.upper())
    assert decode_codes(encode_sequence(text, "protein"), "protein") == expected


def test_decode_out_of_range_and_shapes():
    assert decode_codes(np.array([0, 4, 9, -1, 3])) == "ANNNT"
    assert decode_codes(np.array([[0, 1], [2, 3]])) == "ACGT"
    assert decode_codes(np.array([19, 20, 25]), "protein") == "YXX"
    assert decode_codes(np.array([], np.uint8)) == ""
    with pytest.raises(ArgumentError, match="integer"):
        decode_codes(np.array([0.0, 1.0]))


# ----------------------------------------------------------------------------- reverse complement


def test_reverse_complement_by_hand():
    codes = encode_sequence("AACGN")
    rc = reverse_complement_codes(codes)
    assert decode_codes(rc) == "NCGTT"
    assert rc.dtype == np.uint8
    np.testing.assert_array_equal(codes, encode_sequence("AACGN"))  # input untouched


def test_reverse_complement_axis():
    codes = np.array([[0, 1], [2, 4]], dtype=np.int64)
    np.testing.assert_array_equal(reverse_complement_codes(codes, axis=0), [[1, 4], [3, 2]])
    assert reverse_complement_codes(codes).dtype == np.int64
    with pytest.raises(ArgumentError, match="axis"):
        reverse_complement_codes(codes, axis=2)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64])
@fast
@given(data=st.data())
def test_reverse_complement_matches_oracle(dtype, data):
    codes = data.draw(code_arrays(dtype=dtype))
    result = reverse_complement_codes(codes)
    assert result.shape == codes.shape and result.dtype == codes.dtype
    rows = codes.reshape(-1, codes.shape[-1]).tolist()
    expected = np.array([oracle_revcomp(r) for r in rows]).reshape(codes.shape)
    np.testing.assert_array_equal(result, expected)
    # an involution on valid codes
    valid = np.where((codes < 0) | (codes > 4), 4, codes)
    np.testing.assert_array_equal(reverse_complement_codes(result), valid)


# ----------------------------------------------------------------------------- k-mers


def test_kmer_codes_by_hand():
    np.testing.assert_array_equal(kmer_codes(encode_sequence("AAC"), 2), [0, 1])
    acgtn = encode_sequence("ACGTN")
    np.testing.assert_array_equal(kmer_codes(acgtn, 1), [0, 1, 2, 3, 4])
    # AC = 0*4+1, CG = 1*4+2, GT = 2*4+3, TN invalid -> 4**2
    np.testing.assert_array_equal(kmer_codes(acgtn, 2), [1, 6, 11, 16])
    # ACG = 0*16+1*4+2, CGT = 1*16+2*4+3, GTN invalid -> 4**3
    np.testing.assert_array_equal(kmer_codes(acgtn, 3), [6, 27, 64])
    np.testing.assert_array_equal(kmer_codes(encode_sequence("TTTT"), 4), [255])
    # protein: AC = 0*20+1, CW = 1*20+18, W? invalid -> 20**2
    np.testing.assert_array_equal(
        kmer_codes(encode_sequence("ACWX", "protein"), 2, "protein"), [1, 38, 400]
    )


def test_kmer_dtypes():
    assert kmer_dtype(1) == np.uint8
    assert kmer_dtype(3) == np.uint8  # sentinel 64
    assert kmer_dtype(4) == np.uint16  # sentinel 256
    assert kmer_dtype(2, "protein") == np.uint16
    assert kmer_dtype(8) == np.uint32
    assert kmer_dtype(20) == np.uint64
    with pytest.raises(ArgumentError, match="smaller order"):
        kmer_dtype(32)
    assert kmer_codes(np.zeros(5, np.uint8), 4).dtype == np.uint16
    # uint16 k-mers compose without overflow: TTTTTTT = 4**7 - 1
    np.testing.assert_array_equal(kmer_codes(np.full(7, 3), 7), [4**7 - 1])


@pytest.mark.parametrize("order", [0, -1, 1.5, True, "2"])
def test_kmer_bad_order(order):
    with pytest.raises(ArgumentError, match="order must be an integer >= 1"):
        kmer_codes(np.zeros(4, np.uint8), order)
    with pytest.raises(ArgumentError, match="order must be an integer >= 1"):
        onehot(np.zeros(4, np.uint8), order)


def test_kmer_too_short_and_bad_codes():
    with pytest.raises(ArgumentError, match="at least order=3 long, got length 2"):
        kmer_codes(np.zeros((5, 2), np.uint8), 3)
    with pytest.raises(ArgumentError, match="at least order=3"):
        onehot(np.zeros(2, np.uint8), 3)
    with pytest.raises(ArgumentError, match="integer array"):
        kmer_codes(np.zeros(4, np.float32), 1)
    with pytest.raises(ArgumentError, match="at least one axis"):
        kmer_codes(np.uint8(1), 1)


@pytest.mark.parametrize("seqtype", ["dna", "protein"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32])
@fast
@given(data=st.data())
def test_kmer_codes_match_oracle(seqtype, dtype, data):
    size = alphabet_size(seqtype)
    order = data.draw(st.integers(1, 4))
    codes = data.draw(code_arrays(min_length=order, max_value=size + 2, dtype=dtype))
    result = kmer_codes(codes, order, seqtype)
    assert result.dtype == kmer_dtype(order, seqtype)
    rows = codes.reshape(-1, codes.shape[-1]).tolist()
    n_out = codes.shape[-1] - order + 1
    expected = np.array([oracle_kmers(r, order, size) for r in rows])
    expected = expected.reshape(codes.shape[:-1] + (n_out,))
    np.testing.assert_array_equal(result, expected)


# ----------------------------------------------------------------------------- one-hot


def test_onehot_acgtn_by_hand():
    codes = encode_sequence("ACGTN")
    expected1 = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    result = onehot(codes)
    assert result.dtype == np.float32 and result.shape == (5, 4)
    np.testing.assert_array_equal(result, expected1)

    expected2 = np.zeros((4, 16))
    expected2[0, 1] = expected2[1, 6] = expected2[2, 11] = 1  # AC CG GT; TN -> zeros
    np.testing.assert_array_equal(onehot(codes, 2), expected2)

    expected3 = np.zeros((3, 64))
    expected3[0, 6] = expected3[1, 27] = 1  # ACG CGT; GTN -> zeros
    np.testing.assert_array_equal(onehot(codes, 3), expected3)


def test_onehot_n_is_zero_row_and_lower_equals_upper():
    upper = onehot(encode_sequence("NACNGT"))
    lower = onehot(encode_sequence("nacngt"))
    np.testing.assert_array_equal(upper, lower)
    np.testing.assert_array_equal(upper[[0, 3]], 0)
    np.testing.assert_array_equal(upper.sum(axis=-1), [0, 1, 1, 0, 1, 1])


def test_onehot_protein():
    codes = encode_sequence("ACYX", "protein")
    result = onehot(codes, seqtype="protein")
    assert result.shape == (4, 20)
    expected = np.zeros((4, 20))
    expected[0, 0] = expected[1, 1] = expected[2, 19] = 1
    np.testing.assert_array_equal(result, expected)
    pairs = onehot(codes, 2, "protein", dtype="uint8")
    assert pairs.shape == (3, 400)
    assert pairs[0, 1] == 1 and pairs[1, 1 * 20 + 19] == 1 and pairs[2].sum() == 0


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "uint8", "int8", "bool"])
def test_onehot_dtypes(dtype):
    result = onehot(encode_sequence("ACGTN"), dtype=dtype)
    assert result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result.astype(int).sum(axis=-1), [1, 1, 1, 1, 0])


@pytest.mark.parametrize("seqtype", ["dna", "protein"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
@fast
@given(data=st.data())
def test_onehot_matches_oracle(seqtype, dtype, data):
    size = alphabet_size(seqtype)
    order = data.draw(st.integers(1, 3 if seqtype == "dna" else 2))
    codes = data.draw(code_arrays(min_length=order, max_value=size + 2, dtype=dtype))
    result = onehot(codes, order, seqtype)
    np.testing.assert_array_equal(result, oracle_onehot(codes, order, size))


def test_onehot_large_table_fallback_matches_oracle():
    # 4**6 k-mers: the table would exceed the size limit, the scatter path runs
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 5, size=(2, 12), dtype=np.uint8)
    expected = oracle_onehot(codes, 6, 4)
    np.testing.assert_array_equal(onehot(codes, 6, dtype="uint8"), expected)
    buffer = np.full((2, 7, 2 * 4096), 9, np.uint8)
    out = buffer[:, :, ::2]  # not contiguous
    assert onehot(codes, 6, dtype="uint8", out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_onehot_blocked_path_matches_eye():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 5, size=2 * K._BLOCK + 5, dtype=np.uint8)
    expected = np.vstack([np.eye(4), np.zeros((1, 4))])[codes]
    np.testing.assert_array_equal(onehot(codes), expected)
    out = np.full((codes.size, 4), 7, np.float32)
    np.testing.assert_array_equal(onehot(codes, out=out), expected)


def test_onehot_batch_shape():
    codes = encode_sequence(np.frombuffer(b"ACGTACGTNNAA", np.uint8).reshape(3, 1, 4))
    result = onehot(codes, 2)
    assert result.shape == (3, 1, 3, 16)
    np.testing.assert_array_equal(result[0, 0], onehot(encode_sequence("ACGT"), 2))


def test_onehot_out_reuse_fills_given_buffer():
    buffer = np.full((2, 5, 4), -1.0, np.float32)
    first = onehot(encode_sequence(b"ACGTNTTTTT").reshape(2, 5), out=buffer)
    assert first is buffer
    np.testing.assert_array_equal(buffer[0], onehot(encode_sequence("ACGTN")))
    np.testing.assert_array_equal(buffer[1, :, 3], 1)
    second = onehot(encode_sequence(b"NNNNNAAAAA").reshape(2, 5), out=buffer)
    assert second is buffer
    np.testing.assert_array_equal(buffer[0], 0)
    np.testing.assert_array_equal(buffer[1, :, 0], 1)
    np.testing.assert_array_equal(buffer[1, :, 1:], 0)


def test_onehot_out_non_contiguous():
    big = np.full((6, 8), 5, np.float32)
    out = big[::2, ::2]
    assert onehot(encode_sequence("ACN"), out=out) is out
    np.testing.assert_array_equal(out, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(big[1::2], 5)


@pytest.mark.parametrize(
    "out",
    [
        np.empty((5, 4), np.float64),
        np.empty((4, 4), np.float32),
        np.empty((5, 16), np.float32),
        [0],
    ],
)
def test_onehot_out_wrong_shape_or_dtype(out):
    message = r"out must be an array of shape \(5, 4\) and dtype float32"
    with pytest.raises(ArgumentError, match=message):
        onehot(encode_sequence("ACGTN"), out=out)


def test_onehot_tables_are_cached_and_read_only():
    first = K._onehot_table(2, "dna", np.dtype("float32"))
    assert K._onehot_table(2, "dna", np.dtype("float32")) is first
    assert first.shape == (17, 16) and not first.flags.writeable
    np.testing.assert_array_equal(first[-1], 0)
    with pytest.raises(ValueError):
        first[0, 0] = 5


# ----------------------------------------------------------------------------- collapse


def test_collapse_by_hand():
    values = np.arange(12, dtype=np.float32).reshape(6, 2, 1)  # strands: evens, odds
    np.testing.assert_array_equal(collapse(values, 3, "sum")[:, :, 0], [[6, 9], [24, 27]])
    np.testing.assert_array_equal(collapse(values, 3, "mean")[:, :, 0], [[2, 3], [8, 9]])
    np.testing.assert_array_equal(collapse(values, 3, "max")[:, :, 0], [[4, 5], [10, 11]])
    np.testing.assert_array_equal(collapse(values, 3, "min")[:, :, 0], [[0, 1], [6, 7]])
    assert collapse(values, 3, "sum").dtype == np.float32


def test_collapse_resolution_one_returns_input():
    values = np.ones((4, 1, 2), np.int32)
    for how in ("sum", "mean", "max", "min"):
        assert collapse(values, 1, how) is values


@pytest.mark.parametrize("how", ["sum", "mean", "max", "min"])
@fast
@given(data=st.data())
def test_collapse_matches_oracle(how, data):
    resolution = data.draw(st.integers(1, 5))
    n_bins = data.draw(st.integers(1, 5))
    shape = (n_bins * resolution, data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)))
    values = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(-50, 50).map(float)))
    reduce = {"sum": sum, "mean": lambda x: sum(x) / len(x), "max": max, "min": min}[how]
    expected = oracle_collapse(values, resolution, reduce)
    np.testing.assert_allclose(collapse(values, resolution, how), expected)
    # a batch of two regions gives each region's answer
    batch = np.stack([values, -values])
    result = collapse(batch, resolution, how)
    assert result.shape == (2,) + expected.shape
    np.testing.assert_allclose(result[0], expected)
    np.testing.assert_allclose(result[1], oracle_collapse(-values, resolution, reduce))


@pytest.mark.parametrize("channels", [(1, 1), (2, 1), (1, 4)])
@pytest.mark.parametrize("resolution", [50, 1000])
def test_collapse_float32_sums_against_float64(channels, resolution):
    # float32 sums and means stay within a few ulps of the exact (float64) sum, and a NaN
    # spoils its own bin and channel only
    rng = np.random.default_rng(7)
    values = rng.gamma(0.5, 30, size=(20 * resolution, *channels)).astype(np.float32)
    values[3 * resolution + 1, 0, -1] = np.nan
    exact = values.astype(np.float64).reshape(20, resolution, *channels).sum(axis=1)
    for how, expected in (("sum", exact), ("mean", exact / resolution)):
        got = collapse(values, resolution, how)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.isnan(got[3, 0, -1]) and np.isnan(got).sum() == 1
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_collapse_callable_contract():
    seen = []

    def median(x):
        seen.append(x.shape)
        return np.median(x, axis=1)

    values = np.arange(24, dtype=np.float64).reshape(6, 2, 2)
    result = collapse(values, 2, median)
    assert seen == [(3, 2, 2), (3, 2, 2)]  # (L // r, r, S), once per condition
    assert result.shape == (3, 2, 2)
    np.testing.assert_allclose(result, oracle_collapse(values, 2, lambda x: float(np.median(x))))

    seen.clear()
    batch = np.stack([values, 2 * values, 3 * values])
    result = collapse(batch, 2, median)
    assert seen == [(9, 2, 2), (9, 2, 2)]  # the regions' bins stacked: (n * L // r, r, S)
    assert result.shape == (3, 3, 2, 2)
    np.testing.assert_allclose(result[2], 3 * collapse(values, 2, median))


def test_collapse_callable_applied_at_resolution_one():
    values = np.arange(4, dtype=np.float64).reshape(4, 1, 1)
    result = collapse(values, 1, lambda x: x.sum(axis=1) + 1)
    np.testing.assert_array_equal(result[:, 0, 0], [1, 2, 3, 4])


def test_collapse_errors():
    values = np.zeros((6, 1, 1))
    with pytest.raises(ArgumentError, match="length 6.*multiple of resolution 4"):
        collapse(values, 4)
    with pytest.raises(ArgumentError, match="resolution must be an integer >= 1"):
        collapse(values, 0)
    with pytest.raises(ArgumentError, match="how must be one of"):
        collapse(values, 2, "median")
    with pytest.raises(ArgumentError, match="got shape \\(6, 1\\)"):
        collapse(np.zeros((6, 1)), 2)
    message = r"map an array of shape \(3, 2, 1\) to shape \(3, 1\)"
    with pytest.raises(ArgumentError, match=message):
        collapse(values, 2, lambda x: x)


# ----------------------------------------------------------------------------- nan_to_zero


@pytest.mark.parametrize("dtype,uint", [("float16", "uint16"), ("float32", "uint32"),
                                        ("float64", "uint64")])
def test_nan_to_zero_keeps_every_other_bit_pattern(dtype, uint):
    # random bit patterns hold NaNs of every payload and sign, infinities, subnormals and
    # both zeros; the oracle: numpy's where on the same values, compared bit for bit
    rng = np.random.default_rng(7)
    bits = rng.integers(0, np.iinfo(uint).max, size=5000, dtype=uint, endpoint=True)
    values = bits.view(dtype).copy()
    values[:4] = np.array([np.nan, -0.0, np.inf, -np.inf], dtype=dtype)
    expected = np.where(np.isnan(values), np.zeros(1, dtype), values)
    assert np.isnan(values).sum() > 0
    out = nan_to_zero(values)
    assert out is values
    np.testing.assert_array_equal(values.view(uint), expected.view(uint))
    assert np.signbit(values[1]) and values[0] == 0 and not np.signbit(values[0])


def test_nan_to_zero_strided_and_other_kinds():
    values = np.array([[1.0, np.nan], [np.nan, -2.0]], dtype=np.float32)
    nan_to_zero(values[:, 1])  # a column: strided, only its NaN replaced
    np.testing.assert_array_equal(values, np.array([[1.0, 0.0], [np.nan, -2.0]], np.float32))
    clean = np.array([-0.0, 2.5, np.inf], dtype=np.float32)  # no NaN: left as it is
    assert nan_to_zero(clean) is clean
    np.testing.assert_array_equal(clean.view(np.uint32),
                                  np.array([-0.0, 2.5, np.inf], np.float32).view(np.uint32))
    ints = np.array([1, 2, 3])
    assert nan_to_zero(ints) is ints and ints.tolist() == [1, 2, 3]
    wide = np.array([np.nan, -1.5, np.nan], dtype=np.longdouble)  # no integer this wide
    np.testing.assert_array_equal(nan_to_zero(wide), np.array([0, -1.5, 0], np.longdouble))
    assert nan_to_zero(np.zeros(0, np.float32)).shape == (0,)


# ----------------------------------------------------------------------------- bin_counts


def test_bin_counts_by_hand():
    positions = np.array([5, 6, 6, 9, 10, 11, 4, 20])
    np.testing.assert_array_equal(bin_counts(positions, 5, 6), [1, 2, 0, 0, 1, 1])
    counts = bin_counts(positions, 5, 6, resolution=4)  # bins [5,9) and the partial [9,11)
    assert counts.dtype == np.int32
    np.testing.assert_array_equal(counts, [3, 2])
    weighted = bin_counts(positions, 5, 6, 2, weights=np.full(8, 0.5), dtype="float32")
    np.testing.assert_array_equal(weighted, [1.5, 0, 1.0])
    assert bin_counts(np.array([], np.int64), 0, 5).tolist() == [0] * 5
    assert bin_counts(np.array([3]), 0, 0).shape == (0,)


@fast
@given(
    positions=st.lists(st.integers(-5, 60), max_size=40),
    start=st.integers(-5, 30),
    length=st.integers(0, 40),
    resolution=st.integers(1, 7),
    weighted=st.booleans(),
)
def test_bin_counts_matches_oracle(positions, start, length, resolution, weighted):
    pos = np.array(positions, dtype=np.int64)
    weights = np.arange(len(positions), dtype=np.float64) / 4 if weighted else None
    result = bin_counts(pos, start, length, resolution, weights=weights, dtype="float64")
    weight_list = None if weights is None else weights.tolist()
    expected = oracle_bin_counts(positions, start, length, resolution, weight_list)
    assert result.shape == (math.ceil(length / resolution),)
    np.testing.assert_allclose(result, expected)


def test_bin_counts_unsigned_positions_before_start():
    # uint32 positions below start must not wrap around into the window
    np.testing.assert_array_equal(bin_counts(np.array([1, 12], np.uint32), 10, 4), [0, 0, 1, 0])


def test_bin_counts_errors():
    pos = np.array([1, 2])
    with pytest.raises(ArgumentError, match="resolution must be an integer >= 1"):
        bin_counts(pos, 0, 10, resolution=0)
    with pytest.raises(ArgumentError, match="length must be an integer >= 0"):
        bin_counts(pos, 0, -1)
    with pytest.raises(ArgumentError, match="positions must be integers"):
        bin_counts(np.array([1.5]), 0, 10)
    with pytest.raises(ArgumentError, match="weights must have the shape"):
        bin_counts(pos, 0, 10, weights=np.ones(3))


# ----------------------------------------------------------------------------- orient


def test_orient_minus_flips_position_and_strand():
    window = np.arange(12).reshape(3, 2, 2)  # (L, S, C)
    expected = window[::-1, ::-1, :]
    for strand in ("-", -1, np.int64(-1), b"-"):
        np.testing.assert_array_equal(orient(window, strand), expected)
    batch = np.stack([window, window + 100])
    result = orient(batch, "-")
    assert result.shape == batch.shape
    np.testing.assert_array_equal(result[1], expected + 100)
    # the two strand channels swap and the positions run backwards
    assert orient(window, "-")[0, 0, 1] == window[2, 1, 1]


@pytest.mark.parametrize("strand", ["+", ".", 1, 0, None, np.int8(1)])
def test_orient_other_strands_unchanged(strand):
    window = np.arange(12).reshape(3, 2, 2)
    assert orient(window, strand) is window


def test_orient_custom_axes():
    window = np.arange(6).reshape(1, 3, 2)  # (C, L, S)
    np.testing.assert_array_equal(
        orient(window, "-", position_axis=1, strand_axis=2), window[:, ::-1, ::-1]
    )


@pytest.mark.parametrize("strand", ["x", 2, True, 1.0, "minus"])
def test_orient_bad_strand(strand):
    with pytest.raises(ArgumentError, match="strand must be"):
        orient(np.zeros((2, 2, 1)), strand)


def test_orient_bad_axes():
    with pytest.raises(ArgumentError, match="two different axes"):
        orient(np.zeros((2, 2)), "-")
    with pytest.raises(ArgumentError, match="two different axes"):
        orient(np.zeros((2, 2, 1)), "-", position_axis=0, strand_axis=-3)


def test_all_hand_cases_cover_every_dna_kmer_once():
    # each of the 16 dinucleotides maps to its own column, in lexicographic order
    for i, pair in enumerate(itertools.product(DNA_ALPHABET, repeat=2)):
        row = onehot(encode_sequence("".join(pair)), 2)[0]
        assert row.argmax() == i and row.sum() == 1


@pytest.mark.parametrize("layout", ["runs", "shuffled", "short", "missing"])
def test_factorize_labels_equals_pandas(layout):
    """Codes and labels as pandas.factorize gives them, whether the labels come in long
    runs (found run by run) or not (pandas directly)."""
    import pandas as pd

    rng = np.random.default_rng(3)
    names = np.array([f"chr{i}" for i in range(1, 6)], dtype=object)
    values = np.repeat(names[[2, 0, 4, 0, 1]], [5000, 3000, 1, 7000, 2])
    if layout == "shuffled":
        values = values[rng.permutation(len(values))]
    elif layout == "short":
        values = values[:1]
    elif layout == "missing":
        values = values.copy()
        values[100:200] = None
    codes, labels = K.factorize_labels(values)
    expected, uniques = pd.factorize(values)
    np.testing.assert_array_equal(codes, expected)
    assert labels == list(uniques)
    if layout != "missing":
        np.testing.assert_array_equal(np.array(labels, dtype=object)[codes], values)


@pytest.mark.parametrize("k,step,nb", [(4, 10, 10), (3, 4, 10), (5, 0, 3), (2, 12, 10),
                                       (0, 10, 10), (1, 10, 10)])
def test_regular_windows_are_views_equal_to_fancy_indexing(k, step, nb):
    """``regular_windows`` cuts ``k`` windows of ``nb`` rows at ``step`` as one view of a
    C-contiguous span (tiling windows through a reshape, others through strides): values equal rows
    taken with a ``(k, nb)`` index, and a write to the windows reaches the span."""
    span = np.random.default_rng(1).random((45, 2, 3)).astype(np.float32)
    got = K.regular_windows(span, k, step, nb)
    expected = span[np.arange(k)[:, None] * step + np.arange(nb)]
    assert got.shape == (k, nb, 2, 3)
    np.testing.assert_array_equal(got, expected)
    if k:
        got[-1, -1] = -1.0
        assert (span[(k - 1) * step + nb - 1] == -1.0).all()


@pytest.mark.parametrize("share_max", [-1.0, 1.0])  # every NaN replaced first / bins fixed
@pytest.mark.parametrize("how", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_collapse_nan_as_zero_equals_collapse_of_zeroed_values(monkeypatch, share_max, how,
                                                              dtype):
    """Bit for bit ``collapse(nan_to_zero(x))`` on either path (the share of bins with a
    NaN above which every NaN is replaced first forced both ways): NaN in whole bins, in
    parts of bins, scattered, none and everywhere; infinities of both signs in one bin
    (a NaN sum either way); one and several channels; with and without a region axis."""
    monkeypatch.setattr(K, "_NAN_BIN_SHARE_MAX", share_max)
    rng = np.random.default_rng(7)
    res = 5
    for shape in [(400, 1, 1), (400, 2, 3), (3, 200, 1, 2)]:
        base = (rng.normal(size=shape) * 10).astype(dtype)
        flat = base.reshape(-1)
        whole = base.copy()
        whole.reshape(-1, res)[rng.random(flat.size // res) < 0.2] = np.nan
        partial = base.copy()
        partial.reshape(-1)[rng.random(flat.size) < 0.05] = np.nan
        infs = base.copy()
        infs.reshape(-1)[:2] = [np.inf, -np.inf]
        for x in (whole, partial, base, np.full_like(base, np.nan), infs):
            with np.errstate(invalid="ignore"):  # inf + -inf: NaN, as intended here
                expected = collapse(nan_to_zero(x.copy()), res, how)
                got = K.collapse_nan_as_zero(x.copy(), res, how)
            assert got.shape == expected.shape and got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)


def test_collapse_nan_as_zero_fixes_only_the_bins_with_a_nan(monkeypatch):
    """With few bins holding a NaN, only those bins have their NaN replaced (the arrays
    given to ``nan_to_zero`` are those bins); with most, every value is."""
    sizes = []
    real = K.nan_to_zero
    monkeypatch.setattr(K, "nan_to_zero", lambda a: sizes.append(a.size) or real(a))
    x = np.arange(1000, dtype=np.float32).reshape(-1, 1, 1)
    x[100:150] = np.nan  # 5 bins of 10
    x[503] = np.nan  # part of one
    got = K.collapse_nan_as_zero(x.copy(), 10, "sum")[:, 0, 0]
    assert sizes == [60]
    expected = np.nan_to_num(x[:, 0, 0]).reshape(-1, 10).sum(axis=1)
    np.testing.assert_array_equal(got, expected)
    sizes.clear()
    x[::7] = np.nan  # a NaN in every bin
    K.collapse_nan_as_zero(x.copy(), 10, "mean")
    assert sizes == [1000]


def test_collapse_nan_as_zero_rejects_callables_and_bad_resolutions():
    with pytest.raises(ArgumentError, match="how must be one of"):
        K.collapse_nan_as_zero(np.zeros((4, 1, 1), np.float32), 2, np.median)
    for bad in (0, 2.5, "2"):
        with pytest.raises(ArgumentError, match="resolution must be an integer"):
            K.collapse_nan_as_zero(np.zeros((4, 1, 1), np.float32), bad, "sum")
    with pytest.raises(ArgumentError, match="multiple of resolution 3"):
        K.collapse_nan_as_zero(np.full((4, 1, 1), np.nan, np.float32), 3, "sum")


@pytest.mark.parametrize("whole", [False, True])
def test_bin_means_of_values_near_the_float32_largest_are_finite(tmp_path, whole):
    """A bin mean of float32 values near float32's largest was inf: the one-channel sums
    run in float32 (einsum), and the sum left float32's range though the mean is within
    it (an audit). Those bins are added in float64; a bin sum past the range stays inf
    (documented), and NaN stays NaN. Against numpy in float64, end to end from a BigWig
    in both layouts."""
    import pyBigWig

    from genozarr import Cover

    big = float(np.float32(np.finfo(np.float32).max * np.float32(0.9)))
    x = np.ones((2, 100, 1, 1), np.float32)
    x[0, :50] = big
    x[1, 50:] = big
    x[1, 60] = np.nan
    want = x.astype(np.float64).reshape(2, 2, 50).mean(axis=2).astype(np.float32)
    got = collapse(x, 50, "mean")
    np.testing.assert_array_equal(got[:, :, 0, 0], want)
    assert np.isfinite(got[0]).all() and np.isnan(got[1, 1, 0, 0])
    assert np.isinf(collapse(x, 50, "sum")[0, 0, 0, 0])
    path = str(tmp_path / "big.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 1000)])
        bw.addEntries("chr1", 0, values=[big] * 500 + [1.0] * 500, span=1, step=1)
    cover = Cover.create_from_bigwig("b", path, roi=["chr1:0-1000"], binsize=1000,
                                     resolution=50, collapser="mean", store_whole_genome=whole,
                                     genomesize={"chr1": 1000} if whole else None)
    np.testing.assert_array_equal(cover[0][0, :, 0, 0],
                                  np.repeat(np.float32([big, 1.0]), 10))


@pytest.mark.parametrize("resolution", [50, 999, 1000, 100_000, 1_000_000])
def test_collapse_sums_of_long_bins_stay_within_two_ulps(resolution):
    """A one-channel float32 collapse added each bin in einsum's partial sums, whose error
    grows with the bin: 26-56 ulps against numpy's float64 sum at 100 kb to 1 Mb (an
    audit; the docs said a few). Bins of 1 kb or more are now added pairwise: every bin
    of lognormal values and of integer counts within 2 ulps of the exact sum (shorter
    bins, still einsum's: 4), and means within one more (the division's rounding)."""
    rng = np.random.default_rng(5)
    n = 4_000_000 // resolution * resolution
    for values in (rng.lognormal(0, 1, n), rng.poisson(500, n)):
        values = values.astype(np.float32).reshape(n, 1, 1)
        exact = values.reshape(-1, resolution).astype(np.float64).sum(axis=1)
        bound = 2.0 if resolution >= 1000 else 4.0
        for how, want in (("sum", exact), ("mean", exact / resolution)):
            got = K.collapse(values, resolution, how)[:, 0, 0]
            assert got.dtype == np.float32
            ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
            assert np.max(np.abs(got - want) / ulp) <= bound + (how == "mean"), \
                (how, resolution)


def test_onehot_large_table_extreme_kmers():
    """The scatter path of order >= 6 sets the first (AAAAAA, column 0) and the last
    (TTTTTT, column 4095) k-mer and leaves k-mers with N as zero rows; no test covered the
    last k-mer of that path (a mutation audit)."""
    seqs = ["AAAAAAT", "TTTTTTA", "TTTTTTN", "NAAAAAA"]
    codes = np.stack([encode_sequence(s) for s in seqs])
    got = onehot(codes, 6, dtype="uint8")
    assert got.shape == (4, 2, 4096)
    expected = np.zeros((4, 2, 4096), np.uint8)
    for r, seq in enumerate(seqs):
        for i in range(2):
            kmer = seq[i : i + 6]
            if "N" not in kmer:  # index = sum(code * 4**(k-1-j)), A=0 C=1 G=2 T=3
                expected[r, i, sum("ACGT".index(c) * 4 ** (5 - j) for j, c in enumerate(kmer))] = 1
    assert expected[1, 0, 4095] == 1 and expected[0, 0, 0] == 1  # TTTTTT, AAAAAA
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got.sum(axis=-1), [[1, 1], [1, 1], [1, 0], [0, 1]])
