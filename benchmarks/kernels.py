"""Per-batch and per-Mb costs of two numerical kernels, against their plain forms.

- ``ZScore.kernel`` on a 128 x 1 kb x 2 strands x 4 conditions float32 batch, against the
  plain ``(x - mean) / std`` with the statistics cast to float32 (which loses a large
  mean's rounding: 0.057 z-units at 1e6 +- 0.5), on a typical track (mean 2, sd 1) and on
  one far from zero (1e6 +- 0.5); with the largest error against float64 of each.
- ``collapse(values, resolution, 'sum')`` of one float32 channel (8 Mb of lognormal
  values) at bins of 50 bp to 100 kb, against ``np.einsum`` over every bin (which it uses
  below 1 kb), with the largest error in ulps against float64 sums.

Times are the best of ``--repeat`` runs (default 30 / 7). Usage::

    python benchmarks/kernels.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``fn`` (after one untimed call)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def zscore_rows(repeat: int) -> list[str]:
    from genozarr.ops.normalizers import ZScore

    rng = np.random.default_rng(0)
    rows = []
    for label, mean, std, data in (
            ("typical track (2 +- 1)", 2.0, 1.0, rng.gamma(2, 1, (128, 1000, 2, 4))),
            ("far from zero (1e6 +- 0.5)", 1e6 + 0.03, 0.5,
             1e6 + rng.normal(0, 0.5, (128, 1000, 2, 4)))):
        x = data.astype(np.float32)
        m, s = np.full((1, 4), mean + 0.123456789), np.full((1, 4), std)
        z = ZScore(mean=m, std=s)
        exact = (x.astype(np.float64) - m) / s

        def plain(x=x, m=m, s=s):
            return (x - m.astype(np.float32)) / s.astype(np.float32)

        err_z = np.abs(z.kernel(x) - exact).max()
        err_p = np.abs(plain() - exact).max()
        rows.append(f"| ZScore.kernel, {label} | {best(lambda z=z, x=x: z.kernel(x), repeat) * 1e3:.2f} ms"
                    f" (error {err_z:.1e}) | {best(plain, repeat) * 1e3:.2f} ms "
                    f"(error {err_p:.1e}) |")
    return rows


def collapse_rows(repeat: int) -> list[str]:
    from genozarr._kernels import collapse

    x = np.random.default_rng(0).lognormal(0, 1, 8_000_000).astype(np.float32)
    rows = []
    for res in (50, 1000, 10_000, 100_000):
        flat = x.reshape(-1, res)
        exact = flat.astype(np.float64).sum(axis=1)
        ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
        values = x.reshape(-1, 1, 1)
        ours = collapse(values, res, "sum")[:, 0, 0]
        plain = np.einsum("ij->i", flat)
        t_ours = best(lambda v=values, r=res: collapse(v, r, "sum"), repeat) / 8 * 1e3
        t_plain = best(lambda flat=flat: np.einsum("ij->i", flat), repeat) / 8 * 1e3
        rows.append(f"| collapse 'sum', bins of {res:,} bp | {t_ours:.3f} ms/Mb (error "
                    f"{np.max(np.abs(ours - exact) / ulp):.1f} ulp) | {t_plain:.3f} ms/Mb "
                    f"(error {np.max(np.abs(plain - exact) / ulp):.1f} ulp) |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=0,
                        help="timed runs per case (default 30 for ZScore, 7 for collapse)")
    args = parser.parse_args()
    print("| kernel | genozarr | plain form (same run) |")
    print("|---|---|---|")
    for row in zscore_rows(args.repeat or 30) + collapse_rows(args.repeat or 7):
        print(row, flush=True)


if __name__ == "__main__":
    main()
