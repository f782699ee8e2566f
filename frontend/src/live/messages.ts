/**
 * Decoding what arrives over MQTT: pure functions, no client, so they are
 * tested on their own.
 *
 * Topics (the contract between simulator, IoT rule, ingestion and dashboard):
 * - `machine/{machine_id}/{parameter}`: one reading;
 * - `machine/{machine_id}/telemetry`: a batch, `readings: [{parameter, value, unit}]`;
 * - `alerts/{machine_id}`: an alert event published by ingestion
 *   (orchestralink.alerts.AlertEvent).
 * Like the IoT rule (`topic(2) AS machine_id, topic(3) AS parameter`), the
 * topic wins over the same fields in the body. A message that does not fit is
 * ignored with a reason, never thrown: one bad publisher must not stop the
 * dashboard.
 */

import type { Severity } from '../api/types'

export interface LiveReading {
  machineId: string
  machineType: string | null
  parameter: string
  value: number
  unit: string | null
  /** Milliseconds since the epoch. */
  ts: number
}

export type AlertAction = 'opened' | 'escalated' | 'cleared'

export interface AlertEvent {
  event: AlertAction
  alertId: number
  machineId: string
  machineType: string
  parameter: string
  unit: string | null
  severity: Severity
  value: number
  threshold: number
  ts: number
  openedAt: number | null
}

export type LiveMessage =
  | { kind: 'readings'; readings: LiveReading[] }
  | { kind: 'alert'; event: AlertEvent }
  | { kind: 'ignored'; reason: string }

export const TELEMETRY_TOPICS = 'machine/+/+'
export const ALERT_TOPICS = 'alerts/+'

const decoder = new TextDecoder()

function ignored(reason: string): LiveMessage {
  return { kind: 'ignored', reason }
}

function parseTime(value: unknown): number | null {
  if (typeof value !== 'string') return null
  const ms = Date.parse(value)
  return Number.isFinite(ms) ? ms : null
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null
}

function parseBody(payload: Uint8Array | string): Record<string, unknown> | null {
  try {
    const body: unknown = JSON.parse(typeof payload === 'string' ? payload : decoder.decode(payload))
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : null
  } catch {
    return null
  }
}

function decodeTelemetry(
  machineId: string,
  parameter: string,
  body: Record<string, unknown>,
  receivedAt: number,
): LiveMessage {
  const machineType = text(body.machine_type)
  const ts = parseTime(body.timestamp) ?? receivedAt

  if (parameter !== 'telemetry') {
    if (!isFiniteNumber(body.value)) return ignored(`value of ${parameter} is not a number`)
    return {
      kind: 'readings',
      readings: [
        { machineId, machineType, parameter, value: body.value, unit: text(body.unit), ts },
      ],
    }
  }

  if (!Array.isArray(body.readings)) return ignored('batch without a readings list')
  const readings: LiveReading[] = []
  for (const item of body.readings as unknown[]) {
    const entry = item as Record<string, unknown> | null
    const name = text(entry?.parameter)
    if (!entry || !name || !isFiniteNumber(entry.value)) continue
    readings.push({ machineId, machineType, parameter: name, value: entry.value, unit: text(entry.unit), ts })
  }
  return readings.length ? { kind: 'readings', readings } : ignored('batch without valid readings')
}

function decodeAlert(machineId: string, body: Record<string, unknown>): LiveMessage {
  const event = body.event
  if (event !== 'opened' && event !== 'escalated' && event !== 'cleared') {
    return ignored(`unknown alert event ${JSON.stringify(event)}`)
  }
  const severity = body.severity
  if (severity !== 'WARNING' && severity !== 'CRITICAL') {
    return ignored(`unknown severity ${JSON.stringify(severity)}`)
  }
  const parameter = text(body.parameter)
  if (!isFiniteNumber(body.alert_id) || !parameter) return ignored('alert without id or parameter')
  return {
    kind: 'alert',
    event: {
      event,
      alertId: body.alert_id,
      machineId,
      machineType: text(body.machine_type) ?? '',
      parameter,
      unit: text(body.unit),
      severity,
      value: isFiniteNumber(body.value) ? body.value : Number.NaN,
      threshold: isFiniteNumber(body.threshold) ? body.threshold : Number.NaN,
      ts: parseTime(body.timestamp) ?? Date.now(),
      openedAt: parseTime(body.opened_at),
    },
  }
}

/** Turns one MQTT message into readings, an alert event, or a reason to ignore it. */
export function decodeMessage(
  topic: string,
  payload: Uint8Array | string,
  receivedAt: number = Date.now(),
): LiveMessage {
  const levels = topic.split('/')
  const body = parseBody(payload)
  if (levels[0] === 'machine' && levels.length === 3 && levels[1] && levels[2]) {
    if (!body) return ignored(`${topic}: payload is not a JSON object`)
    return decodeTelemetry(levels[1], levels[2], body, receivedAt)
  }
  if (levels[0] === 'alerts' && levels.length === 2 && levels[1]) {
    if (!body) return ignored(`${topic}: payload is not a JSON object`)
    return decodeAlert(levels[1], body)
  }
  return ignored(`${topic}: not a telemetry or alert topic`)
}
