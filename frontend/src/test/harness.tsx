/** Rendering pages with a dashboard context the test controls. */

import { type ReactNode, useState } from 'react'
import { ApiClient } from '../api/client'
import type { Alert } from '../api/types'
import type { DashboardConfig } from '../config'
import { DashboardContext, type DashboardData } from '../state/context'
import { type FleetState, emptyFleet } from '../state/fleet'
import { catalog } from './fixtures'

export const CONFIG: DashboardConfig = {
  apiUrl: 'http://127.0.0.1:9/dev/',
  mqttUrl: 'ws://127.0.0.1:9',
  mqttUsername: 'dashboard',
  mqttPassword: 'x',
  target: 'local',
}

export function dashboardValue(overrides: Partial<DashboardData> = {}): DashboardData {
  return {
    config: CONFIG,
    api: new ApiClient(CONFIG.apiUrl),
    catalog,
    fleet: emptyFleet(),
    loaded: true,
    apiProblem: null,
    retryNow: () => undefined,
    link: { mode: 'mqtt', detail: 'live over MQTT' },
    openAlerts: [],
    alertsVersion: 0,
    refreshAlerts: () => undefined,
    subscribeReadings: () => () => undefined,
    subscribeAlerts: () => () => undefined,
    ...overrides,
  }
}

export interface Controls {
  setFleet: (update: (fleet: FleetState) => FleetState) => void
  setOpenAlerts: (alerts: Alert[]) => void
}

/** A provider whose fleet the test changes through `controls`. */
export function StatefulDashboard({
  initial,
  controls,
  overrides,
  children,
}: {
  initial: FleetState
  controls: Partial<Controls>
  overrides?: Partial<DashboardData>
  children: ReactNode
}) {
  const [fleet, setFleet] = useState(initial)
  const [openAlerts, setOpenAlerts] = useState<Alert[]>([])
  controls.setFleet = setFleet
  controls.setOpenAlerts = setOpenAlerts
  return (
    <DashboardContext.Provider value={dashboardValue({ fleet, openAlerts, ...overrides })}>
      {children}
    </DashboardContext.Provider>
  )
}
