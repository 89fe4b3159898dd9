"""Benchmark: how long loading a prepared dataset takes (nbsrc.data.load_splits).

A load is the cache route (read the four .npy files and check their SHA-256 sums) followed by the
split into train / validation / test float tensors (and the standardisation with --standardize).
For each dataset it prints:

- cold: the first load in a fresh Python process (the imports are not counted; the operating
  system's file cache may still hold the files from an earlier run, so this is the cost a chapter
  pays per dataset, not a cold-disk read);
- warm: the best and the median of ``--repeats`` further loads in that same process.

The datasets are prepared first (untimed; ``make data`` does it ahead of time). Timings depend on the
machine's load; the test suite used to require a warm load under 2 s, which is printed as a reference.

    .venv/bin/python benchmarks/bench_data.py [--datasets mnist cifar10] [--repeats 3] [--standardize]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from nbsrc.data import DATASETS, data_root, prepare

REFERENCE_S = 2.0

# Runs in a fresh interpreter: argv = name, root, repeats, standardize; prints one JSON line.
_CHILD = """
import json, sys, time
from nbsrc.data import load_splits

name, root, repeats, standardize = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
times = []
for _ in range(1 + repeats):
    start = time.perf_counter()
    splits = load_splits(name, root=root, standardize=standardize)
    times.append(time.perf_counter() - start)
    del splits
print(json.dumps({"cold": times[0], "warm": times[1:]}))
"""


def measure(name: str, root: str, repeats: int, standardize: bool) -> dict[str, object]:
    """Cold and warm load times of one dataset, from a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, name, root, str(repeats), "1" if standardize else "0"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--repeats", type=int, default=3, help="warm loads after the cold one")
    parser.add_argument("--standardize", action="store_true", help="time load_splits(standardize=True)")
    parser.add_argument("--root", help="data root (default: NBSRC_DATA, else data/ in the cache root)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    root = str(data_root(args.root))
    for name in args.datasets:
        prepare(name, root=root)  # provisioned if needed, not timed
    print(f"data root {root}; standardize={args.standardize}; {args.repeats} warm loads per dataset")
    print(f"{'dataset':<14} {'cold [s]':>9} {'warm best [s]':>14} {'warm median [s]':>16}")
    for name in args.datasets:
        result = measure(name, root, args.repeats, args.standardize)
        warm = result["warm"]
        best, median = min(warm), statistics.median(warm)
        note = "" if best < REFERENCE_S else f"  (over the {REFERENCE_S:g} s reference)"
        print(f"{name:<14} {result['cold']:>9.2f} {best:>14.2f} {median:>16.2f}{note}")


if __name__ == "__main__":
    main()
