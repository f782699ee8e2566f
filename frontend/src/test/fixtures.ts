/** Shared test data: a catalog shaped like GET /parameters and fleet builders. */

import type { MachineList, MachineSummary, ParameterCatalog, ParameterInfo } from '../api/types'
import { Catalog } from '../catalog'

function parameter(name: string, unit: string, extra: Partial<ParameterInfo>): ParameterInfo {
  return {
    name,
    unit,
    description: '',
    normal_min: 0,
    normal_max: 1,
    warning_low: null,
    warning_high: null,
    critical_low: null,
    critical_high: null,
    ...extra,
  }
}

export const CATALOG_BODY: ParameterCatalog = {
  machine_types: [
    {
      name: 'Drilling',
      id_prefix: 'drill',
      description: 'CNC drilling machine',
      parameters: [
        parameter('Temperature', '°C', { normal_min: 600, normal_max: 850, warning_high: 900, critical_high: 1000 }),
        parameter('CoolantPressure', 'bar', { normal_min: 20, normal_max: 70, warning_low: 15, critical_low: 10 }),
      ],
    },
    {
      name: 'Lathe',
      id_prefix: 'lathe',
      description: 'CNC turning lathe',
      parameters: [
        parameter('Temperature', '°C', { normal_min: 300, normal_max: 650, warning_high: 700, critical_high: 800 }),
        parameter('OilPressure', 'bar', {
          normal_min: 30, normal_max: 50, warning_low: 25, critical_low: 20, warning_high: 55, critical_high: 60,
        }),
      ],
    },
  ],
}

export const catalog = new Catalog(CATALOG_BODY)

export const NOW = Date.parse('2026-12-03T20:00:00.000Z')

export function iso(ms: number): string {
  return new Date(ms).toISOString()
}

export function summary(
  id: string,
  type: string,
  values: Record<string, number>,
  ts: number = NOW,
): MachineSummary {
  const parameters = Object.entries(values).map(([name, value]) => {
    const status = catalog.classify(type, name, value) ?? 'NORMAL'
    return { name, value, unit: catalog.parameter(type, name)?.unit ?? null, status, ts: iso(ts) }
  })
  const rank = { NORMAL: 0, WARNING: 1, CRITICAL: 2 }
  const worst = parameters.reduce<'NORMAL' | 'WARNING' | 'CRITICAL'>(
    (w, p) => (rank[p.status] > rank[w] ? p.status : w),
    'NORMAL',
  )
  return {
    machine_id: id,
    machine_type: type,
    status: parameters.length ? worst : 'UNKNOWN',
    last_seen: iso(ts),
    stale: false,
    parameters,
  }
}

export function machineList(machines: MachineSummary[], staleAfterSeconds = 60): MachineList {
  return {
    machines,
    count: machines.length,
    stale_after_seconds: staleAfterSeconds,
    generated_at: iso(NOW),
  }
}
