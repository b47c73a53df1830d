"""A script written like the examples of Janggu's "Genomic Datasets" page runs unchanged
on genozarr once ``janggu.data`` imports name ``genozarr``, and gives the shapes Janggu
documents. It runs in its own process, as a user's script does (no ``__main__`` guard,
output root from ``JANGGU_OUTPUT``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from genozarr.resources import resource_path

# Janggu's page, example by example; only the file variables are defined first (the page
# leaves them to the reader) and the shapes printed at the end
SCRIPT = textwrap.dedent("""
    import os
    os.environ['JANGGU_OUTPUT'] = OUTPUT

    import numpy as np
    from janggu.data import Bioseq
    from janggu.data import Cover
    from janggu.data import ReduceDim
    from janggu.data import view
    from janggu.data import plotGenomeTrack

    shapes = {}

    # Normalization
    for name in ['tpm', 'zscore', 'zscorelog', 'binsizenorm', 'perctrim']:
        cover = Cover.create_from_bam('track', bamfiles=samplefile, roi=roi, normalizer=name)
        shapes[name] = cover.shape

    from janggu.data import PercentileTrimming
    from janggu.data import ZScore

    cover = Cover.create_from_bam('track', bamfiles=samplefile, roi=roi,
                                  normalizer=[PercentileTrimming(95), ZScore()])
    shapes['trim_zscore'] = cover.shape

    zscore = ZScore()
    train = Cover.create_from_bam('track_train', bamfiles=samplefile, roi=roitrain,
                                  normalizer=[zscore])
    test = Cover.create_from_bam('track_test', bamfiles=samplefile, roi=roitest,
                                 normalizer=[zscore])
    shapes['train'], shapes['test'] = train.shape, test.shape

    def custom_normalizer(genomicarray):
        # perform normalization genomicarray
        return genomicarray

    shapes['custom'] = Cover.create_from_bam('track', bamfiles=samplefile, roi=roi,
                                             normalizer=custom_normalizer).shape

    # Granularity of the coverage
    shapes['res1'] = Cover.create_from_bam('track', bamfiles=samplefile, roi=roi,
                                           resolution=1).shape
    shapes['res50'] = Cover.create_from_bam('track', bamfiles=samplefile, roi=roi,
                                            resolution=50).shape
    shapes['genes'] = Cover.create_from_bam('genes', bamfiles=samplefile, roi=geneannot,
                                            resolution=None).shape
    shapes['mean'] = Cover.create_from_bigwig('bwtrack', bigwigfiles=bwfile, roi=roi,
                                              resolution=50, collapser='mean').shape
    shapes['npsum'] = Cover.create_from_bigwig('bwtrack', bigwigfiles=bwfile, roi=roi,
                                               resolution=50, collapser=np.sum).shape

    def custom_collapser(numpyarray):
        # Initially, the dimensions of numpyarray correspond to
        # (intervallength // resolution, resolution, strand)
        numpyarray = numpyarray.sum(axis=1)
        # Subsequently, we return the array of shape
        # (intervallength // resolution, strand)
        return numpyarray

    shapes['custom_collapser'] = Cover.create_from_bigwig(
        'bwtrack', bigwigfiles=bwfile, roi=roi, resolution=50,
        collapser=custom_collapser).shape

    # Caching
    dna = Bioseq.create_from_refgenome('dna', refgenome, order=1, cache=True)
    shapes['whole_dna_interval'] = dna['chr1', 100, 150].shape

    # Storage options
    for storage in ['ndarray', 'sparse', 'hdf5']:
        for whole in [True, False]:
            c = Cover.create_from_bam('track', bamfiles=samplefile, roi=roi,
                                      storage=storage, store_whole_genome=whole)
            shapes[f'{storage}_{whole}'] = c.shape

    # Different views of datasets
    DNA = Bioseq.create_from_refgenome('dna', refgenome=REFGENOME, roi=ROI_FILE, binsize=200,
                                       store_whole_genome=True)
    DNA_TRAIN = view(DNA, ROI_TRAIN_FILE)
    DNA_TEST = view(DNA, ROI_TEST_FILE)
    shapes['dna'], shapes['dna_train'], shapes['dna_test'] = (
        DNA.shape, DNA_TRAIN.shape, DNA_TEST.shape)
    shapes['dna_item'] = DNA_TRAIN[0].shape

    # Randomized dataset
    DNA = Bioseq.create_from_refgenome('dna', refgenome=REFGENOME, roi=ROI_TRAIN_FILE,
                                       binsize=200, storage='hdf5', cache=True,
                                       store_whole_genome=False, random_state=43)
    shapes['random'] = DNA.shape

    # Converting Numpy to Cover; evaluation features
    predictions = np.random.default_rng(0).random((len(DNA_TEST), 4, 1))
    pred = Cover.create_from_array('predictions', predictions, DNA_TEST.gindexer)
    shapes['pred'] = pred.shape
    files = pred.export_to_bigwig(output_dir=os.path.join(OUTPUT, 'bigwig'))
    shapes['bigwigs'] = [len(files)]
    fig = plotGenomeTrack(pred, 'chr1', 0, 2000)
    fig.savefig(os.path.join(OUTPUT, 'pred.png'))

    # Rearranging channel dimensions; wrapper datasets
    first = Cover.create_from_bam('track', bamfiles=samplefile, roi=roi, channel_last=False)
    shapes['channel_first'] = first.shape
    shapes['reduced'] = ReduceDim(Cover.create_from_bigwig('bwtrack', bigwigfiles=bwfile,
                                                           roi=roi, resolution=None)).shape

    print(json.dumps(shapes))
""")


def test_janggu_page_examples_run_unchanged(tmp_path):
    script = SCRIPT.replace("from janggu.data import", "from genozarr import")
    header = textwrap.dedent(f"""
        import json
        OUTPUT = {str(tmp_path / 'janggu_out')!r}
        samplefile = {resource_path('sample.bam')!r}
        bwfile = {resource_path('sample_a.bw')!r}
        roi = ROI_FILE = {resource_path('sample.bed')!r}
        roitrain = ROI_TRAIN_FILE = {resource_path('roi_train.bed')!r}
        roitest = ROI_TEST_FILE = {resource_path('roi_test.bed')!r}
        geneannot = {resource_path('genes.gtf')!r}
        refgenome = REFGENOME = {resource_path('sample.fa')!r}
    """)
    (tmp_path / "classify.py").write_text(header + script)
    env = {k: v for k, v in os.environ.items() if k != "GENOZARR_OUTPUT"}
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run([sys.executable, "classify.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    shapes = {k: tuple(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}
    n = 40  # sample.bed: 40 regions of 1 kb
    for name in ("tpm", "zscore", "zscorelog", "binsizenorm", "perctrim", "trim_zscore",
                 "custom", "res1"):
        assert shapes[name] == (n, 1000, 2, 1), name  # BAM: two strands
    assert shapes["res50"] == (n, 20, 2, 1)
    assert shapes["genes"][1:] == (1, 2, 1)
    assert shapes["mean"] == shapes["npsum"] == shapes["custom_collapser"] == (n, 20, 1, 1)
    assert shapes["whole_dna_interval"] == (1, 50, 1, 4)
    for storage in ("ndarray", "sparse", "hdf5"):
        assert shapes[f"{storage}_True"] == shapes[f"{storage}_False"] == (n, 1000, 2, 1)
    assert shapes["dna"] == (n * 5, 200, 1, 4)
    assert shapes["dna_train"][1:] == shapes["dna_test"][1:] == (200, 1, 4)
    assert shapes["dna_train"][0] + shapes["dna_test"][0] <= shapes["dna"][0]
    assert shapes["dna_item"] == (1, 200, 1, 4)  # a batch for every key, as Janggu
    assert shapes["random"] == shapes["dna_train"]
    assert shapes["pred"] == (shapes["dna_test"][0], 4, 1, 1)
    assert shapes["bigwigs"] == (1,)
    assert shapes["channel_first"] == (n, 1, 1000, 2)
    assert shapes["reduced"] == (n, 1)
    assert (tmp_path / "janggu_out" / "pred.png").stat().st_size > 0
    # caches went under JANGGU_OUTPUT, as in Janggu
    assert any((tmp_path / "janggu_out").rglob("*.zarr"))
    assert "storage='hdf5'" in done.stderr  # the one-line note about hdf5


pytestmark = pytest.mark.slow
