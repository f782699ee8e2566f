/**
 * The REST API's response bodies, as functions/api/chalicelib/models.py
 * declares them (GET /openapi.json carries the same JSON Schema). Timestamps
 * are UTC ISO-8601 strings ending in Z.
 */

export type Status = 'NORMAL' | 'WARNING' | 'CRITICAL'
export type MachineStatus = Status | 'UNKNOWN'
export type Severity = 'WARNING' | 'CRITICAL'

export interface ErrorBody {
  error: string
  message: string
}

export interface ParameterReading {
  name: string
  value: number
  unit: string | null
  status: Status
  ts: string
}

export interface MachineSummary {
  machine_id: string
  machine_type: string
  status: MachineStatus
  last_seen: string
  stale: boolean
  parameters: ParameterReading[]
}

export interface MachineList {
  machines: MachineSummary[]
  count: number
  stale_after_seconds: number
  generated_at: string
}

export interface StatusDriver {
  parameter: string
  value: number
  unit: string | null
  status: Status
  threshold: number | null
  ts: string
}

export interface Alert {
  alert_id: number
  machine_id: string
  machine_type: string
  parameter: string
  unit: string | null
  severity: Severity
  value: number
  threshold: number
  state: 'open' | 'cleared'
  opened_at: string
  updated_at: string
  cleared_at: string | null
  acknowledged: boolean
  acknowledged_at: string | null
  acknowledged_by: string | null
}

export interface MachineDetail extends MachineSummary {
  first_seen: string
  last_sequence: number | null
  drivers: StatusDriver[]
  open_alerts: Alert[]
}

export interface Reading {
  ts: string
  value: number
}

export interface ReadingsPage {
  machine_id: string
  parameter: string
  unit: string | null
  from: string
  to: string
  order: 'asc' | 'desc'
  limit: number
  count: number
  readings: Reading[]
  next_token: string | null
}

export interface SeriesPoint {
  ts: string
  min: number
  max: number
  avg: number
  count: number
}

export interface Series {
  machine_id: string
  parameter: string
  unit: string | null
  from: string
  to: string
  interval: string
  interval_seconds: number
  source: 'rollups_minute' | 'readings'
  points: SeriesPoint[]
}

export interface ParameterInfo {
  name: string
  unit: string
  description: string
  normal_min: number
  normal_max: number
  warning_low: number | null
  warning_high: number | null
  critical_low: number | null
  critical_high: number | null
}

export interface MachineTypeInfo {
  name: string
  id_prefix: string
  description: string
  parameters: ParameterInfo[]
}

export interface ParameterCatalog {
  machine_types: MachineTypeInfo[]
}

export interface AlertList {
  alerts: Alert[]
  count: number
  state: 'open' | 'cleared' | 'all'
  limit: number
}

export interface Health {
  status: 'ok' | 'unavailable'
  database: 'reachable' | 'unreachable'
  schema_version: number | null
  time: string
  error?: string | null
  message?: string | null
}
