"""The dashboard's performance against its targets, measured, not asserted.

Builds frontend/ (`npm run build`) and sizes the JavaScript that index.html
loads initially, then deploys the real stack with the dashboard into a
temporary state folder on free ports (`python -m deploy up`), loads 30 days of
readings for one machine with COPY, starts 50 simulated machines publishing
every parameter once a second, and measures in Debian's Chromium (headless,
Playwright): the overview, the 30-day charts, the page's responsiveness
under that live load, and how long a reading published to Mosquitto takes to
show in the red alert box or on its card (publish to screen). Prints a table
of figure / target / measured / pass; the stack is taken down and its state
folder deleted at the end.

    .venv/bin/python infrastructure/bench/dashboard.py [--seconds 30] [--no-build]

`make bench` runs the same measurements in its "Dashboard" step.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchsuite import bundle as bundles
from benchsuite.dashboard import (
    DashboardResult,
    DashboardSettings,
    measure_dashboard,
    startup_requests,
)
from benchsuite.markdown import table
from benchsuite.stack import BenchError, Stack

logger = logging.getLogger("bench")


def print_report(result: DashboardResult) -> None:
    if result.bundle:
        files = [
            [f.path, f.how, f"{f.raw / 1024:.1f}", f"{f.gzip / 1024:.1f}"]
            for f in result.bundle.initial + result.bundle.lazy
        ]
        print("\nJavaScript of the build (KB; gzip -9):\n")
        print(table(["file", "loaded", "raw KB", "gzip KB"], files))
    if result.startup_scripts:
        print("\nScripts the overview fetched: " + ", ".join(result.startup_scripts))
    if result.month_rows:
        print(
            f"\n30 days for the chart: {result.month_rows:,} readings loaded with "
            f"COPY in {result.month_seconds:.1f} s (rollups derived)"
        )
    if result.overview:
        loads = [
            [
                f"{run['firstContentfulPaint'] or 0:.0f}",
                ", ".join(f"{t:.0f}" for t in startup_requests(run)),
                f"{run['cardsInDom']:.0f}",
                f"{run['cardsPainted']:.0f}",
            ]
            for run in result.overview
        ]
        print("\nCold overview loads (ms from navigation start):\n")
        header = ["FCP", "config, parameters, machines answered", "cards", "painted"]
        print(table(header, loads))
    if result.live:
        print_live(result.live)
    rows = [
        [figure, target, measured, {True: "pass", False: "FAIL", None: "-"}[ok]]
        for figure, target, measured, ok in result.rows()
    ]
    print("\nDashboard performance\n")
    print(table(["figure", "target", "measured", "pass"], rows))


def print_live(live: dict[str, Any]) -> None:
    samples = [
        [
            s["machine_id"],
            *(
                "-" if s[kind][end] is None else f"{s[kind][end]:.0f}"
                for kind in ("alert", "card")
                for end in ("shown", "painted")
            ),
        ]
        for s in live["samples"]
    ]
    print(
        "\nPublish to screen (ms; publish by paho to the element in the DOM, and "
        "to the end of the next frame; link modes seen: "
        + " -> ".join(str(m) for m in live["modes"])
        + "):\n"
    )
    header = ["drill", "alert box", "painted", "card value", "painted"]
    print(table(header, samples))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Needs Node.js (npm), Debian's chromium (or $ORCHESTRALINK_CHROMIUM) "
        "and about 3 minutes.",
    )
    defaults = DashboardSettings()
    parser.add_argument(
        "--machines", type=int, default=defaults.machines, help="simulated machines"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=defaults.responsive_seconds,
        help="length of the responsiveness window under live load",
    )
    parser.add_argument(
        "--loads",
        type=int,
        default=defaults.overview_loads,
        help="cold overview loads and 30-day chart clicks measured",
    )
    parser.add_argument(
        "--publishes",
        type=int,
        default=defaults.live_publishes,
        help="critical and normal readings published and timed to the screen",
    )
    parser.add_argument(
        "--no-build", action="store_true", help="size frontend/dist as it is"
    )
    parser.add_argument(
        "--bundle-only", action="store_true", help="size the build, deploy nothing"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    settings = DashboardSettings(
        machines=args.machines,
        overview_loads=args.loads,
        chart_loads=args.loads,
        responsive_seconds=args.seconds,
        live_publishes=args.publishes,
    )
    if not args.no_build:
        logger.info("==> npm run build")
        bundles.build()
    bundle = bundles.analyse(bundles.FRONTEND_DIR / "dist")
    result = DashboardResult(settings, bundle=bundle)
    failed = False
    if not args.bundle_only:
        stack = Stack.prepare(machines=args.machines, dashboard=True)
        try:
            logger.info("==> deploying with the dashboard into %s", stack.state_dir)
            started = time.monotonic()
            stack.deploy("up")
            logger.info("    deployed in %.0f s", time.monotonic() - started)
            result = measure_dashboard(stack, settings, bundle)
        except (BenchError, OSError) as error:
            logger.exception("the measurement stopped")
            print(f"\nstopped: {error}", file=sys.stderr)
            failed = True
        finally:
            logger.info("==> taking the stack down (%s)", stack.state_dir)
            stack.close()
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(dataclasses.asdict(result), indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
