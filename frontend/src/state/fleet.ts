/**
 * The fleet as the dashboard knows it: every machine's latest value per
 * parameter, its status and a short history for the trend line.
 *
 * Two sources feed it: API snapshots (GET /machines, on load and when polling)
 * and live readings from MQTT. Both are merged by timestamp, so an older
 * snapshot never overwrites a newer live value. Updates are immutable and
 * leave untouched machines as the same objects, so React re-renders only the
 * cards whose machine changed. Everything here is pure and tested on its own.
 */

import type { Alert, MachineList, MachineStatus, Status } from '../api/types'
import { Catalog, STATUS_RANK, worstStatus } from '../catalog'
import type { LiveReading } from '../live/messages'

export interface HistoryPoint {
  t: number
  v: number
}

export interface ParameterState {
  name: string
  unit: string | null
  value: number
  status: Status
  /** Time of the reading, ms since the epoch. */
  ts: number
  /** Oldest first, at most HISTORY_LIMIT points within HISTORY_WINDOW_MS. */
  history: HistoryPoint[]
  /** When the parameter became CRITICAL as far as this page saw; else null. */
  criticalSince: number | null
}

export interface MachineState {
  id: string
  type: string
  lastSeen: number
  status: MachineStatus
  parameters: ParameterState[]
}

export interface FleetState {
  machines: Record<string, MachineState>
  staleAfterMs: number
}

export const HISTORY_LIMIT = 120
export const HISTORY_WINDOW_MS = 10 * 60_000
export const DEFAULT_STALE_AFTER_MS = 60_000

export function emptyFleet(): FleetState {
  return { machines: {}, staleAfterMs: DEFAULT_STALE_AFTER_MS }
}

function appendHistory(history: HistoryPoint[], point: HistoryPoint): HistoryPoint[] {
  const last = history[history.length - 1]
  if (last && point.t <= last.t) return history
  const horizon = point.t - HISTORY_WINDOW_MS
  let start = Math.max(0, history.length + 1 - HISTORY_LIMIT)
  while (start < history.length && history[start]!.t < horizon) start += 1
  return [...history.slice(start), point]
}

function orderParameters(
  catalog: Catalog,
  type: string,
  parameters: ParameterState[],
): ParameterState[] {
  const rank = new Map(catalog.parameters(type).map((p, index) => [p.name, index]))
  const key = (p: ParameterState) => rank.get(p.name) ?? rank.size
  return [...parameters].sort((a, b) => key(a) - key(b) || a.name.localeCompare(b.name))
}

function updateParameter(
  previous: ParameterState | undefined,
  name: string,
  value: number,
  unit: string | null,
  status: Status,
  ts: number,
): ParameterState {
  const critical = status === 'CRITICAL'
  return {
    name,
    unit: unit ?? previous?.unit ?? null,
    value,
    status,
    ts,
    history: appendHistory(previous?.history ?? [], { t: ts, v: value }),
    criticalSince: critical ? (previous?.criticalSince ?? ts) : null,
  }
}

function withParameters(
  machine: MachineState,
  parameters: ParameterState[],
  catalog: Catalog,
  lastSeen: number,
): MachineState {
  const ordered = orderParameters(catalog, machine.type, parameters)
  return {
    ...machine,
    parameters: ordered,
    lastSeen: Math.max(machine.lastSeen, lastSeen),
    status: worstStatus(ordered.map((p) => p.status)),
  }
}

/** Merges a GET /machines answer; a value newer than the snapshot's is kept. */
export function applySnapshot(
  state: FleetState,
  list: MachineList,
  catalog: Catalog,
): FleetState {
  const machines = { ...state.machines }
  for (const summary of list.machines) {
    const previous = machines[summary.machine_id]
    const base: MachineState = previous ?? {
      id: summary.machine_id,
      type: summary.machine_type,
      lastSeen: 0,
      status: summary.status,
      parameters: [],
    }
    const byName = new Map(base.parameters.map((p) => [p.name, p]))
    let changed = !previous
    for (const reading of summary.parameters) {
      const ts = Date.parse(reading.ts)
      const known = byName.get(reading.name)
      if (known && known.ts >= ts) continue
      byName.set(
        reading.name,
        updateParameter(known, reading.name, reading.value, reading.unit, reading.status, ts),
      )
      changed = true
    }
    const lastSeen = Date.parse(summary.last_seen)
    if (changed || lastSeen > base.lastSeen) {
      machines[summary.machine_id] = withParameters(base, [...byName.values()], catalog, lastSeen)
    }
  }
  return { machines, staleAfterMs: list.stale_after_seconds * 1000 }
}

/** Applies live readings, classifying each value with the catalog. */
export function applyReadings(
  state: FleetState,
  readings: LiveReading[],
  catalog: Catalog,
): FleetState {
  if (readings.length === 0) return state
  const byMachine = new Map<string, LiveReading[]>()
  for (const reading of readings) {
    const list = byMachine.get(reading.machineId)
    if (list) list.push(reading)
    else byMachine.set(reading.machineId, [reading])
  }

  const machines = { ...state.machines }
  for (const [machineId, list] of byMachine) {
    const base: MachineState = machines[machineId] ?? {
      id: machineId,
      type: list.find((r) => r.machineType)?.machineType ?? 'unknown',
      lastSeen: 0,
      status: 'UNKNOWN',
      parameters: [],
    }
    const byName = new Map(base.parameters.map((p) => [p.name, p]))
    let lastSeen = base.lastSeen
    for (const reading of [...list].sort((a, b) => a.ts - b.ts)) {
      lastSeen = Math.max(lastSeen, reading.ts)
      const known = byName.get(reading.parameter)
      if (known && known.ts >= reading.ts) continue
      const info = catalog.parameter(base.type, reading.parameter)
      const status =
        catalog.classify(base.type, reading.parameter, reading.value) ?? known?.status ?? 'NORMAL'
      byName.set(
        reading.parameter,
        updateParameter(known, reading.parameter, reading.value, reading.unit ?? info?.unit ?? null, status, reading.ts),
      )
    }
    machines[machineId] = withParameters(base, [...byName.values()], catalog, lastSeen)
  }
  return { ...state, machines }
}

/** Puts older points (from the API) in front of a parameter's history. */
export function seedHistory(
  state: FleetState,
  machineId: string,
  parameter: string,
  points: HistoryPoint[],
): FleetState {
  const machine = state.machines[machineId]
  const target = machine?.parameters.find((p) => p.name === parameter)
  if (!machine || !target) return state
  const first = target.history[0]?.t ?? Number.POSITIVE_INFINITY
  const older = points.filter((p) => p.t < first).sort((a, b) => a.t - b.t)
  if (older.length === 0) return state
  const history = [...older, ...target.history].slice(-HISTORY_LIMIT)
  const parameters = machine.parameters.map((p) => (p === target ? { ...p, history } : p))
  return { ...state, machines: { ...state.machines, [machineId]: { ...machine, parameters } } }
}

export function isStale(machine: MachineState, now: number, staleAfterMs: number): boolean {
  return now - machine.lastSeen > staleAfterMs
}

export type StatusFilter = 'all' | MachineStatus | 'stale'

export interface FleetFilter {
  type: string | null
  status: StatusFilter
}

/** Worst first: CRITICAL, WARNING, UNKNOWN, NORMAL; then stale ones; then by id. */
export function sortWorstFirst(
  machines: MachineState[],
  now: number,
  staleAfterMs: number,
): MachineState[] {
  return [...machines].sort(
    (a, b) =>
      STATUS_RANK[b.status] - STATUS_RANK[a.status] ||
      Number(isStale(b, now, staleAfterMs)) - Number(isStale(a, now, staleAfterMs)) ||
      a.id.localeCompare(b.id, undefined, { numeric: true }),
  )
}

export function filterMachines(
  machines: MachineState[],
  filter: FleetFilter,
  now: number,
  staleAfterMs: number,
): MachineState[] {
  return machines.filter((m) => {
    if (filter.type && m.type !== filter.type) return false
    if (filter.status === 'all') return true
    if (filter.status === 'stale') return isStale(m, now, staleAfterMs)
    return m.status === filter.status
  })
}

export interface CriticalItem {
  machineId: string
  machineType: string
  parameter: string
  value: number
  unit: string | null
  /** ms since the epoch: the open alert's start, or when this page saw it go critical. */
  since: number
}

/** What the red alert box lists: every CRITICAL parameter of every machine. */
export function criticalItems(state: FleetState, openAlerts: Alert[]): CriticalItem[] {
  const opened = new Map<string, number>()
  for (const alert of openAlerts) {
    if (alert.state === 'open') {
      opened.set(`${alert.machine_id}\u0000${alert.parameter}`, Date.parse(alert.opened_at))
    }
  }
  const items: CriticalItem[] = []
  for (const machine of Object.values(state.machines)) {
    if (machine.status !== 'CRITICAL') continue
    for (const p of machine.parameters) {
      if (p.status !== 'CRITICAL') continue
      const alertSince = opened.get(`${machine.id}\u0000${p.name}`)
      const seen = p.criticalSince ?? p.ts
      items.push({
        machineId: machine.id,
        machineType: machine.type,
        parameter: p.name,
        value: p.value,
        unit: p.unit,
        since: alertSince !== undefined ? Math.min(alertSince, seen) : seen,
      })
    }
  }
  return items.sort((a, b) => a.since - b.since || a.machineId.localeCompare(b.machineId))
}
