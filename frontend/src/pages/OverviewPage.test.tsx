// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { App } from '../App'
import { type Controls, StatefulDashboard, dashboardValue } from '../test/harness'
import { DashboardContext } from '../state/context'
import { applyReadings, applySnapshot, emptyFleet } from '../state/fleet'
import { NOW, catalog, machineList, summary } from '../test/fixtures'

const FLEET = applySnapshot(
  emptyFleet(),
  machineList([
    summary('drill-001', 'Drilling', { Temperature: 700, CoolantPressure: 40 }),
    summary('drill-002', 'Drilling', { Temperature: 950, CoolantPressure: 40 }),
    summary('drill-003', 'Drilling', { Temperature: 1100, CoolantPressure: 40 }),
    summary('lathe-001', 'Lathe', { Temperature: 500, OilPressure: 40 }),
    summary('lathe-002', 'Lathe', { Temperature: 500, OilPressure: 40 }, NOW - 5 * 60_000),
  ]),
  catalog,
)

function cardIds(): string[] {
  return [...document.querySelectorAll<HTMLElement>('[data-machine-id].card')].map((c) => c.dataset.machineId!)
}

function renderApp(fleet = FLEET, extra = {}) {
  return render(
    <DashboardContext.Provider value={dashboardValue({ fleet, ...extra })}>
      <App />
    </DashboardContext.Provider>,
  )
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(NOW + 1000)
  window.location.hash = '#/'
})

afterEach(() => {
  cleanup()
  vi.useRealTimers()
})

describe('fleet overview', () => {
  it('shows a card per machine, worst first, with status in words', () => {
    renderApp()
    expect(cardIds()).toEqual(['drill-003', 'drill-002', 'lathe-002', 'drill-001', 'lathe-001'])
    const worst = screen.getByRole('article', { name: 'drill-003' })
    expect(worst.querySelector('.badge')?.textContent).toBe('■ CRITICAL')
    expect(within(worst).getByText('Drilling')).toBeTruthy()
    expect(within(worst).getByText('1,100')).toBeTruthy()
  })

  it('marks a machine silent for longer than the stale limit', () => {
    renderApp()
    const stale = screen.getByRole('article', { name: 'lathe-002' })
    expect(stale.dataset.stale).toBe('true')
    expect(within(stale).getByText(/STALE/)).toBeTruthy()
    expect(within(stale).getByText(/last reading 5 min ago/)).toBeTruthy()
    const fresh = screen.getByRole('article', { name: 'lathe-001' })
    expect(fresh.dataset.stale).toBe('false')
    expect(within(fresh).queryByText(/STALE/)).toBeNull()
  })

  it('filters by type and by status through the selects', () => {
    renderApp()
    fireEvent.change(screen.getByLabelText('Type'), { target: { value: 'Lathe' } })
    expect(window.location.hash).toBe('#/?type=Lathe')
    expect(cardIds()).toEqual(['lathe-002', 'lathe-001'])

    fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'stale' } })
    expect(cardIds()).toEqual(['lathe-002'])

    fireEvent.change(screen.getByLabelText('Type'), { target: { value: '' } })
    fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'WARNING' } })
    expect(cardIds()).toEqual(['drill-002'])
  })

  it('says when no machine matches the filters and offers to show all', () => {
    window.location.hash = '#/?type=Lathe&status=CRITICAL'
    renderApp()
    expect(cardIds()).toEqual([])
    fireEvent.click(screen.getByRole('button', { name: 'Show all machines' }))
    expect(cardIds()).toHaveLength(5)
  })

  it('explains an empty fleet', () => {
    renderApp(emptyFleet())
    expect(screen.getByTestId('fleet-empty').textContent).toContain('No machines have reported yet')
  })

  it('shows a loading state until the first answer', () => {
    renderApp(emptyFleet(), { loaded: false })
    expect(screen.getByTestId('fleet-loading').textContent).toContain('Loading the fleet')
  })

  it('shows the API banner with what failed, and retries on request', () => {
    const retryNow = vi.fn()
    renderApp(FLEET, {
      apiProblem: { message: 'GET /machines: HTTP 503 DatabaseUnavailable: down', retryAt: NOW + 5000, attempts: 2 },
      retryNow,
    })
    const banner = screen.getByTestId('api-banner')
    expect(banner.textContent).toContain('API unreachable. GET /machines: HTTP 503 DatabaseUnavailable: down')
    expect(banner.textContent).toContain('Retrying in 4 s (attempt 2)')
    fireEvent.click(within(banner).getByRole('button', { name: 'Retry now' }))
    expect(retryNow).toHaveBeenCalledOnce()
  })

  it('shows which source is in use and a broker banner while polling', () => {
    renderApp(FLEET, { link: { mode: 'polling', detail: 'broker ws://127.0.0.1:9 unreachable' } })
    expect(screen.getByTestId('link-indicator').textContent).toContain('Polling API')
    expect(screen.getByTestId('broker-banner').textContent).toContain('broker ws://127.0.0.1:9 unreachable')
  })
})

describe('red alert box', () => {
  const calm = applySnapshot(
    emptyFleet(),
    machineList([summary('drill-001', 'Drilling', { Temperature: 700, CoolantPressure: 40 })]),
    catalog,
  )

  it('appears when a live reading makes a machine CRITICAL and goes away when it recovers', () => {
    const controls: Partial<Controls> = {}
    render(
      <StatefulDashboard initial={calm} controls={controls}>
        <App />
      </StatefulDashboard>,
    )
    expect(screen.queryByTestId('critical-alert-box')).toBeNull()

    const reading = (value: number, ts: number) => ({
      machineId: 'drill-001', machineType: 'Drilling', parameter: 'Temperature', value, unit: '°C', ts,
    })
    act(() => controls.setFleet!((f) => applyReadings(f, [reading(1234.5, NOW + 500)], catalog)))
    const box = screen.getByTestId('critical-alert-box')
    expect(box.getAttribute('role')).toBe('alert')
    expect(box.textContent).toContain('drill-001 (Drilling): Temperature 1,234.5 °C since')
    expect(within(box).getByRole('link', { name: 'drill-001' }).getAttribute('href')).toBe('#/machines/drill-001')

    act(() => controls.setFleet!((f) => applyReadings(f, [reading(720, NOW + 900)], catalog)))
    expect(screen.queryByTestId('critical-alert-box')).toBeNull()
  })
})
