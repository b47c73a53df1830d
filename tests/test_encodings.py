"""Text encodings and locales: inputs read alike under ``LC_ALL=POSIX`` (Python's ASCII
file-system encoding, as in cluster batch jobs) and a UTF-8 locale, text that is not
UTF-8 refused with the file and line named, never read as replacement characters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from genozarr.errors import ArgumentError, MalformedFileError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX locales")


def _posix(code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a fresh Python under ``LC_ALL=POSIX`` with UTF-8 mode off (an ASCII
    file-system encoding); it prints one JSON object, returned."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LANG", "LC_ALL", "LC_CTYPE", "PYTHONUTF8", "PYTHONIOENCODING")}
    env.update(LC_ALL="POSIX", PYTHONUTF8="0", PYTHONPATH=os.pathsep.join(sys.path),
               GENOZARR_OUTPUT=str(tmp_path / "out"))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.splitlines()[-1])
    assert got.pop("fs") == "ascii"  # (the locale did take effect)
    return got


GTF = 'chr1\tsrc\tgene\t101\t200\t.\t+\t.\tgene_id "g1"; gene_name "G\u00e8ne";\n'
GFF3 = "##gff-version 3\nchr1\tsrc\tgene\t101\t200\t.\t-\t.\tID=g1;Name=\u57fa\u56e0\n"
HASH = 'chr1\tsrc\tgene\t101\t200\t.\t+\t.\tgene_id "g1"; gene_name "a#b";\n'


def test_gff_and_gtf_read_alike_under_an_ascii_locale(tmp_path):
    """Under LC_ALL=POSIX, pyranges opened the file in the locale's encoding and the
    cleaned copy was written in it: a raw UnicodeEncodeError for any name past ASCII, and
    for an ASCII GTF holding a '#' (the copy's stand-in characters; an audit)."""
    for name, text in (("a.gtf", GTF), ("b.gff3", GFF3), ("c.gtf", HASH)):
        (tmp_path / name).write_bytes(text.encode("utf-8"))
    got = _posix("""
        import json, sys
        from genozarr.io.gff import read_gff
        out = {"fs": sys.getfilesystemencoding()}
        for name in ("a.gtf", "b.gff3", "c.gtf"):
            df = read_gff(name)
            out[name] = [df.chrom[0], int(df.start[0]), int(df.end[0]), df.name[0],
                         df.strand[0]]
        print(json.dumps(out))
        """, tmp_path)
    assert got == {"a.gtf": ["chr1", 100, 200, "G\u00e8ne", "+"],
                   "b.gff3": ["chr1", 100, 200, "\u57fa\u56e0", "-"],
                   "c.gtf": ["chr1", 100, 200, "a#b", "+"]}


@pytest.mark.parametrize("name, text, line", [
    ("a.gtf", GTF, 1), ("b.gff3", GFF3.replace("\u57fa\u56e0", "G\u00e8ne"), 2)])
def test_gff_that_is_not_utf8_names_its_line(tmp_path, name, text, line):
    """Latin-1 bytes in an attribute became U+FFFD in the feature's name, silently."""
    from genozarr.io.gff import read_gff

    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(MalformedFileError, match=rf"{name}: not a UTF-8 text GFF/GTF file "
                                                 rf"\(line {line} is not UTF-8"):
        read_gff(str(path))


def test_chrom_sizes_not_utf8_or_with_a_byte_order_mark(tmp_path):
    """Latin-1 bytes in a chromosome name became U+FFFD, silently; a byte-order mark before
    a comment line failed ('Usecols do not match')."""
    from genozarr.genome import chrom_sizes

    bad = tmp_path / "a.sizes"
    bad.write_bytes("chr1\t1000\nchr\u00e92\t500\n".encode("latin-1"))
    with pytest.raises(MalformedFileError, match=r"a\.sizes: line 2 is not UTF-8 text"):
        chrom_sizes(str(bad))
    bom = tmp_path / "b.sizes"
    bom.write_bytes(b"\xef\xbb\xbf# sizes\r\nchr1\t1000\r\nchr\xc3\xa92\t500\r\n")
    assert chrom_sizes(str(bom)) == {"chr1": 1000, "chr\u00e92": 500}


def test_a_toml_spec_with_a_byte_order_mark(tmp_path):
    """A YAML spec with a byte-order mark was read; a TOML one failed at line 1."""
    import shutil

    from genozarr.resources import resource_path
    from genozarr.spec import load_spec

    shutil.copy(resource_path("sample_a.bw"), tmp_path / "a.bw")
    text = 'name = "cov"\nkind = "bigwig"\nfiles = ["a.bw"]\nbinsize = 200\n'
    (tmp_path / "plain.toml").write_text(text, encoding="utf-8")
    (tmp_path / "bom.toml").write_text(text, encoding="utf-8-sig")
    assert load_spec(tmp_path / "bom.toml") == load_spec(tmp_path / "plain.toml")


@pytest.fixture()
def reference(tmp_path):
    import pysam

    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\n" + "ACGT" * 50 + "\n")
    pysam.faidx(str(fa))
    return fa


def _latin1_vcf(path: Path, sample: str, vid: str) -> Path:
    path.write_bytes(("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=200>\n"
                      '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
                      "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + sample
                      + f"\nchr1\t10\t{vid}\tC\tG\t.\t.\t.\tGT\t1|0\n").encode("latin-1"))
    return path


def test_a_vcf_that_is_not_utf8_is_named(reference, tmp_path):
    """A Latin-1 sample name (personal genomes) or ID (VariantStreamer) was a raw
    UnicodeDecodeError."""
    from genozarr import Bioseq
    from genozarr.variants import VariantStreamer

    sample = _latin1_vcf(tmp_path / "sample.vcf", "Jos\u00e9", "rs1")
    with pytest.raises(MalformedFileError, match=r"sample\.vcf: its header's sample or "
                                                 r"contig names are not UTF-8"):
        Bioseq.create_from_refgenome("p", str(reference), roi="chr1:0-20", binsize=20,
                                     variants=str(sample))
    ident = _latin1_vcf(tmp_path / "id.vcf", "S1", "v\u00e9")
    dna = Bioseq.create_from_refgenome("dna", str(reference), store_whole_genome=True)
    with pytest.raises(MalformedFileError, match=r"id\.vcf: the record chr1:10 holds text "
                                                 r"that is not UTF-8"):
        list(VariantStreamer(dna, str(ident), binsize=10, batch_size=4))
    # the same files in UTF-8 are read
    for path, kw in ((sample, {}), (ident, {})):
        path.write_bytes(path.read_bytes().decode("latin-1").encode("utf-8"), **kw)
    personal = Bioseq.create_from_refgenome("p", str(reference), roi="chr1:0-20",
                                            binsize=20, variants=str(sample))
    assert list(personal.samples) == ["Jos\u00e9"]
    (batch,) = list(VariantStreamer(dna, str(ident), binsize=10, batch_size=4))
    assert list(batch.names) == ["v\u00e9"]


def test_export_of_a_condition_named_past_ascii_under_an_ascii_locale(tmp_path):
    """Under LC_ALL=POSIX, exporting a condition named 'Kä562' was a raw
    UnicodeEncodeError (and a traceback from ``genozarr export``). The file is written
    under the name's UTF-8 bytes, as in a UTF-8 locale, with the values."""
    import pyBigWig

    bw = tmp_path / "s.bw"
    b = pyBigWig.open(str(bw), "w")
    b.addHeader([("chr1", 1000)])
    b.addEntries(["chr1"], [0], ends=[1000], values=[2.0])
    b.close()
    (tmp_path / "roi.bed").write_text("chr1\t0\t400\n")
    got = _posix("""
        import json, os, sys
        from genozarr import Cover
        from genozarr.export import export_to_bed, export_to_bigwig
        cov = Cover.create_from_bigwig("sig", ["s.bw"], roi="roi.bed", binsize=400,
                                       resolution=100, conditions=["K\\u00e4562"])
        paths = export_to_bed(cov, "out") + export_to_bigwig(cov, "out")
        print(json.dumps({"fs": sys.getfilesystemencoding(),
                          "names": sorted(os.fsencode(p).hex() for p in os.listdir("out"))}))
        """, tmp_path)
    names = sorted(bytes.fromhex(h).decode("utf-8") for h in got["names"])
    assert names == ["sig.K\u00e4562.bed", "sig.K\u00e4562.bigwig"]
    rows = [line.split("\t") for line in
            (tmp_path / "out" / "sig.K\u00e4562.bed").read_text().splitlines()]
    covered = np.zeros(400)
    for chrom, start, end, value in rows:
        assert chrom == "chr1"
        covered[int(start):int(end)] += float(value)
    np.testing.assert_array_equal(covered, np.full(400, 2.0))
    out = pyBigWig.open(str(tmp_path / "out" / "sig.K\u00e4562.bigwig"))
    np.testing.assert_array_equal(out.values("chr1", 0, 400), np.full(400, 2.0))


def test_condition_names_from_file_names_past_ascii(tmp_path):
    """Under LC_ALL=POSIX, an input named 'p_é.bed' gave the condition 'p_\\udcc3\\udca9'
    (the escaped bytes), and a zarr build of it failed ('surrogates not allowed'). A name
    that is not UTF-8 at all is refused, naming the file."""
    from genozarr.sources import file_condition_names

    with open(os.path.join(os.fsencode(tmp_path), "p_\u00e9.bed".encode("utf-8")), "wb") as f:
        f.write(b"chr1\t100\t300\n")
    got = _posix("""
        import glob, json, sys
        from genozarr import Cover
        files = glob.glob("*.bed")
        kw = dict(roi="chr1:0-400", binsize=400, resolution=100, genomesize={"chr1": 1000})
        a = Cover.create_from_bed("x", files, **kw)
        z = Cover.create_from_bed("x", files, storage="zarr", store="x.zarr", **kw)
        print(json.dumps({"fs": sys.getfilesystemencoding(), "ndarray": list(a.conditions),
                          "zarr": list(z.conditions), "values": z[0][0, :, 0, 0].tolist()}))
        """, tmp_path)
    assert got == {"ndarray": ["p_\u00e9"], "zarr": ["p_\u00e9"],
                   "values": [0.0, 1.0, 1.0, 0.0]}
    latin1 = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"q_\xe9.bed"))
    with pytest.raises(ArgumentError, match=r"q_.*\.bed.* is not UTF-8 text, so it gives no "
                                            r"condition name: pass conditions="):
        file_condition_names([latin1])
