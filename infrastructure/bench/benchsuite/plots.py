"""The report's figures (PNG, matplotlib without a display). Each title says
what was measured; the report's caption under it says how."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display: set before pyplot is imported
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from benchsuite.api import Endpoint
    from benchsuite.functions import BatchPoint, FunctionLatency
    from benchsuite.ingest import IngestRun

_DPI = 110


def _save(figure: Figure, path: Path) -> str:
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)
    return path.name


def ingest_timeline(runs: list[IngestRun], path: Path) -> str:
    figure, axes = plt.subplots(
        len(runs), 1, figsize=(9, 3.2 * len(runs)), squeeze=False
    )
    for axis, run in zip(axes[:, 0], runs, strict=True):
        seconds = [p[0] for p in run.per_second]
        axis.plot(
            seconds, [p[1] for p in run.per_second], label="published (by reading ts)"
        )
        axis.plot(
            seconds, [p[2] for p in run.per_second], label="stored (by commit time)"
        )
        axis.set_ylabel("readings per second")
        axis.set_xlabel("seconds since the first reading")
        axis.set_title(f"{run.name}: readings published and stored per second")
        latency = axis.twinx()
        latency.plot(
            seconds,
            [p[4] for p in run.per_second],
            color="tab:red",
            linestyle=":",
            label="p99 latency of readings stored that second",
        )
        latency.set_ylabel("seconds", color="tab:red")
        lines = axis.get_legend_handles_labels()
        more = latency.get_legend_handles_labels()
        axis.legend(
            lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper right"
        )
    return _save(figure, path)


def ingest_throughput(
    runs: list[IngestRun], targets: dict[str, float], path: Path
) -> str:
    figure, axis = plt.subplots(figsize=(8, 4))
    names = [run.name for run in runs]
    stored = [run.stored_per_second for run in runs]
    published = [run.published_per_second for run in runs]
    x = range(len(runs))
    axis.bar([i - 0.2 for i in x], published, width=0.4, label="published/s")
    axis.bar(
        [i + 0.2 for i in x], stored, width=0.4, label="stored/s (first to last commit)"
    )
    for i, name in enumerate(names):
        if name in targets:
            axis.hlines(
                targets[name], i - 0.45, i + 0.45, colors="red", linestyles="--"
            )
    axis.set_xticks(list(x), names)
    axis.set_ylabel("readings per second")
    axis.set_title("End-to-end ingest throughput (red dashes: targets)")
    axis.legend(fontsize=8)
    return _save(figure, path)


def cpu_per_reading(runs: list[IngestRun], path: Path) -> str:
    components = sorted({c for run in runs for c in run.cpu.seconds})
    figure, axis = plt.subplots(figsize=(9, 1.2 + 0.7 * len(runs)))
    left = [0.0] * len(runs)
    for component in components:
        values = [
            run.cpu.per_reading_us(run.accounting.stored).get(component, 0.0)
            for run in runs
        ]
        axis.barh([run.name for run in runs], values, left=left, label=component)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axis.set_xlabel("CPU microseconds per stored reading (user + system)")
    axis.set_title("Where the CPU goes, per reading and component")
    axis.legend(fontsize=8, ncol=3, loc="lower right")
    return _save(figure, path)


def batch_sizes(points: list[BatchPoint], path: Path) -> str:
    figure, axis = plt.subplots(figsize=(8, 4))
    for concurrency in sorted({p.concurrency for p in points}):
        chosen = [p for p in points if p.concurrency == concurrency]
        axis.plot(
            [p.batch_size for p in chosen],
            [p.stored_per_second for p in chosen],
            marker="o",
            label=f"MaximumConcurrency {concurrency}",
        )
    axis.set_xscale("log")
    axis.set_xlabel("SQS BatchSize of the IngestFunction mapping")
    axis.set_ylabel("readings stored per second")
    axis.set_title("Draining a full queue into PostgreSQL, by batch size")
    axis.legend(fontsize=8)
    return _save(figure, path)


def function_latency(results: list[FunctionLatency], path: Path) -> str:
    figure, axis = plt.subplots(figsize=(9, 4))
    x = range(len(results))
    cold = [sum(r.cold_ms) / len(r.cold_ms) if r.cold_ms else 0 for r in results]
    axis.bar([i - 0.27 for i in x], cold, width=0.27, label="cold (mean)")
    axis.bar(
        [i for i in x], [r.warm["p50"] for r in results], width=0.27, label="warm p50"
    )
    axis.bar(
        [i + 0.27 for i in x],
        [r.warm["p99"] for r in results],
        width=0.27,
        label="warm p99",
    )
    axis.set_yscale("log")
    axis.set_ylabel("milliseconds (log)")
    axis.set_xticks(list(x), [r.name.replace(": ", ":\n") for r in results], fontsize=8)
    axis.set_title("Function latency through the local cloud")
    axis.legend(fontsize=8)
    return _save(figure, path)


def api_latency(cases: list[Endpoint], rows: int, path: Path) -> str:
    figure, axis = plt.subplots(figsize=(9, 4))
    x = range(len(cases))
    axis.bar(
        [i - 0.2 for i in x], [c.latency["p50"] for c in cases], width=0.4, label="p50"
    )
    axis.bar(
        [i + 0.2 for i in x], [c.latency["p99"] for c in cases], width=0.4, label="p99"
    )
    for i, case in enumerate(cases):
        if case.target_p99_ms:
            axis.hlines(
                case.target_p99_ms, i - 0.45, i + 0.45, colors="red", linestyles="--"
            )
    axis.set_xticks(list(x), [c.name.split(":")[0] for c in cases], fontsize=8)
    axis.set_ylabel("milliseconds")
    axis.set_title(
        f"API latency through API Gateway at {rows:,} readings "
        "(red dashes: p99 targets)"
    )
    axis.legend(fontsize=8)
    return _save(figure, path)


def deploy_times(figures: dict[str, float], path: Path) -> str:
    figure, axis = plt.subplots(figsize=(7, 3))
    axis.barh(list(figures), list(figures.values()))
    for i, value in enumerate(figures.values()):
        axis.text(value, i, f" {value:.1f} s", va="center", fontsize=8)
    axis.set_xlabel("seconds")
    axis.set_title("Deploy: cold and warm `python -m deploy up`, watch redeploy")
    return _save(figure, path)
