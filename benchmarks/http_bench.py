"""Throughput and latency of the drive page and progress.json beside a bare Flask route.

    .venv/bin/python benchmarks/http_bench.py [--backend sqlite|postgresql|both] [--duration 10]

For each backend: migrate a fresh database, create one live drive per size (by default one with
1,000 donations and one with 1,000,000, bulk-loaded), serve the app with gunicorn pinned to CPU 0
(PostgreSQL pinned there too) and the bare app the same way, and run wrk pinned to CPU 1. Each
round measures the bare route, then progress.json and the drive page of every drive, in turn;
the ratio of each to the bare route of its own round is the figure, and the median over the
rounds is reported (the machine is shared: a single run swings by more than the 15 % that
separates "unchanged" from "changed").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import common
import seeding

PROGRESS_TARGET = 0.50
PAGE_TARGET = 0.25
STABLE_WITHIN = 0.15


def check_endpoints(app_base: str, bare_base: str, slug: str, donors: int) -> None:
    """The URLs answer what they should before anything is timed."""
    status, headers, body = common.fetch(f"{app_base}/drives/{slug}/progress.json")
    payload = json.loads(body)
    assert status == 200, (status, body[:300])
    assert payload["donors"] == donors, (payload, donors)
    assert headers.get("Cache-Control") == "public, max-age=5", headers
    assert headers.get("ETag"), headers
    status, _, body = common.fetch(f"{app_base}/drives/{slug}")
    assert status == 200, (status, body[:300])
    assert b"Recent gifts" in body, "the drive page shows no recent gifts"
    status, _, body = common.fetch(bare_base + "/")
    assert (status, body) == (200, b"ok"), (status, body)


def warm(urls: list[str], rounds: int = 30) -> None:
    for _ in range(rounds):
        for url in urls:
            common.fetch(url)


def measure(
    name: str, url: str, pids: list[int], duration: int, connections: int
) -> dict[str, Any]:
    result = common.run_wrk(url, duration, pids, connections)
    if result.non_2xx or result.errors:
        common.log(f"  {name}: non-2xx {result.non_2xx} {result.errors}")
    common.log(
        f"  {name:<14} {result.requests_per_second:9.1f} req/s  "
        f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
        f"server CPU {result.server_cpu_ms_per_request:.3f} ms/request"
    )
    return asdict(result)


def donors_in(app: Any, slug: str) -> int:
    from extensions import db
    from fundraising.drives import get_drive

    with app.app_context():
        drive = get_drive(slug)
        assert drive is not None
        donors = int(drive.totals.donors)
        db.session.remove()
        return donors


def median_figures(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        key: statistics.median(run[key] for run in runs)
        for key in ("requests_per_second", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
    }


def bench_backend(
    procs: common.Processes,
    backend: str,
    bare: common.Server,
    sizes: list[int],
    args: argparse.Namespace,
    workdir: Path,
) -> list[dict[str, Any]]:
    folder = workdir / backend
    folder.mkdir()
    server = None
    if backend == "postgresql":
        server = common.start_postgres(procs)
        url = server.url()
    else:
        url = f"sqlite:///{folder / 'app.db'}"
    env = seeding.app_environment(url, folder / "instance")
    seeding.migrate(env)
    seeding.apply_environment(env)
    app = seeding.make_app()
    served = None
    try:
        drives: dict[int, str] = {}
        for index, size in enumerate(sizes):
            slug = f"bench-{size}"
            drive_id = seeding.create_drive(app, slug)
            started = time.monotonic()
            seeding.seed_in_batches(app, drive_id, size, seed=index * 10_000_000)
            common.log(f"{backend}: {size:,} donations loaded in {time.monotonic() - started:.1f}s")
            drives[size] = slug
        seeding.analyze(app)
        served = common.start_gunicorn(procs, "app:create_app()", env, folder, backend)
        app_pids = [served.process.pid]
        if server is not None:
            app_pids.append(common.postmaster_pid(server))
        urls: dict[tuple[int, str], str] = {}
        for size, slug in drives.items():
            check_endpoints(served.base, bare.base, slug, donors_in(app, slug))
            page = f"{served.base}/drives/{slug}"
            urls[(size, "page")] = page
            urls[(size, "progress")] = page + "/progress.json"
        warm([bare.base + "/", *urls.values()])
        duration, connections = args.duration, args.connections
        runs: dict[Any, list[dict[str, Any]]] = {key: [] for key in [*urls, "bare"]}
        ratios: dict[tuple[int, str], list[float]] = {key: [] for key in urls}
        cpu_ratios: dict[tuple[int, str], list[float]] = {key: [] for key in urls}
        for round_number in range(1, args.rounds + 1):
            common.log(f"{backend}: round {round_number} of {args.rounds}")
            reference = measure("bare", bare.base + "/", [bare.process.pid], duration, connections)
            runs["bare"].append(reference)
            for key, url in urls.items():
                label = f"{'drive page' if key[1] == 'page' else 'progress.json'} {key[0]:,}"
                result = measure(label, url, app_pids, duration, connections)
                runs[key].append(result)
                ratios[key].append(result["requests_per_second"] / reference["requests_per_second"])
                # The same ratio from CPU spent per request: steadier when the machine is shared.
                cpu_ratios[key].append(
                    reference["server_cpu_ms_per_request"] / result["server_cpu_ms_per_request"]
                )
        rows = []
        for size in sizes:
            row: dict[str, Any] = {
                "backend": backend,
                "donations": size,
                "bare": median_figures(runs["bare"]),
                "progress": median_figures(runs[(size, "progress")]),
                "page": median_figures(runs[(size, "page")]),
                "progress_ratios": ratios[(size, "progress")],
                "page_ratios": ratios[(size, "page")],
            }
            for route in ("progress", "page"):
                row[f"{route}_ratio"] = statistics.median(ratios[(size, route)])
                row[f"{route}_cpu_ratio"] = statistics.median(cpu_ratios[(size, route)])
            rows.append(row)
    finally:
        if served is not None:
            procs.stop(served.process)
        from extensions import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if server is not None:
            server.stop()
            procs.postgres.remove(server)
    return rows


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        name = f"{row['backend']}, {row['donations']:,} donations"
        progress_ok = row["progress_ratio"] >= PROGRESS_TARGET
        page_ok = row["page_ratio"] >= PAGE_TARGET
        lines.append(
            f"{name}: progress.json {row['progress_ratio']:.0%} of bare "
            f"({'meets' if progress_ok else 'MISSES'} >= {PROGRESS_TARGET:.0%}); drive page "
            f"{row['page_ratio']:.0%} ({'meets' if page_ok else 'MISSES'} >= {PAGE_TARGET:.0%}); "
            f"by server CPU per request: progress.json {row['progress_cpu_ratio']:.0%}, "
            f"drive page {row['page_cpu_ratio']:.0%}"
        )
    backends = sorted({row["backend"] for row in rows})
    for backend in backends:
        mine = [row for row in rows if row["backend"] == backend]
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        for key, label in (("progress_ratios", "progress.json"), ("page_ratios", "drive page")):
            # Paired by round: the two drives were measured one after the other.
            change = statistics.median(
                big / little for big, little in zip(large[key], small[key], strict=True)
            )
            change -= 1
            ok = abs(change) <= STABLE_WITHIN
            lines.append(
                f"{backend}: {label} {small['donations']:,} -> {large['donations']:,} "
                f"donations (median of the rounds' ratios): {change:+.1%} "
                f"({'within' if ok else 'OUTSIDE'} 15%)"
            )
    return lines


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| backend | donations | route | req/s | p50 ms | p99 ms | ratio to bare (req/s) "
        "| server CPU ms/req | ratio to bare (CPU) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for key, label, ratio, cpu_ratio in (
            ("bare", "bare `/` (median of the rounds)", None, None),
            ("progress", "progress.json", row["progress_ratio"], row["progress_cpu_ratio"]),
            ("page", "drive page", row["page_ratio"], row["page_cpu_ratio"]),
        ):
            figures = row[key]
            out.append(
                f"| {row['backend']} | {row['donations']:,} | {label} | "
                f"{figures['requests_per_second']:.0f} | {figures['p50_ms']:.2f} | "
                f"{figures['p99_ms']:.2f} | {'' if ratio is None else f'{ratio:.0%}'} | "
                f"{figures['server_cpu_ms_per_request']:.3f} | "
                f"{'' if cpu_ratio is None else f'{cpu_ratio:.0%}'} |"
            )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--duration", type=int, default=6, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every route in turn")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sizes", default="1000,1000000", help="donations in the drive")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be 1..60 seconds")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    sizes = sorted(int(size) for size in args.sizes.split(","))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    procs = common.Processes()
    workdir = procs.tempdir("safepassage-bench-")
    common.log(common.machine_description())
    bare_env = seeding.app_environment("sqlite://", workdir / "bare-instance")
    bare = common.start_gunicorn(
        procs, "bare_app:app", bare_env, workdir, "bare", chdir=common.BENCH_DIR
    )
    rows: list[dict[str, Any]] = []
    try:
        for backend in backends:
            rows.extend(bench_backend(procs, backend, bare, sizes, args, workdir))
    finally:
        procs.cleanup()
    print(common.machine_description())
    print(
        f"wrk --latency -t1 -c{args.connections} -d{args.duration}s; {args.rounds} rounds of "
        "every route in turn; medians\n"
    )
    print(table(rows))
    print()
    for line in verdicts(rows):
        print("- " + line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
