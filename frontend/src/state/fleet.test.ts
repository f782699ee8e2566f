import { describe, expect, it } from 'vitest'
import type { Alert } from '../api/types'
import type { LiveReading } from '../live/messages'
import { NOW, catalog, iso, machineList, summary } from '../test/fixtures'
import {
  HISTORY_LIMIT,
  applyReadings,
  applySnapshot,
  criticalItems,
  emptyFleet,
  filterMachines,
  isStale,
  seedHistory,
  sortWorstFirst,
} from './fleet'

function reading(machineId: string, parameter: string, value: number, ts: number, type = 'Drilling'): LiveReading {
  return { machineId, machineType: type, parameter, value, unit: null, ts }
}

const snapshot = machineList([
  summary('drill-001', 'Drilling', { Temperature: 700, CoolantPressure: 40 }),
  summary('drill-002', 'Drilling', { Temperature: 950, CoolantPressure: 40 }),
  summary('lathe-001', 'Lathe', { Temperature: 500, OilPressure: 40 }),
])

describe('applySnapshot', () => {
  it('takes machines, statuses and the stale limit from GET /machines', () => {
    const fleet = applySnapshot(emptyFleet(), machineList(snapshot.machines, 90), catalog)
    expect(Object.keys(fleet.machines)).toEqual(['drill-001', 'drill-002', 'lathe-001'])
    expect(fleet.machines['drill-002']?.status).toBe('WARNING')
    expect(fleet.machines['drill-001']?.parameters.map((p) => p.name)).toEqual(['Temperature', 'CoolantPressure'])
    expect(fleet.staleAfterMs).toBe(90_000)
  })

  it('keeps a live value newer than the snapshot', () => {
    let fleet = applySnapshot(emptyFleet(), snapshot, catalog)
    fleet = applyReadings(fleet, [reading('drill-001', 'Temperature', 1100, NOW + 5000)], catalog)
    fleet = applySnapshot(fleet, snapshot, catalog)
    expect(fleet.machines['drill-001']?.parameters[0]).toMatchObject({ value: 1100, status: 'CRITICAL' })
  })

  it('leaves unchanged machines as the same objects, so their cards do not re-render', () => {
    const first = applySnapshot(emptyFleet(), snapshot, catalog)
    const second = applySnapshot(first, snapshot, catalog)
    expect(second.machines['lathe-001']).toBe(first.machines['lathe-001'])
  })
})

describe('applyReadings', () => {
  const base = applySnapshot(emptyFleet(), snapshot, catalog)

  it('classifies a live value with the catalog: Temperature 1234.5 makes a drill CRITICAL', () => {
    const fleet = applyReadings(base, [reading('drill-001', 'Temperature', 1234.5, NOW + 1000)], catalog)
    expect(fleet.machines['drill-001']).toMatchObject({ status: 'CRITICAL', lastSeen: NOW + 1000 })
    expect(fleet.machines['drill-001']?.parameters[0]).toMatchObject({ criticalSince: NOW + 1000 })
  })

  it('clears the status and the critical time when the value recovers', () => {
    let fleet = applyReadings(base, [reading('drill-001', 'Temperature', 1234.5, NOW + 1000)], catalog)
    fleet = applyReadings(fleet, [reading('drill-001', 'Temperature', 720, NOW + 2000)], catalog)
    expect(fleet.machines['drill-001']?.status).toBe('NORMAL')
    expect(fleet.machines['drill-001']?.parameters[0]?.criticalSince).toBeNull()
  })

  it('keeps the first time a parameter went critical while it stays critical', () => {
    let fleet = applyReadings(base, [reading('drill-001', 'Temperature', 1234.5, NOW + 1000)], catalog)
    fleet = applyReadings(fleet, [reading('drill-001', 'Temperature', 1300, NOW + 2000)], catalog)
    expect(fleet.machines['drill-001']?.parameters[0]?.criticalSince).toBe(NOW + 1000)
  })

  it('adds a machine it has never seen, with the type from the message', () => {
    const fleet = applyReadings(base, [reading('drill-e2e', 'Temperature', 1234.5, NOW, 'Drilling')], catalog)
    expect(fleet.machines['drill-e2e']).toMatchObject({ type: 'Drilling', status: 'CRITICAL' })
  })

  it('ignores a reading older than the one shown', () => {
    const fleet = applyReadings(base, [reading('drill-001', 'Temperature', 1234.5, NOW - 1000)], catalog)
    expect(fleet.machines['drill-001']?.parameters[0]?.value).toBe(700)
  })

  it('keeps the status stored by the API for a parameter the catalog does not know', () => {
    const fleet = applyReadings(base, [reading('drill-001', 'VibrationLevel', 500, NOW + 1000)], catalog)
    expect(fleet.machines['drill-001']?.parameters.map((p) => p.name)).toEqual([
      'Temperature',
      'CoolantPressure',
      'VibrationLevel',
    ])
    expect(fleet.machines['drill-001']?.status).toBe('NORMAL')
  })

  it('keeps at most HISTORY_LIMIT points for the trend line', () => {
    const readings = Array.from({ length: HISTORY_LIMIT + 30 }, (_, i) =>
      reading('drill-001', 'Temperature', 700 + i, NOW + 1000 * (i + 1)),
    )
    const fleet = applyReadings(base, readings, catalog)
    const history = fleet.machines['drill-001']?.parameters[0]?.history ?? []
    expect(history).toHaveLength(HISTORY_LIMIT)
    expect(history[history.length - 1]?.v).toBe(700 + HISTORY_LIMIT + 29)
  })
})

describe('seedHistory', () => {
  it('puts older points from the API in front of the live ones', () => {
    const base = applySnapshot(emptyFleet(), snapshot, catalog)
    const fleet = seedHistory(base, 'drill-001', 'Temperature', [
      { t: NOW - 20_000, v: 690 },
      { t: NOW - 10_000, v: 695 },
      { t: NOW, v: 999 },
    ])
    expect(fleet.machines['drill-001']?.parameters[0]?.history.map((p) => p.v)).toEqual([690, 695, 700])
  })
})

describe('sorting, filtering and staleness', () => {
  const fleet = applyReadings(
    applySnapshot(
      emptyFleet(),
      machineList([
        ...snapshot.machines,
        summary('lathe-002', 'Lathe', { Temperature: 500 }, NOW - 120_000),
        summary('drill-003', 'Drilling', {}, NOW),
      ]),
      catalog,
    ),
    [reading('lathe-001', 'Temperature', 900, NOW + 1, 'Lathe')],
    catalog,
  )
  const machines = Object.values(fleet.machines)

  it('sorts worst first: CRITICAL, WARNING, UNKNOWN, then NORMAL with stale ones first', () => {
    const order = sortWorstFirst(machines, NOW, 60_000).map((m) => m.id)
    expect(order).toEqual(['lathe-001', 'drill-002', 'drill-003', 'lathe-002', 'drill-001'])
  })

  it('marks a machine silent for longer than the limit as stale', () => {
    expect(isStale(fleet.machines['lathe-002']!, NOW, 60_000)).toBe(true)
    expect(isStale(fleet.machines['drill-001']!, NOW, 60_000)).toBe(false)
  })

  it('filters by type and by status, including stale', () => {
    const ids = (filter: Parameters<typeof filterMachines>[1]) =>
      filterMachines(machines, filter, NOW, 60_000).map((m) => m.id).sort()
    expect(ids({ type: 'Lathe', status: 'all' })).toEqual(['lathe-001', 'lathe-002'])
    expect(ids({ type: null, status: 'WARNING' })).toEqual(['drill-002'])
    expect(ids({ type: 'Drilling', status: 'CRITICAL' })).toEqual([])
    expect(ids({ type: null, status: 'stale' })).toEqual(['lathe-002'])
  })
})

describe('criticalItems', () => {
  const alert = (machineId: string, parameter: string, openedAt: number): Alert => ({
    alert_id: 1,
    machine_id: machineId,
    machine_type: 'Drilling',
    parameter,
    unit: '°C',
    severity: 'CRITICAL',
    value: 1100,
    threshold: 1000,
    state: 'open',
    opened_at: iso(openedAt),
    updated_at: iso(openedAt),
    cleared_at: null,
    acknowledged: false,
    acknowledged_at: null,
    acknowledged_by: null,
  })

  it('lists each critical parameter with the time its alert opened', () => {
    const base = applySnapshot(emptyFleet(), snapshot, catalog)
    const fleet = applyReadings(base, [reading('drill-001', 'Temperature', 1234.5, NOW + 1000)], catalog)
    expect(criticalItems(fleet, [alert('drill-001', 'Temperature', NOW - 60_000)])).toEqual([
      {
        machineId: 'drill-001',
        machineType: 'Drilling',
        parameter: 'Temperature',
        value: 1234.5,
        unit: '°C',
        since: NOW - 60_000,
      },
    ])
  })

  it('is empty when nothing is critical, whatever alerts are still open', () => {
    const base = applySnapshot(emptyFleet(), snapshot, catalog)
    expect(criticalItems(base, [alert('drill-001', 'Temperature', NOW)])).toEqual([])
  })
})
