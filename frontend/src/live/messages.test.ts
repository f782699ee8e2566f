import { describe, expect, it } from 'vitest'
import { decodeMessage } from './messages'

const encoder = new TextEncoder()
const bytes = (value: unknown) => encoder.encode(JSON.stringify(value))

const READING = {
  machine_id: 'drill-001',
  machine_type: 'Drilling',
  parameter: 'Temperature',
  value: 812.4,
  unit: '°C',
  timestamp: '2026-12-03T19:58:01.123Z',
  sequence: 42,
}

describe('decodeMessage', () => {
  it('decodes a per-reading message', () => {
    expect(decodeMessage('machine/drill-001/Temperature', bytes(READING))).toEqual({
      kind: 'readings',
      readings: [
        {
          machineId: 'drill-001',
          machineType: 'Drilling',
          parameter: 'Temperature',
          value: 812.4,
          unit: '°C',
          ts: Date.parse('2026-12-03T19:58:01.123Z'),
        },
      ],
    })
  })

  it('takes the machine and parameter from the topic, like the IoT rule', () => {
    const message = decodeMessage('machine/drill-002/Torque', bytes(READING))
    expect(message.kind === 'readings' && message.readings[0]).toMatchObject({
      machineId: 'drill-002',
      parameter: 'Torque',
    })
  })

  it('decodes a batch into one reading per entry, skipping malformed entries', () => {
    const batch = {
      machine_id: 'mill-002',
      machine_type: 'Milling',
      timestamp: '2026-12-03T19:58:02.000Z',
      sequence: 7,
      readings: [
        { parameter: 'Temperature', value: 351.2, unit: '°C' },
        { parameter: 'Torque', value: 'high', unit: 'N·m' },
        { parameter: 'CoolantFlow', value: 2.5, unit: 'L/min' },
      ],
    }
    const message = decodeMessage('machine/mill-002/telemetry', bytes(batch))
    expect(message.kind).toBe('readings')
    if (message.kind !== 'readings') return
    expect(message.readings.map((r) => [r.parameter, r.value])).toEqual([
      ['Temperature', 351.2],
      ['CoolantFlow', 2.5],
    ])
    expect(message.readings.every((r) => r.ts === Date.parse(batch.timestamp))).toBe(true)
  })

  it('uses the arrival time when the timestamp is missing', () => {
    const { timestamp: _, ...rest } = READING
    const message = decodeMessage('machine/drill-001/Temperature', bytes(rest), 1234)
    expect(message.kind === 'readings' && message.readings[0]?.ts).toBe(1234)
  })

  it('decodes an alert event published by ingestion', () => {
    const event = {
      event: 'opened',
      alert_id: 17,
      machine_id: 'drill-001',
      machine_type: 'Drilling',
      parameter: 'Temperature',
      unit: '°C',
      severity: 'CRITICAL',
      previous_severity: null,
      value: 1234.5,
      threshold: 1000,
      timestamp: '2026-12-03T19:58:01.123Z',
      opened_at: '2026-12-03T19:58:01.123Z',
      cleared_at: null,
    }
    expect(decodeMessage('alerts/drill-001', bytes(event))).toMatchObject({
      kind: 'alert',
      event: { event: 'opened', alertId: 17, severity: 'CRITICAL', value: 1234.5, threshold: 1000 },
    })
  })

  it('ignores what does not fit, with a reason', () => {
    expect(decodeMessage('machine/drill-001/Temperature', 'not json')).toEqual({
      kind: 'ignored',
      reason: 'machine/drill-001/Temperature: payload is not a JSON object',
    })
    expect(decodeMessage('machine/drill-001/Temperature', bytes({ ...READING, value: 'hot' }))).toEqual({
      kind: 'ignored',
      reason: 'value of Temperature is not a number',
    })
    expect(decodeMessage('machine/drill-001/telemetry', bytes({ readings: 'none' }))).toEqual({
      kind: 'ignored',
      reason: 'batch without a readings list',
    })
    expect(decodeMessage('alerts/drill-001', bytes({ event: 'exploded' }))).toEqual({
      kind: 'ignored',
      reason: 'unknown alert event "exploded"',
    })
    expect(decodeMessage('factory/hall-1', bytes(READING))).toEqual({
      kind: 'ignored',
      reason: 'factory/hall-1: not a telemetry or alert topic',
    })
  })
})
