import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiClient } from '../api/client'
import { catalog } from '../test/fixtures'
import { type TestServer, json, startServer } from '../test/server'
import { type ChartData, MAX_POINTS, appendLive, loadChartData, rangeByKey, thresholdsOf, yRange } from './chartData'

let server: TestServer
const NOW = new Date('2026-12-03T20:00:00Z')

beforeAll(async () => {
  server = await startServer()
})

afterAll(() => server.close())

function readingsPage(count: number, nextToken: string | null) {
  return {
    machine_id: 'drill-001',
    parameter: 'Temperature',
    unit: '°C',
    from: '',
    to: '',
    order: 'asc',
    limit: MAX_POINTS,
    count,
    readings: Array.from({ length: count }, (_, i) => ({
      ts: new Date(NOW.getTime() - (count - i) * 1000).toISOString(),
      value: 700 + i,
    })),
    next_token: nextToken,
  }
}

const SERIES = {
  machine_id: 'drill-001',
  parameter: 'Temperature',
  unit: '°C',
  from: '',
  to: '',
  interval: '30m',
  interval_seconds: 1800,
  source: 'rollups_minute',
  points: [
    { ts: '2026-11-03T20:00:00.000Z', min: 690, max: 720, avg: 700, count: 1800 },
    { ts: '2026-11-03T20:30:00.000Z', min: 695, max: 1100, avg: 760, count: 1800 },
  ],
}

describe('loadChartData', () => {
  it('uses raw readings for 15 minutes', async () => {
    server.handle((_request, response) => json(response, 200, readingsPage(3, null)))
    const data = await loadChartData(new ApiClient(server.baseUrl), 'drill-001', 'Temperature', rangeByKey('15m'), NOW)
    expect(data).toMatchObject({ kind: 'raw', y: [700, 701, 702], source: 'raw readings' })
    // the chart spans the whole 15 minutes, not just the readings in it
    expect(data.span).toEqual([NOW.getTime() / 1000 - 900, NOW.getTime() / 1000])
    const url = server.requests.at(-1)!.url
    expect(url.pathname).toBe('/dev/machines/drill-001/readings')
    expect(url.searchParams.get('limit')).toBe(String(MAX_POINTS))
    expect(url.searchParams.get('from')).toBe('2026-12-03T19:45:00.000Z')
  })

  it('uses the rollup series (interval=auto) for 30 days, with min and max', async () => {
    server.handle((_request, response) => json(response, 200, SERIES))
    const data = await loadChartData(new ApiClient(server.baseUrl), 'drill-001', 'Temperature', rangeByKey('30d'), NOW)
    expect(data).toMatchObject({ kind: 'series', y: [700, 760], min: [690, 695], max: [720, 1100] })
    expect(data.source).toBe('30m buckets (min/avg/max)')
    const url = server.requests.at(-1)!.url
    expect(url.pathname).toBe('/dev/machines/drill-001/series')
    expect(url.searchParams.get('interval')).toBe('auto')
    expect(url.searchParams.get('from')).toBe('2026-11-03T20:00:00.000Z')
  })

  it('falls back to the series when a short range holds more than 2,000 readings', async () => {
    server.handle((request, response) =>
      request.url.pathname.endsWith('/readings')
        ? json(response, 200, readingsPage(5, 'more'))
        : json(response, 200, SERIES),
    )
    const data = await loadChartData(new ApiClient(server.baseUrl), 'drill-001', 'Temperature', rangeByKey('15m'), NOW)
    expect(data.kind).toBe('series')
  })
})

describe('appendLive', () => {
  const range = rangeByKey('15m')
  const base: ChartData = {
    kind: 'raw',
    x: [100, 200],
    y: [1, 2],
    min: [],
    max: [],
    source: 'raw readings',
    span: [0, 200],
  }

  it('appends newer live points and drops points older than the range', () => {
    const now = 200_000 + range.ms - 50_000
    const next = appendLive(base, [{ t: 300_000, v: 3 }, { t: 150_000, v: 9 }], range, now)
    expect(next.x).toEqual([200, 300])
    expect(next.y).toEqual([2, 3])
    expect(next.span).toEqual([(now - range.ms) / 1000, now / 1000])
  })

  it('leaves bucketed series alone', () => {
    const series: ChartData = { ...base, kind: 'series' }
    expect(appendLive(series, [{ t: 300_000, v: 3 }], range, 300_000)).toBe(series)
  })
})

describe('thresholds and the y range', () => {
  it('draws every threshold of the parameter', () => {
    const labels = thresholdsOf(catalog.parameter('Lathe', 'OilPressure')).map((t) => t.label)
    expect(labels).toEqual(['critical > 60', 'warning > 55', 'warning < 25', 'critical < 20'])
  })

  it('stretches the y range to show the thresholds beside the data', () => {
    const thresholds = thresholdsOf(catalog.parameter('Drilling', 'Temperature'))
    const [low, high] = yRange([[700, 800]], thresholds)
    expect(low).toBeLessThan(700)
    expect(high).toBeGreaterThan(1000)
  })
})
