"""``python -m bench``: every benchmark in one run, printing markdown tables.

``--quick`` runs each on a small slice (a smoke test of the scripts, not numbers to quote).
"""

from __future__ import annotations

import argparse
import time

from bench import bench_cli, bench_index, bench_media, bench_rerank, bench_text
from bench.common import cleanup, header, machine_report, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--passages", type=int, default=None, help="text corpus size")
    args = parser.parse_args()
    quick = ["--quick"] if args.quick else []
    started = time.perf_counter()
    header("Machine")
    table([{"what": key, "value": value} for key, value in machine_report().items()])
    text_args = quick + (["--passages", str(args.passages)] if args.passages else [])
    parts = [
        ("text embeddings", lambda: bench_text.main(text_args)),
        ("reranking", lambda: bench_rerank.main(quick)),
        ("store", lambda: bench_index.main(quick)),
        ("msearch index", lambda: bench_cli.main(quick)),
        ("speech and video", lambda: bench_media.main(quick)),
    ]
    seconds = []
    try:
        for name, run in parts:
            start = time.perf_counter()
            run()
            seconds.append(
                {"part": name, "seconds (loading included)": time.perf_counter() - start}
            )
    finally:
        cleanup()
    header("Wall time")
    seconds.append(
        {"part": "all benchmarks", "seconds (loading included)": time.perf_counter() - started}
    )
    table(seconds)


if __name__ == "__main__":
    main()
