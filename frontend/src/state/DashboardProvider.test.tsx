// @vitest-environment jsdom
import { cleanup, render, screen, waitFor } from '@testing-library/react'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ApiClient } from '../api/client'
import { App } from '../App'
import { CATALOG_BODY, machineList, summary } from '../test/fixtures'
import { CONFIG } from '../test/harness'
import { type TestServer, json, startServer } from '../test/server'
import { DashboardProvider, retryDelay } from './DashboardProvider'

let server: TestServer

beforeAll(async () => {
  server = await startServer()
})

afterAll(() => server.close())

afterEach(() => cleanup())

function healthyApi(request: { url: URL }, response: Parameters<Parameters<TestServer['handle']>[0]>[1]) {
  const path = request.url.pathname
  if (path === '/dev/parameters') return json(response, 200, CATALOG_BODY)
  if (path === '/dev/machines') {
    return json(response, 200, machineList([summary('drill-001', 'Drilling', { Temperature: 700 }, Date.now())]))
  }
  if (path === '/dev/alerts') return json(response, 200, { alerts: [], count: 0, state: 'open', limit: 1000 })
  return json(response, 200, { points: [] })
}

describe('DashboardProvider', () => {
  it('backs off from 2 s to at most 30 s between retries', () => {
    expect([1, 2, 3, 4, 5, 9].map(retryDelay)).toEqual([2000, 4000, 8000, 16000, 30000, 30000])
  })

  it('loads the catalog and the fleet from the API and polls without a broker', async () => {
    server.handle(healthyApi)
    render(
      <DashboardProvider config={CONFIG} api={new ApiClient(server.baseUrl)} live={false}>
        <App />
      </DashboardProvider>,
    )
    await screen.findByRole('article', { name: 'drill-001' })
    expect(screen.getByTestId('link-indicator').dataset.mode).toBe('polling')
    expect(server.requests.map((r) => r.url.pathname)).toContain('/dev/parameters')
  })

  it('shows what failed while the API is down and clears the banner once it answers', async () => {
    let down = true
    server.handle((request, response) =>
      down
        ? json(response, 503, { error: 'DatabaseUnavailable', message: 'the database is not reachable' })
        : healthyApi(request, response),
    )
    render(
      <DashboardProvider config={CONFIG} api={new ApiClient(server.baseUrl)} live={false}>
        <App />
      </DashboardProvider>,
    )
    const banner = await screen.findByTestId('api-banner')
    expect(banner.textContent).toContain(
      'GET /parameters: HTTP 503 DatabaseUnavailable: the database is not reachable',
    )
    expect(screen.getByTestId('fleet-loading').textContent).toContain('Waiting for the API')

    down = false
    await waitFor(() => expect(screen.queryByTestId('api-banner')).toBeNull(), { timeout: 5000 })
    expect(screen.getByRole('article', { name: 'drill-001' })).toBeTruthy()
  })
})
