"""The Markdown report and the summary table printed at the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchsuite.dashboard import CHART_MACHINE, startup_requests
from benchsuite.ingest import IngestRun
from benchsuite.results import Results


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "n/a (quick run)"}[met]


def summary_text(results: Results) -> str:
    rows = [(m, r, t, verdict(ok)) for m, r, t, ok in results.verdicts()]
    return table(("measure", "result", "target", "verdict"), rows)


def _figure(results: Results, key: str, caption: str) -> str:
    name = results.figures.get(key)
    if not name:
        return ""
    return f"![{caption.split('.')[0]}]({name})\n\n*{caption}*\n"


def _run_rows(runs: list[IngestRun]) -> list[list[Any]]:
    rows = []
    for run in runs:
        acc = run.accounting
        rows.append(
            [
                run.name,
                f"{run.summary['publish_seconds']:.1f}",
                run.published_per_second,
                run.stored_per_second,
                f"{run.store_seconds:.1f}",
                run.latency.get("p50", float("nan")),
                run.latency.get("p95", float("nan")),
                run.latency.get("p99", float("nan")),
                run.latency.get("max", float("nan")),
                acc.sent,
                acc.stored,
                acc.lost,
                acc.duplicated,
                acc.unexpected,
                len(acc.timestamp_mismatches),
            ]
        )
    return rows


def _cpu_rows(runs: list[IngestRun]) -> tuple[list[str], list[list[Any]]]:
    components = sorted({c for run in runs for c in run.cpu.seconds})
    rows = []
    for run in runs:
        per = run.cpu.per_reading_us(run.accounting.stored)
        stack_cpu = sum(run.cpu.seconds.values())
        rows.append(
            [
                run.name,
                *[per.get(c, 0.0) for c in components],
                sum(per.values()),
                2e6 / sum(per.values()) if per else 0.0,
                f"{stack_cpu:.1f} of {run.cpu.machine_busy:.1f}",
                f"{run.cpu.wall:.0f}",
            ]
        )
    header = [
        "run",
        *[f"{c} µs" for c in components],
        "total µs",
        "2-core ceiling /s",
        "stack CPU s of machine busy CPU s",
        "wall s",
    ]
    return header, rows


def ingest_section(results: Results) -> str:
    runs = list(results.runs) + ([results.baseline] if results.baseline else [])
    s = results.settings
    parts = [
        "## 1. End-to-end ingest\n",
        "**How.** The stack's own simulator is stopped and the telemetry tables "
        "emptied before each run. Then `python -m simulator --load N --duration "
        f"{s.ingest_seconds:g} --machines {s.machines}` (its own process, QoS 1, "
        "100 messages in flight, user `simulator`) publishes as fast as Mosquitto "
        "acknowledges, for the duration shown, one reading per message or "
        "`--batch` (all 5 parameters of a machine in one message). The path is "
        "the deployed one: Mosquitto, the IoT rule, SQS, the IngestFunction "
        "mapping (deployed with `STACK_PARAMETERS="
        f"{s.stack_parameters}`), PostgreSQL. The benchmark waits until every "
        "reading the simulator reports as sent is stored (or the count stops "
        "growing for 30 s), then reads the table.\n",
        "- **stored/s**: rows stored / seconds between the first and the last "
        "commit of the run (PostgreSQL commit timestamps; "
        "`track_commit_timestamp` is turned on by the benchmark through "
        "RebootDBInstance). Ramp-up and tail included.\n"
        "- **published/s**: readings the simulator had acknowledged / its "
        "publishing seconds.\n"
        "- **latency** (publish to queryable): for every stored reading, its "
        "commit time minus its `ts`, which the simulator takes from the clock "
        "right before handing the message to paho. Committed is queryable: the "
        "API reads the same table. One host, one clock; all readings, no sample. "
        "*broker* is `received_at - ts` (the rules engine's `timestamp()`), "
        "*queue+function* is commit minus `received_at`.\n"
        "- **lost / twice / unexpected**: exact accounting against the "
        "simulator's summary: per machine, every sequence number between the "
        "first and last it sent must have exactly k rows with k distinct "
        "parameters (k = 1, or 5 for batch messages); missing rows are lost, a "
        "second row of the same reading is stored twice, rows of sequences never "
        "sent are unexpected; the first and last timestamps per machine must "
        "match too (ts mismatches).\n"
        "- **baseline**: `benchsuite/baseline.py` in its own process: one paho "
        "subscriber (QoS 1, user `rules-engine`) that INSERTs and COMMITs each "
        "message into a table with the readings columns and key, in the same "
        "PostgreSQL (same server settings: `synchronous_commit=off`, set by the "
        "local cloud). The IoT rule is disabled meanwhile. It gets a fixed count "
        f"({s.baseline_messages:,} messages), since a slower consumer only lets "
        "the broker's queue grow.\n",
        table(
            [
                "run",
                "publish s",
                "published/s",
                "stored/s",
                "store window s",
                "p50 s",
                "p95 s",
                "p99 s",
                "max s",
                "sent",
                "stored",
                "lost",
                "twice",
                "unexpected",
                "ts mismatches",
            ],
            _run_rows(runs),
        ),
        "",
    ]
    stage_rows = [
        [run.name, *[run.broker_latency.get(k, float("nan")) for k in _STAGES]]
        for run in results.runs
        if run.broker_latency
    ]
    if stage_rows:
        parts += [
            "\nWhere the latency is spent (seconds):\n",
            table(["run", *_STAGES], stage_rows),
            "",
        ]
    single = results.run("one reading per message")
    if single and results.baseline and results.baseline.stored_per_second:
        ratio = single.stored_per_second / results.baseline.stored_per_second
        parts.append(
            f"\nRatio to the baseline, one reading per message: **{ratio:.1f}x** "
            f"({single.stored_per_second:,.0f} against "
            f"{results.baseline.stored_per_second:,.0f} readings/s).\n"
        )
    parts.append(
        _figure(
            results,
            "timeline",
            "Per second of each run: readings published (counted by their own "
            "timestamp), readings stored (by commit time), and the p99 latency "
            "of the readings committed in that second.",
        )
    )
    parts.append(
        _figure(
            results,
            "throughput",
            "Published and stored readings per second per run, with the issue's "
            "targets (10,000/s one reading per message, 30,000/s batch).",
        )
    )
    header, rows = _cpu_rows(
        runs + ([results.profile_run] if results.profile_run else [])
    )
    parts += [
        "\n### What bounds it: CPU per reading\n",
        "CPU seconds (user + system, from /proc via psutil, and the kernel's "
        "rusage for the simulator) of each component during the run, divided by "
        "the readings stored. *local cloud* is the one Python process of the "
        "edge, the IoT rules engine, SQS and its poller and the Lambda Runtime "
        "API; *Lambda workers* are the IngestFunction processes; the ceiling is "
        "what two fully free cores could sustain at that cost. *Machine busy* is "
        "the CPU used by every process on the machine meanwhile (other work "
        "included).\n",
        table(header, rows),
        "",
        _figure(
            results,
            "cpu",
            "CPU microseconds per stored reading, by component (user + system).",
        ),
    ]
    if results.profile:
        parts.append(profile_section(results))
    return "\n".join(parts)


_STAGES = ["broker p50", "broker p99", "queue+function p50", "queue+function p99"]


def profile_section(results: Results) -> str:
    profile = results.profile
    assert profile is not None
    if not profile.samples:
        return f"\npy-spy took no samples: {profile.error}\n"
    rows = [
        [name, count, f"{100 * count / profile.samples:.1f}%"]
        for name, count in profile.top_functions
    ]
    return "\n".join(
        [
            "\n### Profile (py-spy)\n",
            f"A separate {results.settings.profile_seconds} s run, one reading per "
            "message, with `py-spy record --nonblocking --rate 100` attached to "
            "the local cloud process and to each warm IngestFunction worker "
            f"({profile.samples:,} samples; raw stacks in "
            f"`{profile.raw_path.name if profile.raw_path else ''}`). "
            "Hottest leaf functions, where the CPU time went (threads waiting in "
            "select, Condition.wait or socket reads are left out: "
            f"{100 * profile.idle / profile.samples:.0f}% of the samples):\n",
            table(["function", "samples", "share"], rows),
            "\nSamples by process: "
            + ", ".join(f"{k} {v:,}" for k, v in profile.by_process.items())
            + "\n",
        ]
    )


def functions_section(results: Results) -> str:
    s = results.settings
    parts = [
        "## 2. Functions\n",
        "**How.** Cold: `UpdateFunctionConfiguration` adds an environment "
        "variable, which retires the warm workers like a configuration change on "
        "AWS; the next call starts a new worker (process, runtime client, "
        "imports, first DB connection) and is timed from the client. "
        f"{s.cold_starts} cold starts per case. Warm: {s.warm_invokes} sequential "
        "calls after 20 untimed ones, from this process with boto3 (retries off) "
        "or one keep-alive HTTP connection through API Gateway (path-style URL). "
        "The deployed configuration is restored afterwards.\n",
        table(
            [
                "case",
                "cold ms (each)",
                "warm p50 ms",
                "warm p95 ms",
                "warm p99 ms",
                "warm max ms",
            ],
            [
                [
                    r.name,
                    ", ".join(f"{v:.0f}" for v in r.cold_ms),
                    r.warm.get("p50", 0.0),
                    r.warm.get("p95", 0.0),
                    r.warm.get("p99", 0.0),
                    r.warm.get("max", 0.0),
                ]
                for r in results.functions
            ],
        ),
        "",
        _figure(
            results,
            "functions",
            "Cold start (mean of the cold calls) and warm p50/p99 per case, log scale.",
        ),
        "\n### SQS batch size against throughput\n",
        "**How.** For each point: mapping disabled, "
        f"{s.sweep_messages:,} one-reading messages published by the simulator "
        "through the IoT rule into the queue, then the mapping enabled with that "
        "BatchSize (window 1 s) and the drain timed from the first to the last "
        "commit in PostgreSQL (every reading checked stored). The real "
        "IngestFunction does the work (validation, COPY, rollups, latest values, "
        "alerts).\n",
        table(
            [
                "BatchSize",
                "MaximumConcurrency",
                "readings",
                "stored/s",
                "enable to all stored s",
            ],
            [
                [
                    p.batch_size,
                    p.concurrency,
                    p.messages,
                    p.stored_per_second,
                    p.drain_seconds,
                ]
                for p in results.sweep
            ],
        ),
        "",
        _figure(
            results,
            "sweep",
            "Readings stored per second while draining a full queue, by the "
            "mapping's BatchSize.",
        ),
    ]
    return "\n".join(parts)


def api_section(results: Results) -> str:
    data = results.api_data
    if data is None:
        return "## 3. API at scale\n\nNot measured (see errors).\n"
    full = data.rows >= 10_000_000
    scale_note = (
        ""
        if full
        else f" **Quick run: {data.rows:,} readings, not 10 million**; "
        "`make bench FULL=1` loads 10 million."
    )
    parts = [
        "## 3. API at scale\n",
        f"**How.** {data.rows:,} readings ({len(data.machines)} machines, "
        f"30 days to now, every parameter at each tick, ticks staggered between "
        "machines, rows in time order like ingestion appends them) loaded with "
        "COPY; rollups_minute, latest_readings and machines derived with SQL from "
        "them; VACUUM ANALYZE."
        + scale_note
        + " Then sequential GETs on one keep-alive connection through API Gateway "
        f"(the deployed API, path-style URL), {results.settings.api_requests} per "
        "endpoint after 20 untimed, each with a random machine and parameter "
        "(and a random hour for raw readings).\n",
        table(["step", "seconds"], [[k, v] for k, v in data.seconds.items()]),
        f"\nreadings table with its index: {data.table_size}.\n",
        table(
            ["endpoint", "p50 ms", "p95 ms", "p99 ms", "max ms", "p99 target ms"],
            [
                [
                    c.name,
                    c.latency.get("p50", 0.0),
                    c.latency.get("p95", 0.0),
                    c.latency.get("p99", 0.0),
                    c.latency.get("max", 0.0),
                    c.target_p99_ms or "",
                ]
                for c in results.api
            ],
        ),
        "",
        _figure(
            results,
            "api",
            "p50 and p99 latency per endpoint through API Gateway (client-side, "
            "keep-alive), with the p99 targets.",
        ),
        "\n### Query plans\n",
        "The SQL of `functions/api/chalicelib/queries.py`, called with what the "
        "API passes for each endpoint, run as EXPLAIN (ANALYZE, BUFFERS):\n",
    ]
    for case in results.api:
        parts += [f"**{case.name}**\n", "```", case.plan, "```\n"]
    return "\n".join(parts)


def deploy_section(results: Results) -> str:
    rows = [[k, v] for k, v in results.deploy.items()]
    if results.watch:
        rows += [
            ["watch: file written -> new CodeSha256", results.watch.code_updated],
            ["watch: file written -> answered through API Gateway", results.watch.live],
        ]
    return "\n".join(
        [
            "## 4. Deploy\n",
            "**How.** Cold: `python -m deploy up` (DASHBOARD=0) into a fresh "
            "temporary state folder on free ports: supervisord, Mosquitto, the "
            "local cloud, the build of every function and the layer, the "
            "CloudFormation stack, migrations, the simulator, until the first "
            "readings are queryable through the API. pip's wheel cache and the "
            "local cloud's runtime cache (~/.cache) are warm, as on any machine "
            "after its first run. Warm: the same command again, nothing changed. "
            "Watch: `python -m deploy watch` running, a probe file written under "
            "functions/api/ (removed afterwards), polling GetFunction every 20 ms "
            "for the new CodeSha256, then GET /health through API Gateway until it "
            "answers (that first answer is a new worker's cold start).\n",
            table(["step", "seconds"], rows),
            "",
            _figure(results, "deploy", "Wall time of each deploy step."),
        ]
    )


def dashboard_section(results: Results) -> str:
    result = results.dashboard
    if result is None:
        return "## 5. Dashboard\n\nNot measured (see errors).\n"
    s = result.settings
    parts = [
        "## 5. Dashboard\n",
        "**How.** The stack is deployed again with the dashboard (DASHBOARD=1: "
        "`npm run build`, upload to the website bucket). *Initial JavaScript* is "
        "what `dist/index.html` loads before the app runs (entry script, "
        "modulepreload links and their static imports), gzip -9; lazy chunks "
        "(machine page with uPlot, MQTT client, Swagger UI) are listed apart. "
        f"The stack's simulator is stopped; one machine ({CHART_MACHINE[0]}) gets "
        f"30 days of readings, one tick a minute ({result.month_rows:,} rows, "
        f"COPY, {result.month_seconds:.1f} s, rollups derived); then "
        f"`python -m simulator --machines {s.machines} --rate 1` publishes every "
        "parameter of every machine once a second while Debian's Chromium "
        "(headless, Playwright) measures with the page's own clock: "
        f"{s.overview_loads} cold overview loads (fresh context each, after one "
        "untimed), navigation start to every card in the DOM and the next frame; "
        f"{s.chart_loads} clicks on *30 days* (from *24 h*), the click's event "
        "time to every chart's uPlot draw; then "
        f"{s.responsive_seconds:g} s on the overview under the live load: long "
        "tasks (PerformanceObserver), requestAnimationFrame intervals, a key "
        "press on the status filter every 2 s to the end of the next frame, and "
        "a `page.evaluate` round trip every 0.5 s; then, the fleet still "
        f"publishing, {s.live_publishes} fresh drills each get Temperature "
        "1234.5 °C published with paho (QoS 1, the simulator's user), timed to "
        "their item in the red alert box, then a normal Temperature, timed to "
        "the value on their card: from just before `publish()` (Python's "
        "`time.time()`) to the page's `Date.now()` when a MutationObserver "
        "sees the element visible, and to the end of the next frame (the "
        "figure); both read the same host's wall clock. The machine's other "
        "work (the stack ingesting, the simulator) runs meanwhile on the same "
        "2 cores.\n",
        table(
            ["figure", "target", "measured", "met"],
            [
                [f, t, m, verdict(ok) if ok is not None else "(informative)"]
                for f, t, m, ok in result.rows()
            ],
        ),
        "",
    ]
    if result.bundle:
        parts += [
            "\nJavaScript of the build:\n",
            table(
                ["file", "loaded", "raw KB", "gzip KB"],
                [
                    [f.path, f.how, f.raw / 1024, f.gzip / 1024]
                    for f in result.bundle.initial + result.bundle.lazy
                ],
            ),
            "",
        ]
    if result.live:
        parts += [
            "\nPublish to screen, each reading (ms; link modes seen: "
            + " -> ".join(str(m) for m in result.live["modes"])
            + "):\n",
            table(
                ["drill", "alert box item", "painted", "card value", "painted"],
                [
                    [
                        sample["machine_id"],
                        *(
                            "-" if sample[k][e] is None else f"{sample[k][e]:.0f}"
                            for k in ("alert", "card")
                            for e in ("shown", "painted")
                        ),
                    ]
                    for sample in result.live["samples"]
                ],
            ),
            "",
        ]
    if result.overview:
        parts += [
            "\nCold overview loads (ms from navigation start):\n",
            table(
                [
                    "response end",
                    "first contentful paint",
                    "config, parameters, machines answered",
                    "cards in DOM",
                    "painted",
                ],
                [
                    [
                        run["responseEnd"],
                        run["firstContentfulPaint"] or 0.0,
                        ", ".join(f"{t:.0f}" for t in startup_requests(run)),
                        run["cardsInDom"],
                        run["cardsPainted"],
                    ]
                    for run in result.overview
                ],
            ),
            "",
        ]
    return "\n".join(parts)
