/**
 * One machine: its status, a chart per parameter for a chosen range (15 min to
 * 30 days) with thresholds, and its alert history.
 *
 * Loaded on demand (with uPlot), so the fleet overview does not pay for it.
 * When every chart of a newly chosen range has drawn, the page records a
 * `performance.measure("charts:<range>")` and sets `data-charts-ready`, which
 * the performance script reads.
 */

import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { ApiError } from '../api/client'
import type { Alert, MachineDetail, ParameterInfo } from '../api/types'
import { type ChartData, type TimeRange, RANGES, appendLive, loadChartData, rangeByKey, thresholdsOf } from '../charts/chartData'
import { TimeChart } from '../charts/TimeChart'
import { StatusBadge } from '../components/StatusBadge'
import { formatAge, formatIso, formatValue } from '../format'
import { replaceQuery } from '../router'
import { useNow } from '../state/clock'
import { useDashboard } from '../state/context'
import { AlertTable } from './AlertsPage'

export default function MachinePage({ machineId, query }: { machineId: string; query: URLSearchParams }) {
  const { api, catalog, fleet, alertsVersion } = useDashboard()
  const range = rangeByKey(query.get('range'))
  const [detail, setDetail] = useState<MachineDetail | null>(null)
  const [problem, setProblem] = useState<{ notFound: boolean; message: string } | null>(null)
  const live = fleet.machines[machineId]
  const now = useNow()

  useEffect(() => {
    let cancelled = false
    api
      .machine(machineId)
      .then((body) => !cancelled && (setDetail(body), setProblem(null)))
      .catch((error: unknown) => {
        if (cancelled) return
        const notFound = error instanceof ApiError && error.status === 404
        setProblem({ notFound, message: error instanceof Error ? error.message : String(error) })
      })
    return () => {
      cancelled = true
    }
  }, [api, machineId, alertsVersion])

  const type = live?.type ?? detail?.machine_type
  const parameters: ParameterInfo[] = type ? catalog.parameters(type) : []
  const names = parameters.length
    ? parameters.map((p) => p.name)
    : (live?.parameters.map((p) => p.name) ?? detail?.parameters.map((p) => p.name) ?? [])
  const timing = useRangeTiming(range.key, names)

  if (!live && !detail) {
    if (problem?.notFound) {
      return (
        <section className="placeholder" data-testid="machine-not-found">
          <h2>{machineId}</h2>
          <p>
            No machine <code>{machineId}</code> has reported yet. <a href="#/">Back to the fleet</a>.
          </p>
        </section>
      )
    }
    return (
      <section className="placeholder" aria-busy={!problem}>
        <h2>{machineId}</h2>
        <p>{problem ? `Could not load this machine: ${problem.message}` : 'Loading…'}</p>
      </section>
    )
  }

  const status = live?.status ?? detail!.status
  const lastSeen = live?.lastSeen ?? Date.parse(detail!.last_seen)
  const drivers = (live?.parameters ?? []).filter((p) => p.status !== 'NORMAL')
  const path = `/machines/${encodeURIComponent(machineId)}`

  return (
    <section aria-labelledby="machine-title" data-charts-ready={timing.ready ?? undefined}>
      <div className="toolbar">
        <h2 id="machine-title">
          {machineId} <span className="card-type">{type}</span>
        </h2>
        <StatusBadge status={status} />
        <p className="summary">
          last reading {formatAge(now - lastSeen)}
          {detail && <> · first seen {formatIso(detail.first_seen)}</>}
          {now - lastSeen > fleet.staleAfterMs && <strong className="stale-mark"> · STALE</strong>}
        </p>
      </div>
      {drivers.length > 0 && (
        <ul className="drivers">
          {drivers.map((p) => (
            <li key={p.name} className={`reading-${p.status.toLowerCase()}`}>
              {p.name} is {p.status}: {formatValue(p.value)} {p.unit ?? ''}
            </li>
          ))}
        </ul>
      )}

      <div className="range-picker" role="group" aria-label="Time range">
        {RANGES.map((r) => (
          <button
            key={r.key}
            type="button"
            aria-pressed={r.key === range.key}
            onClick={() => replaceQuery(path, { range: r.key })}
          >
            {r.label}
          </button>
        ))}
      </div>

      <div className="charts">
        {names.map((name) => (
          <ParameterChart
            key={name}
            machineId={machineId}
            parameter={name}
            info={parameters.find((p) => p.name === name)}
            range={range}
            onDrawn={timing.drawn}
          />
        ))}
      </div>

      <MachineAlerts machineId={machineId} />
    </section>
  )
}

/** Marks when a range was chosen and measures until every chart has drawn it. */
function useRangeTiming(rangeKey: string, names: string[]) {
  const [ready, setReady] = useState<string | null>(null)
  const pending = useRef(new Set<string>())
  const key = names.join(',')

  useEffect(() => {
    pending.current = new Set(names)
    setReady(null)
    performance.mark(`charts:${rangeKey}:start`)
    // names is represented by key
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rangeKey, key])

  const drawn = useCallback(
    (parameter: string, drawnRange: string) => {
      if (drawnRange !== rangeKey || !pending.current.delete(parameter)) return
      if (pending.current.size === 0) {
        try {
          performance.measure(`charts:${rangeKey}`, `charts:${rangeKey}:start`)
        } catch {
          // the start mark was cleared by someone else; the attribute still tells
        }
        setReady(rangeKey)
      }
    },
    [rangeKey],
  )
  return { ready, drawn }
}

/** How long a chart waits for a machine's first readings to be stored. */
const NOT_STORED_RETRY_MS = 2000
const NOT_STORED_RETRIES = 30

interface ChartProps {
  machineId: string
  parameter: string
  info: ParameterInfo | undefined
  range: TimeRange
  onDrawn: (parameter: string, range: string) => void
}

function ParameterChart({ machineId, parameter, info, range, onDrawn }: ChartProps) {
  const { api, subscribeReadings } = useDashboard()
  const [loaded, setLoaded] = useState<{ range: string; data: ChartData } | null>(null)
  const [error, setError] = useState<string | null>(null)
  const thresholds = useMemo(() => thresholdsOf(info), [info])

  const [waiting, setWaiting] = useState(false)

  useEffect(() => {
    let cancelled = false
    let retry: number | undefined
    let attempts = 0
    setError(null)
    const load = () => {
      loadChartData(api, machineId, parameter, range, new Date())
        .then((data) => {
          if (cancelled) return
          setWaiting(false)
          setLoaded({ range: range.key, data })
        })
        .catch((e: unknown) => {
          if (cancelled) return
          // A machine seen live over MQTT can be a moment ahead of ingestion:
          // the API knows it once its first readings are stored.
          if (e instanceof ApiError && e.status === 404 && attempts < NOT_STORED_RETRIES) {
            attempts += 1
            setWaiting(true)
            retry = window.setTimeout(load, NOT_STORED_RETRY_MS)
            return
          }
          setWaiting(false)
          setError(e instanceof Error ? e.message : String(e))
        })
    }
    load()
    return () => {
      cancelled = true
      window.clearTimeout(retry)
    }
  }, [api, machineId, parameter, range])

  // Raw ranges follow the live readings of this machine and parameter.
  useEffect(
    () =>
      subscribeReadings((readings) => {
        const points = readings
          .filter((r) => r.machineId === machineId && r.parameter === parameter)
          .map((r) => ({ t: r.ts, v: r.value }))
        if (points.length === 0) return
        setLoaded((current) =>
          current && current.range === range.key
            ? { ...current, data: appendLive(current.data, points, range, Date.now()) }
            : current,
        )
      }),
    [subscribeReadings, machineId, parameter, range],
  )

  const title = `${parameter}${info ? ` (${info.unit})` : ''}`
  if (error) {
    return (
      <figure className="chart">
        <figcaption className="chart-title">{title}</figcaption>
        <p className="banner banner-error" role="alert">
          Could not load {parameter}: {error}
        </p>
      </figure>
    )
  }
  if (!loaded) {
    return (
      <figure className="chart" aria-busy="true">
        <figcaption className="chart-title">{title}</figcaption>
        <p className="chart-empty">
          {waiting ? `Waiting for the first stored readings of ${machineId}…` : `Loading ${range.label}…`}
        </p>
      </figure>
    )
  }
  const drawnRange = loaded.range
  return (
    <TimeChart
      title={title}
      unit={info?.unit ?? null}
      data={loaded.data}
      thresholds={thresholds}
      onDrawn={() => onDrawn(parameter, drawnRange)}
    />
  )
}

function MachineAlerts({ machineId }: { machineId: string }) {
  const { api, alertsVersion } = useDashboard()
  const [alerts, setAlerts] = useState<Alert[] | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    let cancelled = false
    api
      .alerts({ state: 'all', machineId, limit: 100 })
      .then((list) => !cancelled && (setAlerts(list.alerts), setError(null)))
      .catch((e: unknown) => !cancelled && setError(e instanceof Error ? e.message : String(e)))
    return () => {
      cancelled = true
    }
  }, [api, machineId, alertsVersion])

  return (
    <section aria-labelledby="history-title" className="history">
      <h3 id="history-title">Alert history</h3>
      {error && <p className="banner banner-error">Could not load alerts: {error}</p>}
      {alerts === null ? (
        !error && <p className="placeholder">Loading alerts…</p>
      ) : alerts.length === 0 ? (
        <p className="placeholder">No alerts for this machine.</p>
      ) : (
        <AlertTable alerts={alerts} showMachine={false} />
      )}
      <p>
        <a href={`#/alerts?machine=${encodeURIComponent(machineId)}`}>Acknowledge on the alerts page</a>
      </p>
    </section>
  )
}
