"""OrchestraLink's benchmark suite (`make bench`, `make bench FULL=1`).

Deploys the real stack (`python -m deploy up`, backend only) into a temporary
state folder on free ports, measures end-to-end ingest against a per-message
baseline, the functions, the API at scale and the deploy commands, then
deploys the dashboard into the same stack and measures it in Chromium, writes
`results/bench-<time>-<quick|full>/report.md` with PNG figures and
`results.json`, and prints the summary table. The stack is taken down and its
state folder deleted at the end, whatever happened.

    .venv/bin/python infrastructure/bench/report.py [--full] [--output DIR]

Quick (default) finishes within about 5 minutes; --full runs 60-second ingest
runs, a wider batch-size sweep and 10 million readings for the API.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchsuite import bundle, plots
from benchsuite.api import load_readings, measure_api
from benchsuite.closing import closing_note
from benchsuite.dashboard import measure_dashboard
from benchsuite.deploytimes import watch_redeploy
from benchsuite.functions import batch_size_sweep, function_latencies
from benchsuite.ingest import baseline_run, ingest_run
from benchsuite.machine import describe
from benchsuite.markdown import (
    api_section,
    dashboard_section,
    deploy_section,
    functions_section,
    ingest_section,
    summary_text,
)
from benchsuite.results import FULL, QUICK, Results
from benchsuite.stack import REPO_DIR, BenchError, Stack

logger = logging.getLogger("bench")


def _step(results: Results, name: str, action: Callable[[], None]) -> None:
    """Run one measurement; a failure is reported and the suite goes on."""
    logger.info("==> %s", name)
    started = time.monotonic()
    try:
        action()
    except Exception as error:  # the report says what failed, the rest still runs
        logger.exception("%s failed", name)
        results.errors[name] = f"{type(error).__name__}: {str(error)[:800]}"
    logger.info("    %s took %.0f s", name, time.monotonic() - started)


def measure(results: Results, stack: Stack, workdir: Path) -> None:
    s = results.settings

    def deploys() -> None:
        results.deploy["cold deploy"] = stack.deploy("up")
        results.deploy["warm deploy"] = stack.deploy("up")

    logger.info("==> cold and warm deploy into %s", stack.state_dir)
    deploys()  # without a stack nothing else can run: errors end the suite
    stack.quiesce()
    stack.enable_commit_timestamps()
    with stack.connect() as conn:
        row = conn.execute("SHOW server_version").fetchone()
    results.machine["PostgreSQL"] = str(row[0]) if row else "unknown"

    def watch() -> None:
        results.watch = watch_redeploy(stack)

    def ingest() -> None:
        for name, batch in (
            ("one reading per message", False),
            ("batch messages", True),
        ):
            run, _ = ingest_run(
                stack,
                workdir,
                name,
                batch=batch,
                machines=s.machines,
                duration=s.ingest_seconds,
            )
            results.runs.append(run)

    def baseline() -> None:
        results.baseline = baseline_run(
            stack, workdir, machines=s.machines, count=s.baseline_messages
        )

    def profile() -> None:
        run, results.profile = ingest_run(
            stack,
            workdir,
            "profiled (py-spy attached)",
            batch=False,
            machines=s.machines,
            duration=s.profile_seconds,
            profile_seconds=s.profile_seconds + 5,
        )
        results.profile_run = run

    def functions() -> None:
        results.functions = function_latencies(stack, s.cold_starts, s.warm_invokes)

    def sweep() -> None:
        results.sweep = batch_size_sweep(
            stack,
            workdir,
            list(s.sweep_sizes),
            list(s.sweep_concurrency),
            s.sweep_messages,
            s.mapping,
        )

    def api() -> None:
        results.api_data = load_readings(stack, s.api_rows)
        results.api = measure_api(stack, results.api_data, s.api_requests)

    def dashboard() -> None:
        # Last: the redeploy builds and uploads the dashboard (the deploy
        # figures above stay those of the backend alone).
        stack.env["DASHBOARD"] = "1"
        stack.deploy("up")
        built = bundle.analyse(bundle.FRONTEND_DIR / "dist")
        results.dashboard = measure_dashboard(stack, s.dashboard, built)

    _step(results, "watch redeploy", watch)
    _step(results, "end-to-end ingest", ingest)
    _step(results, "per-message baseline", baseline)
    _step(results, "profile", profile)
    _step(results, "function latency", functions)
    _step(results, "batch-size sweep", sweep)
    _step(results, "API at scale", api)
    _step(results, "Dashboard", dashboard)


def draw(results: Results, folder: Path) -> None:
    figures = results.figures
    runs = list(results.runs) + ([results.baseline] if results.baseline else [])
    if runs:
        figures["timeline"] = plots.ingest_timeline(
            runs, folder / "ingest_timeline.png"
        )
        targets = {"one reading per message": 10_000.0, "batch messages": 30_000.0}
        figures["throughput"] = plots.ingest_throughput(
            runs, targets, folder / "ingest_throughput.png"
        )
        figures["cpu"] = plots.cpu_per_reading(runs, folder / "cpu_per_reading.png")
    if results.functions:
        figures["functions"] = plots.function_latency(
            results.functions, folder / "function_latency.png"
        )
    if results.sweep:
        figures["sweep"] = plots.batch_sizes(results.sweep, folder / "batch_size.png")
    if results.api and results.api_data:
        figures["api"] = plots.api_latency(
            results.api, results.api_data.rows, folder / "api_latency.png"
        )
    if results.deploy:
        timings = dict(results.deploy)
        if results.watch:
            timings["watch: change live"] = results.watch.live
        figures["deploy"] = plots.deploy_times(timings, folder / "deploy.png")


def write_report(results: Results, folder: Path) -> Path:
    s = results.settings
    command = "make bench FULL=1" if s.name == "full" else "make bench"
    header = [
        f"# OrchestraLink benchmark ({s.name})\n",
        f"Started {results.started}, took {results.total_seconds / 60:.1f} min. "
        f"Command: `{command}` "
        f"(`.venv/bin/python infrastructure/bench/report.py"
        f"{' --full' if s.name == 'full' else ''}`). Figures come from single runs "
        "on the machine below; other work on it at the same time shows in the "
        "CPU table (machine busy).\n",
        "## Machine\n",
        "\n".join(f"- **{k}**: {v}" for k, v in results.machine.items()) + "\n",
        "## Summary\n",
        summary_text(results) + "\n",
    ]
    sections = [
        ingest_section(results),
        functions_section(results),
        api_section(results),
        deploy_section(results),
        dashboard_section(results),
        closing_note(results),
    ]
    path = folder / "report.md"
    path.write_text("\n".join(header + sections))
    return path


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="longer, larger runs")
    parser.add_argument(
        "--output", type=Path, default=REPO_DIR / "results", help="results folder"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("botocore", "boto3", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    settings = FULL if args.full else QUICK
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = args.output / f"bench-{stamp}-{settings.name}"
    workdir = folder / "raw"
    workdir.mkdir(parents=True)
    results = Results(settings, started=stamp)
    results.machine = describe()
    started = time.monotonic()
    stack = Stack.prepare(parameters=settings.stack_parameters)
    try:
        measure(results, stack, workdir)
    except (BenchError, OSError) as error:
        logger.exception("the benchmark stopped")
        results.errors["stack"] = str(error)[:2000]
    finally:
        logger.info("==> taking the stack down (%s)", stack.state_dir)
        stack.close()
    results.total_seconds = time.monotonic() - started

    draw(results, folder)
    report = write_report(results, folder)
    (folder / "results.json").write_text(
        json.dumps(_jsonable(dataclasses.asdict(results)), indent=2, default=str)
    )
    print(f"\nOrchestraLink benchmark ({settings.name}): {report}\n")
    print(summary_text(results))
    if results.errors:
        print("\nfailed steps: " + "; ".join(results.errors))
    return 1 if "stack" in results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
