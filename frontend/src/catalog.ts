/**
 * The machine catalog as GET /parameters returns it, and the same
 * classification the API and ingestion apply (orchestralink.catalog): a value
 * is CRITICAL strictly beyond a critical threshold, WARNING strictly beyond a
 * warning threshold, NORMAL otherwise. Live MQTT readings are classified here,
 * in the browser, so a status change shows as soon as the reading arrives
 * instead of after the next API round trip.
 */

import type { MachineStatus, ParameterCatalog, ParameterInfo, Status } from './api/types'

export const STATUS_RANK: Record<MachineStatus, number> = {
  CRITICAL: 3,
  WARNING: 2,
  UNKNOWN: 1,
  NORMAL: 0,
}

export function classify(parameter: ParameterInfo, value: number): Status {
  const { critical_low, critical_high, warning_low, warning_high } = parameter
  if (critical_high !== null && value > critical_high) return 'CRITICAL'
  if (critical_low !== null && value < critical_low) return 'CRITICAL'
  if (warning_high !== null && value > warning_high) return 'WARNING'
  if (warning_low !== null && value < warning_low) return 'WARNING'
  return 'NORMAL'
}

/** The worst of several statuses; UNKNOWN when there are none. */
export function worstStatus(statuses: Iterable<MachineStatus>): MachineStatus {
  let worst: MachineStatus | null = null
  for (const status of statuses) {
    if (worst === null || STATUS_RANK[status] > STATUS_RANK[worst]) worst = status
  }
  return worst ?? 'UNKNOWN'
}

export class Catalog {
  readonly types: string[]
  private readonly byType: Map<string, Map<string, ParameterInfo>>

  constructor(body: ParameterCatalog) {
    this.byType = new Map(
      body.machine_types.map((t) => [t.name, new Map(t.parameters.map((p) => [p.name, p]))]),
    )
    this.types = body.machine_types.map((t) => t.name)
  }

  static empty(): Catalog {
    return new Catalog({ machine_types: [] })
  }

  parameter(machineType: string, name: string): ParameterInfo | undefined {
    return this.byType.get(machineType)?.get(name)
  }

  /** The type's parameters in catalog order (empty for an unknown type). */
  parameters(machineType: string): ParameterInfo[] {
    return [...(this.byType.get(machineType)?.values() ?? [])]
  }

  /** Null for a parameter the catalog does not know (keep the stored status). */
  classify(machineType: string, name: string, value: number): Status | null {
    const parameter = this.parameter(machineType, name)
    return parameter ? classify(parameter, value) : null
  }
}
