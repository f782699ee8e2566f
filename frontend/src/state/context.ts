/**
 * What every page reads: the fleet, the catalog, open alerts, and the health
 * of the two connections (API and broker). DashboardProvider fills it from the
 * real API and broker; component tests provide a value of their own.
 */

import { createContext, useContext } from 'react'
import type { ApiClient } from '../api/client'
import type { Alert } from '../api/types'
import type { Catalog } from '../catalog'
import type { DashboardConfig } from '../config'
import type { LinkStatus } from '../live/link'
import type { AlertEvent, LiveReading } from '../live/messages'
import type { FleetState } from './fleet'

export interface ApiProblem {
  /** Which request failed and how, e.g. "GET /machines: HTTP 503 ...". */
  message: string
  /** When the next attempt is due (ms since the epoch). */
  retryAt: number
  attempts: number
}

export interface DashboardData {
  config: DashboardConfig
  api: ApiClient
  catalog: Catalog
  fleet: FleetState
  /** False until the first GET /machines answered. */
  loaded: boolean
  apiProblem: ApiProblem | null
  retryNow: () => void
  link: LinkStatus
  openAlerts: Alert[]
  /** Bumped on every alert event, so pages showing alerts refetch. */
  alertsVersion: number
  refreshAlerts: () => void
  /** Live readings as they are applied (every flush); returns an unsubscribe. */
  subscribeReadings: (listener: (readings: LiveReading[]) => void) => () => void
  subscribeAlerts: (listener: (event: AlertEvent) => void) => () => void
}

export const DashboardContext = createContext<DashboardData | null>(null)

export function useDashboard(): DashboardData {
  const value = useContext(DashboardContext)
  if (value === null) throw new Error('useDashboard() outside <DashboardProvider>')
  return value
}
