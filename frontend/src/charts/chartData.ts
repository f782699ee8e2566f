/**
 * What a machine chart shows for a time range, and where it comes from.
 *
 * Short ranges (up to 15 minutes, at most ~900 readings at one per second)
 * use raw readings; longer ones use GET /series with interval=auto, which the
 * API sizes to at most 2,000 buckets (from the per-minute rollups from one
 * minute up), so no chart ever holds more than about 2,000 points. A short
 * range that holds more readings than that (a fast publisher) falls back to
 * the series endpoint as well.
 */

import type { ApiClient } from '../api/client'
import type { ParameterInfo, ReadingsPage, Series } from '../api/types'

export interface TimeRange {
  key: string
  label: string
  ms: number
}

export const RANGES: TimeRange[] = [
  { key: '15m', label: '15 min', ms: 15 * 60_000 },
  { key: '1h', label: '1 h', ms: 60 * 60_000 },
  { key: '6h', label: '6 h', ms: 6 * 3600_000 },
  { key: '24h', label: '24 h', ms: 24 * 3600_000 },
  { key: '7d', label: '7 days', ms: 7 * 86_400_000 },
  { key: '30d', label: '30 days', ms: 30 * 86_400_000 },
]

export const RAW_RANGE_LIMIT_MS = 15 * 60_000
export const MAX_POINTS = 2000

export function rangeByKey(key: string | null): TimeRange {
  return RANGES.find((r) => r.key === key) ?? RANGES[1]!
}

/** Columns for uPlot: x in seconds; avg (or the raw value), then min and max. */
export interface ChartData {
  kind: 'raw' | 'series'
  x: number[]
  y: number[]
  min: number[]
  max: number[]
  /** For people: "raw readings" or "5m buckets (rollups_minute)". */
  source: string
  /** The time window shown, in seconds [from, to]: the whole chosen range, even
   * where it holds no readings (one reading alone would otherwise span years). */
  span: [number, number]
}

export function fromReadings(page: ReadingsPage, span: [number, number]): ChartData {
  const x = page.readings.map((r) => Date.parse(r.ts) / 1000)
  const y = page.readings.map((r) => r.value)
  return { kind: 'raw', x, y, min: [], max: [], source: 'raw readings', span }
}

export function fromSeries(series: Series, span: [number, number]): ChartData {
  return {
    span,
    kind: 'series',
    x: series.points.map((p) => Date.parse(p.ts) / 1000),
    y: series.points.map((p) => p.avg),
    min: series.points.map((p) => p.min),
    max: series.points.map((p) => p.max),
    source: `${series.interval} buckets (min/avg/max)`,
  }
}

export async function loadChartData(
  api: ApiClient,
  machineId: string,
  parameter: string,
  range: TimeRange,
  now: Date,
): Promise<ChartData> {
  const from = new Date(now.getTime() - range.ms)
  const span: [number, number] = [from.getTime() / 1000, now.getTime() / 1000]
  if (range.ms <= RAW_RANGE_LIMIT_MS) {
    const page = await api.readings(machineId, { parameter, from, to: now, limit: MAX_POINTS })
    if (page.next_token === null) return fromReadings(page, span)
  }
  return fromSeries(await api.series(machineId, { parameter, from, to: now, interval: 'auto' }), span)
}

/** Appends live values to a raw chart, dropping what fell out of the range. */
export function appendLive(
  data: ChartData,
  points: { t: number; v: number }[],
  range: TimeRange,
  nowMs: number,
): ChartData {
  if (data.kind !== 'raw' || points.length === 0) return data
  const last = data.x[data.x.length - 1] ?? Number.NEGATIVE_INFINITY
  const fresh = points.filter((p) => p.t / 1000 > last).sort((a, b) => a.t - b.t)
  if (fresh.length === 0) return data
  const horizon = (nowMs - range.ms) / 1000
  let start = 0
  while (start < data.x.length && data.x[start]! < horizon) start += 1
  const x = [...data.x.slice(start), ...fresh.map((p) => p.t / 1000)]
  const y = [...data.y.slice(start), ...fresh.map((p) => p.v)]
  const excess = Math.max(0, x.length - MAX_POINTS)
  const span: [number, number] = [horizon, Math.max(nowMs / 1000, x[x.length - 1]!)]
  return { ...data, x: x.slice(excess), y: y.slice(excess), span }
}

export interface Threshold {
  value: number
  level: 'warning' | 'critical'
  label: string
}

export function thresholdsOf(parameter: ParameterInfo | undefined): Threshold[] {
  if (!parameter) return []
  const list: Threshold[] = []
  const add = (value: number | null, level: Threshold['level'], side: string) => {
    if (value !== null) list.push({ value, level, label: `${level} ${side} ${value}` })
  }
  add(parameter.critical_high, 'critical', '>')
  add(parameter.warning_high, 'warning', '>')
  add(parameter.warning_low, 'warning', '<')
  add(parameter.critical_low, 'critical', '<')
  return list
}

/** The y range: the data columns and every threshold, with a little room. */
export function yRange(
  columns: ArrayLike<number | null | undefined>[],
  thresholds: Threshold[],
): [number, number] {
  let low = Number.POSITIVE_INFINITY
  let high = Number.NEGATIVE_INFINITY
  const take = (values: ArrayLike<number | null | undefined>) => {
    for (let i = 0; i < values.length; i += 1) {
      const v = values[i]
      if (v === null || v === undefined || !Number.isFinite(v)) continue
      if (v < low) low = v
      if (v > high) high = v
    }
  }
  for (const column of columns) take(column)
  take(thresholds.map((t) => t.value))
  if (!Number.isFinite(low)) return [0, 1]
  const pad = (high - low) * 0.06 || Math.abs(high) * 0.05 || 1
  return [low - pad, high + pad]
}
