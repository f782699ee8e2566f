"""What one benchmark run found, and the verdicts against the issue's targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchsuite.api import Endpoint, LoadedData
from benchsuite.cpu import Profile
from benchsuite.dashboard import DashboardResult, DashboardSettings
from benchsuite.deploytimes import WatchTiming
from benchsuite.functions import BatchPoint, FunctionLatency
from benchsuite.ingest import IngestRun


@dataclass(frozen=True)
class Settings:
    """Sizes of a quick (`make bench`) or full (`make bench FULL=1`) run."""

    name: str
    ingest_seconds: float
    machines: int
    baseline_messages: int
    profile_seconds: int
    cold_starts: int
    warm_invokes: int
    sweep_sizes: tuple[int, ...]
    sweep_concurrency: tuple[int, ...]
    sweep_messages: int
    api_rows: int
    api_requests: int
    # Template parameters the stack is deployed with (STACK_PARAMETERS): the
    # mapping tuned after the batch-size sweep (larger batches, same window
    # and concurrency as the template's defaults).
    stack_parameters: str = (
        "IngestBatchSize=1000,IngestBatchWindowSeconds=1,IngestMaximumConcurrency=5"
    )
    # The dashboard step: cold overview loads and 30-day chart clicks measured,
    # the seconds of live load (50 machines publishing) watched, and the
    # readings timed from publish to screen (each kind: critical, normal).
    dashboard_loads: int = 3
    dashboard_seconds: float = 20
    dashboard_publishes: int = 10

    @property
    def dashboard(self) -> DashboardSettings:
        return DashboardSettings(
            overview_loads=self.dashboard_loads,
            chart_loads=self.dashboard_loads,
            responsive_seconds=self.dashboard_seconds,
            live_publishes=self.dashboard_publishes,
        )

    @property
    def mapping(self) -> tuple[int, int, int]:
        values = dict(item.split("=") for item in self.stack_parameters.split(","))
        return (
            int(values["IngestBatchSize"]),
            int(values["IngestBatchWindowSeconds"]),
            int(values["IngestMaximumConcurrency"]),
        )


QUICK = Settings(
    name="quick",
    ingest_seconds=15,
    machines=10,
    baseline_messages=12_000,
    profile_seconds=8,
    cold_starts=3,
    warm_invokes=200,
    sweep_sizes=(10, 100, 1000),
    sweep_concurrency=(5,),
    sweep_messages=10_000,
    api_rows=1_000_000,
    api_requests=200,
)

FULL = Settings(
    name="full",
    ingest_seconds=60,
    machines=10,
    baseline_messages=120_000,
    profile_seconds=20,
    cold_starts=10,
    warm_invokes=1000,
    sweep_sizes=(10, 50, 100, 500, 1000, 2500, 5000),
    sweep_concurrency=(2, 5),
    sweep_messages=50_000,
    api_rows=10_000_000,
    api_requests=1000,
    dashboard_loads=10,
    dashboard_seconds=60,
    dashboard_publishes=20,
)


@dataclass
class Results:
    settings: Settings
    machine: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    total_seconds: float = 0.0
    deploy: dict[str, float] = field(default_factory=dict)
    watch: WatchTiming | None = None
    runs: list[IngestRun] = field(default_factory=list)
    baseline: IngestRun | None = None
    profile: Profile | None = None
    profile_run: IngestRun | None = None
    functions: list[FunctionLatency] = field(default_factory=list)
    sweep: list[BatchPoint] = field(default_factory=list)
    api_data: LoadedData | None = None
    api: list[Endpoint] = field(default_factory=list)
    dashboard: DashboardResult | None = None
    errors: dict[str, str] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)

    def run(self, name: str) -> IngestRun | None:
        return next((r for r in self.runs if r.name == name), None)

    def verdicts(self) -> list[tuple[str, str, str, bool | None]]:
        """(measure, result, target, met) rows of the summary table."""
        rows: list[tuple[str, str, str, bool | None]] = []
        single, batch = self.run("one reading per message"), self.run("batch messages")
        window = self.settings.ingest_seconds
        for run, target in ((single, 10_000), (batch, 30_000)):
            if run is None:
                continue
            rows.append(
                (
                    f"{run.name}: stored/s (publishing {window:g} s)",
                    f"{run.stored_per_second:,.0f} over {run.store_seconds:.0f} s",
                    f">= {target:,} for 60 s",
                    _sustained(run.stored_per_second, target, run.store_seconds),
                )
            )
            p99 = run.latency.get("p99")
            rows.append(
                (
                    f"{run.name}: publish-to-queryable p99",
                    f"{p99:.2f} s" if p99 is not None else "n/a",
                    "<= 2 s",
                    p99 is not None and p99 <= 2,
                )
            )
            rows.append(
                (
                    f"{run.name}: lost / stored twice",
                    f"{run.accounting.lost} / {run.accounting.duplicated}"
                    f" of {run.accounting.sent:,}",
                    "0 / 0",
                    run.accounting.exact,
                )
            )
        if single and self.baseline and self.baseline.stored_per_second:
            ratio = single.stored_per_second / self.baseline.stored_per_second
            rows.append(
                (
                    "ratio to the per-message baseline",
                    f"{ratio:.1f}x ({self.baseline.stored_per_second:,.0f}/s baseline)",
                    ">= 5x",
                    ratio >= 5,
                )
            )
        rows_label = f"{self.api_data.rows:,}" if self.api_data else "?"
        for case in self.api:
            if case.target_p99_ms and case.latency:
                at_scale = (
                    self.api_data is not None and self.api_data.rows >= 10_000_000
                )
                rows.append(
                    (
                        f"API {case.name.split(':')[0]} p99 ({rows_label} readings)",
                        f"{case.latency['p99']:.1f} ms",
                        f"<= {case.target_p99_ms:g} ms at 10M",
                        (case.latency["p99"] <= case.target_p99_ms)
                        if at_scale
                        else None,
                    )
                )
        limits = {"cold deploy": 240.0, "warm deploy": 15.0}
        for name, seconds in self.deploy.items():
            rows.append(
                (
                    name,
                    f"{seconds:.1f} s",
                    f"<= {limits[name]:g} s",
                    seconds <= limits[name],
                )
            )
        if self.watch:
            rows.append(
                (
                    "watch: changed function live",
                    f"{self.watch.live:.2f} s",
                    "<= 2 s",
                    self.watch.live <= 2,
                )
            )
        if self.dashboard:
            rows += [
                (f"dashboard: {figure}", measured, target, met)
                for figure, target, measured, met in self.dashboard.rows()
                if met is not None  # informative figures stay in their section
            ]
        return rows


def _sustained(rate: float, target: float, seconds: float) -> bool | None:
    """Missed if slower; met only if the window lasted 60 s (a quick run's
    shorter window cannot show that it is sustained: None)."""
    if rate < target:
        return False
    return True if seconds >= 60 else None
