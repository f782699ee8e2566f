/**
 * Keeps the dashboard's data current: API snapshots, live MQTT readings and
 * alert events, with a fallback to polling the API when the broker is out.
 *
 * Timing, chosen for "visible within 2 s of publish":
 * - live readings are buffered and applied every FLUSH_MS (one React update
 *   for a whole fleet's worth of messages instead of one per message);
 * - while MQTT is down the API is polled every POLL_MS;
 * - while MQTT is up a snapshot every SNAPSHOT_MS still corrects drift and
 *   notices an API outage;
 * - a failing API is retried with backoff (2 s doubling to 30 s), and the
 *   banner says what failed and when the next try is.
 */

import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { ApiError, type ApiClient } from '../api/client'
import type { Alert } from '../api/types'
import { Catalog } from '../catalog'
import type { DashboardConfig } from '../config'
import { LiveLink, type LinkStatus } from '../live/link'
import { type AlertEvent, type LiveReading, decodeMessage } from '../live/messages'
import { type ApiProblem, DashboardContext, type DashboardData } from './context'
import { type FleetState, applyReadings, applySnapshot, emptyFleet, seedHistory } from './fleet'

export const FLUSH_MS = 250
export const POLL_MS = 2000
export const SNAPSHOT_MS = 10_000
const ALERTS_POLL_MS = 5000
const ALERTS_LIVE_MS = 15_000
const MAX_BUFFERED = 20_000
const SEED_WINDOW_MS = 10 * 60_000
const SEED_CONCURRENCY = 2

export function retryDelay(attempts: number): number {
  return Math.min(30_000, 2000 * 2 ** Math.max(0, attempts - 1))
}

function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message
  return error instanceof Error ? error.message : String(error)
}

interface Props {
  config: DashboardConfig
  api: ApiClient
  children: ReactNode
  /** Tests and the perf script may run without a broker. */
  live?: boolean
}

export function DashboardProvider({ config, api, children, live = true }: Props) {
  const [catalog, setCatalog] = useState(Catalog.empty)
  const catalogRef = useRef<Catalog | null>(null)
  const [fleet, setFleet] = useState<FleetState>(emptyFleet)
  const [loaded, setLoaded] = useState(false)
  const [apiProblem, setApiProblem] = useState<ApiProblem | null>(null)
  const [retryToken, setRetryToken] = useState(0)
  const [link, setLink] = useState<LinkStatus>(
    live ? { mode: 'connecting', detail: 'starting' } : { mode: 'polling', detail: 'live updates off' },
  )
  const [openAlerts, setOpenAlerts] = useState<Alert[]>([])
  const [alertsVersion, setAlertsVersion] = useState(0)
  const failures = useRef(0)
  const readingListeners = useRef(new Set<(readings: LiveReading[]) => void>())
  const alertListeners = useRef(new Set<(event: AlertEvent) => void>())
  const liveMode = link.mode === 'mqtt'

  const refreshSnapshot = useCallback(async () => {
    if (catalogRef.current === null) {
      const loadedCatalog = new Catalog(await api.parameters())
      catalogRef.current = loadedCatalog
      setCatalog(loadedCatalog)
    }
    const list = await api.machines()
    const known = catalogRef.current
    setFleet((state) => applySnapshot(state, list, known))
    setLoaded(true)
    failures.current = 0
    setApiProblem(null)
  }, [api])

  // Snapshots: polling cadence depends on whether MQTT is live; a retry or a
  // change of mode restarts the loop at once.
  useEffect(() => {
    let cancelled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const run = async () => {
      let delay = liveMode ? SNAPSHOT_MS : POLL_MS
      try {
        await refreshSnapshot()
      } catch (error) {
        failures.current += 1
        delay = retryDelay(failures.current)
        if (!cancelled) {
          setApiProblem({
            message: describe(error),
            retryAt: Date.now() + delay,
            attempts: failures.current,
          })
        }
      }
      if (!cancelled) timer = setTimeout(run, delay)
    }
    void run()
    return () => {
      cancelled = true
      clearTimeout(timer)
    }
  }, [refreshSnapshot, liveMode, retryToken])

  const alertsRequest = useRef(0)
  const refreshAlerts = useCallback(() => {
    const request = ++alertsRequest.current
    api
      .alerts({ state: 'open', limit: 1000 })
      .then((list) => {
        if (request === alertsRequest.current) setOpenAlerts(list.alerts)
      })
      .catch((error: unknown) => console.warn('open alerts:', describe(error)))
  }, [api])

  useEffect(() => {
    refreshAlerts()
    const timer = setInterval(refreshAlerts, liveMode ? ALERTS_LIVE_MS : ALERTS_POLL_MS)
    return () => clearInterval(timer)
  }, [refreshAlerts, liveMode, retryToken])

  // Live messages: buffered, applied together every FLUSH_MS once the catalog
  // is known (so every value is classified with the right thresholds).
  const buffer = useRef<LiveReading[]>([])
  const alertRefresh = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  useEffect(() => {
    if (!live) return
    const onMessage = (topic: string, payload: Uint8Array) => {
      const message = decodeMessage(topic, payload)
      if (message.kind === 'readings') {
        if (buffer.current.length < MAX_BUFFERED) buffer.current.push(...message.readings)
      } else if (message.kind === 'alert') {
        for (const listener of alertListeners.current) listener(message.event)
        clearTimeout(alertRefresh.current)
        alertRefresh.current = setTimeout(() => {
          refreshAlerts()
          setAlertsVersion((v) => v + 1)
        }, 150)
      }
    }
    const liveLink = new LiveLink(config, { onMessage, onStatus: setLink })
    void liveLink.start()
    const flush = setInterval(() => {
      const known = catalogRef.current
      if (buffer.current.length === 0 || known === null) return
      const batch = buffer.current.splice(0)
      setFleet((state) => applyReadings(state, batch, known))
      for (const listener of readingListeners.current) listener(batch)
    }, FLUSH_MS)
    return () => {
      liveLink.stop()
      clearInterval(flush)
      clearTimeout(alertRefresh.current)
    }
  }, [config, live, refreshAlerts])

  useHistorySeeding(api, fleet, setFleet, loaded)

  const value = useMemo<DashboardData>(
    () => ({
      config,
      api,
      catalog,
      fleet,
      loaded,
      apiProblem,
      retryNow: () => setRetryToken((t) => t + 1),
      link,
      openAlerts,
      alertsVersion,
      refreshAlerts,
      subscribeReadings: (listener) => {
        readingListeners.current.add(listener)
        return () => readingListeners.current.delete(listener)
      },
      subscribeAlerts: (listener) => {
        alertListeners.current.add(listener)
        return () => alertListeners.current.delete(listener)
      },
    }),
    [config, api, catalog, fleet, loaded, apiProblem, link, openAlerts, alertsVersion, refreshAlerts],
  )
  return <DashboardContext.Provider value={value}>{children}</DashboardContext.Provider>
}

/**
 * Fills each trend line with the last ten minutes from the API (10 s buckets),
 * once per machine and parameter, two requests at a time in the background,
 * so the cards do not start with empty lines.
 */
function useHistorySeeding(
  api: ApiClient,
  fleet: FleetState,
  setFleet: (update: (state: FleetState) => FleetState) => void,
  enabled: boolean,
) {
  const seeded = useRef(new Set<string>())
  const queue = useRef<[string, string][]>([])
  const running = useRef(0)

  useEffect(() => {
    if (!enabled) return
    for (const machine of Object.values(fleet.machines)) {
      for (const parameter of machine.parameters) {
        const key = `${machine.id}\u0000${parameter.name}`
        if (seeded.current.has(key)) continue
        seeded.current.add(key)
        queue.current.push([machine.id, parameter.name])
      }
    }
    const work = async () => {
      running.current += 1
      for (let next = queue.current.shift(); next; next = queue.current.shift()) {
        const [machineId, parameter] = next
        const to = new Date()
        try {
          const series = await api.series(machineId, {
            parameter,
            from: new Date(to.getTime() - SEED_WINDOW_MS),
            to,
            interval: '10s',
          })
          const points = series.points.map((p) => ({ t: Date.parse(p.ts), v: p.avg }))
          setFleet((state) => seedHistory(state, machineId, parameter, points))
        } catch {
          // The trend line then starts with live values only.
        }
      }
      running.current -= 1
    }
    while (running.current < SEED_CONCURRENCY && queue.current.length > 0) void work()
  }, [api, fleet.machines, setFleet, enabled])
}
