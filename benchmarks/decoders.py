"""Blosc chunk decoders side by side: numcodecs' Blosc (what genozarr decodes with) against
python-blosc2, which reads the Blosc1 frames zarr's ``BloscCodec`` writes, where it is
installed (it is not a genozarr dependency).

Run: ``python benchmarks/decoders.py [--seconds 0.5]``. For chunks of 1 kB to 2 MiB of
float32 coverage (Poisson counts in runs of 50 bases, the serving benchmark's kind of data)
compressed with Blosc zstd level 1 and lz4 (byte shuffle), prints the chunks decoded per
second by one thread and by two threads at once (each decoding into its own buffer), and
the two-thread rate over the one-thread rate. numcodecs decodes outside the GIL with a new
Blosc context per call (``use_threads=False``, as in genozarr's decode threads); blosc2's
``decompress`` reuses its global context.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np


def rate(decode, nbytes: int, threads: int, seconds: float) -> float:  # noqa: ANN001
    """Chunks decoded per second by ``threads`` threads, each into its own buffer."""
    count = [0] * threads
    stop = time.perf_counter() + seconds

    def work(k: int) -> None:
        out = np.empty(nbytes // 4, np.float32)
        n = 0
        while time.perf_counter() < stop:
            for _ in range(8):
                decode(out)
            n += 8
        count[k] = n

    t = time.perf_counter()
    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return sum(count) / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="per measurement")
    args = parser.parse_args()
    from numcodecs import Blosc, blosc

    blosc.use_threads = False
    try:
        import blosc2

        blosc2.set_nthreads(1)
    except ImportError:
        blosc2 = None
        print("python-blosc2 is not installed: numcodecs rows only")
    rng = np.random.default_rng(0)
    counts = np.repeat(rng.poisson(3, 2**19 // 50 + 1).astype(np.float32), 50)[:2**19]
    print(f"{'chunk':>8} {'codec':>5} {'decoder':>10} {'1 thread /s':>12} "
          f"{'2 threads /s':>13} {'2/1':>5}")
    for nbytes in (1024, 16384, 65536, 2**21):
        data = counts[:nbytes // 4]
        for cname in ("zstd", "lz4"):
            frame = Blosc(cname=cname, clevel=1, shuffle=Blosc.SHUFFLE).encode(data)
            decoders = {"numcodecs": lambda out, f=frame: blosc.decompress(f, out)}
            if blosc2 is not None:
                check = np.frombuffer(blosc2.decompress(frame), np.float32)
                assert np.array_equal(check, data), "blosc2 decoded other values"
                decoders["blosc2"] = lambda out, f=frame: blosc2.decompress(f, dst=out)
            for name, decode in decoders.items():
                one = rate(decode, nbytes, 1, args.seconds)
                two = rate(decode, nbytes, 2, args.seconds)
                print(f"{nbytes:>8} {cname:>5} {name:>10} {one:>12,.0f} {two:>13,.0f} "
                      f"{two / one:>5.2f}")


if __name__ == "__main__":
    main()
