// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ApiClient } from '../api/client'
import type { Alert } from '../api/types'
import { DashboardContext } from '../state/context'
import { dashboardValue } from '../test/harness'
import { type TestServer, json, startServer } from '../test/server'
import { AlertsPage } from './AlertsPage'

let server: TestServer

beforeAll(async () => {
  server = await startServer()
})

afterAll(() => server.close())

beforeEach(() => localStorage.clear())

afterEach(() => cleanup())

const OPEN: Alert = {
  alert_id: 7,
  machine_id: 'drill-001',
  machine_type: 'Drilling',
  parameter: 'Temperature',
  unit: '°C',
  severity: 'CRITICAL',
  value: 1234.5,
  threshold: 1000,
  state: 'open',
  opened_at: '2026-12-03T19:58:01.123Z',
  updated_at: '2026-12-03T19:58:01.123Z',
  cleared_at: null,
  acknowledged: false,
  acknowledged_at: null,
  acknowledged_by: null,
}

function renderPage(query = '') {
  render(
    <DashboardContext.Provider value={dashboardValue({ api: new ApiClient(server.baseUrl) })}>
      <AlertsPage query={new URLSearchParams(query)} />
    </DashboardContext.Provider>,
  )
}

describe('alerts page', () => {
  it('lists open alerts with the filters passed to the API', async () => {
    server.handle((_request, response) => json(response, 200, { alerts: [OPEN], count: 1, state: 'open', limit: 500 }))
    renderPage('severity=CRITICAL&machine=drill-001')
    const row = await screen.findByRole('row', { name: /drill-001/ })
    expect(row.textContent).toContain('1,234.5 °C')
    const url = server.requests.at(-1)!.url
    expect(url.searchParams.get('state')).toBe('open')
    expect(url.searchParams.get('severity')).toBe('CRITICAL')
    expect(url.searchParams.get('machine_id')).toBe('drill-001')
  })

  it('acknowledges an alert through the API; it stays listed as acknowledged', async () => {
    server.handle((request, response) => {
      if (request.method === 'POST') {
        const by = (JSON.parse(request.body) as { by: string }).by
        return json(response, 200, { ...OPEN, acknowledged: true, acknowledged_by: by, acknowledged_at: OPEN.opened_at })
      }
      return json(response, 200, { alerts: [OPEN], count: 1, state: 'open', limit: 500 })
    })
    renderPage()
    fireEvent.change(await screen.findByLabelText('Acknowledge as'), { target: { value: 'alice' } })
    fireEvent.click(await screen.findByRole('button', { name: 'Acknowledge alert 7: drill-001 Temperature' }))

    const row = await screen.findByRole('row', { name: /✓ alice/ })
    expect(row.dataset.state).toBe('open')
    expect(within(row).queryByRole('button')).toBeNull()
    expect(screen.getByRole('status').textContent).toBe('Alert 7 (drill-001 Temperature) acknowledged.')
    const posts = server.requests.filter((r) => r.method === 'POST')
    expect(posts.at(-1)).toMatchObject({ body: '{"by":"alice"}' })
    expect(posts.at(-1)?.url.pathname).toBe('/dev/alerts/7/ack')
    expect(localStorage.getItem('orchestralink.ackName')).toBe('alice')
  })

  it('shows the API message when someone acknowledged first', async () => {
    server.handle((request, response) =>
      request.method === 'POST'
        ? json(response, 409, {
            error: 'AlertAlreadyAcknowledged',
            message: 'alert 7 was already acknowledged by bob at 2026-12-03T19:59:00.000Z; nothing to do',
          })
        : json(response, 200, { alerts: [OPEN], count: 1, state: 'open', limit: 500 }),
    )
    renderPage()
    fireEvent.click(await screen.findByRole('button', { name: /Acknowledge alert 7/ }))
    await waitFor(() =>
      expect(screen.getByRole('status').textContent).toBe(
        'POST /alerts/7/ack: HTTP 409 AlertAlreadyAcknowledged: alert 7 was already acknowledged by bob at 2026-12-03T19:59:00.000Z; nothing to do',
      ),
    )
  })

  it('says so when there are no open alerts', async () => {
    server.handle((_request, response) => json(response, 200, { alerts: [], count: 0, state: 'open', limit: 500 }))
    renderPage()
    expect((await screen.findByTestId('alerts-empty')).textContent).toBe(
      'No open alerts: every machine is within its limits.',
    )
  })
})
