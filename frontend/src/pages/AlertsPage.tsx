import { useCallback, useEffect, useMemo, useState } from 'react'
import { ApiError } from '../api/client'
import type { Alert, Severity } from '../api/types'
import { StatusBadge } from '../components/StatusBadge'
import { formatIso, formatValue } from '../format'
import { machineHref, replaceQuery } from '../router'
import { useDashboard } from '../state/context'

const LIMIT = 500
const NAME_KEY = 'orchestralink.ackName'

function pick<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return allowed.find((a) => a === value) ?? fallback
}

/** Open and past alerts, filtered by state, severity and machine; acknowledge. */
export function AlertsPage({ query }: { query: URLSearchParams }) {
  const { api, fleet, alertsVersion, refreshAlerts } = useDashboard()
  const state = pick(query.get('state'), ['open', 'cleared', 'all'] as const, 'open')
  const severity = pick(query.get('severity'), ['WARNING', 'CRITICAL', ''] as const, '')
  const machineId = query.get('machine') || ''

  const [alerts, setAlerts] = useState<Alert[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [name, setName] = useState(() => localStorage.getItem(NAME_KEY) ?? '')

  const load = useCallback(async () => {
    try {
      const list = await api.alerts({
        state,
        severity: (severity || null) as Severity | null,
        machineId: machineId || null,
        limit: LIMIT,
      })
      setAlerts(list.alerts)
      setError(null)
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    }
  }, [api, state, severity, machineId])

  useEffect(() => {
    void load()
    const timer = setInterval(() => void load(), 10_000)
    return () => clearInterval(timer)
  }, [load, alertsVersion])

  const machines = useMemo(() => Object.keys(fleet.machines).sort(), [fleet.machines])
  const setFilter = (key: string, value: string) =>
    replaceQuery('/alerts', {
      state: state === 'open' ? null : state,
      severity: severity || null,
      machine: machineId || null,
      [key]: value || null,
    })

  const acknowledge = async (alert: Alert) => {
    localStorage.setItem(NAME_KEY, name)
    try {
      const updated = await api.acknowledge(alert.alert_id, name)
      setAlerts((list) => list?.map((a) => (a.alert_id === updated.alert_id ? updated : a)) ?? null)
      setNotice(`Alert ${alert.alert_id} (${alert.machine_id} ${alert.parameter}) acknowledged.`)
      refreshAlerts()
    } catch (e) {
      const conflict = e instanceof ApiError && e.status === 409
      setNotice(e instanceof Error ? e.message : String(e))
      if (conflict) void load()
    }
  }

  return (
    <section aria-labelledby="alerts-title">
      <div className="toolbar">
        <h2 id="alerts-title">Alerts</h2>
        <div className="filters">
          <label>
            State{' '}
            <select value={state} onChange={(e) => setFilter('state', e.target.value === 'open' ? '' : e.target.value)}>
              <option value="open">Open (incl. acknowledged)</option>
              <option value="cleared">Past (cleared)</option>
              <option value="all">All</option>
            </select>
          </label>
          <label>
            Severity{' '}
            <select value={severity} onChange={(e) => setFilter('severity', e.target.value)}>
              <option value="">All severities</option>
              <option value="CRITICAL">Critical</option>
              <option value="WARNING">Warning</option>
            </select>
          </label>
          <label>
            Machine{' '}
            <select value={machineId} onChange={(e) => setFilter('machine', e.target.value)}>
              <option value="">All machines</option>
              {machineId && !machines.includes(machineId) && <option value={machineId}>{machineId}</option>}
              {machines.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </label>
          <label>
            Acknowledge as{' '}
            <input
              type="text"
              value={name}
              maxLength={100}
              placeholder="your name"
              onChange={(e) => setName(e.target.value)}
            />
          </label>
        </div>
      </div>

      <p className="notice" role="status" aria-live="polite">
        {notice}
      </p>
      {error && (
        <p className="banner banner-error" role="alert">
          Could not load alerts: {error}
        </p>
      )}
      {alerts === null ? (
        !error && <p className="placeholder">Loading alerts…</p>
      ) : alerts.length === 0 ? (
        <p className="placeholder" data-testid="alerts-empty">
          {state === 'open' ? 'No open alerts: every machine is within its limits.' : 'No alerts match these filters.'}
        </p>
      ) : (
        <AlertTable alerts={alerts} onAcknowledge={acknowledge} />
      )}
    </section>
  )
}

export function AlertTable({
  alerts,
  onAcknowledge,
  showMachine = true,
}: {
  alerts: Alert[]
  onAcknowledge?: (alert: Alert) => void
  showMachine?: boolean
}) {
  return (
    <table className="alerts" data-testid="alerts-table">
      <thead>
        <tr>
          <th scope="col">Severity</th>
          {showMachine && <th scope="col">Machine</th>}
          <th scope="col">Parameter</th>
          <th scope="col">Value</th>
          <th scope="col">Threshold</th>
          <th scope="col">Opened</th>
          <th scope="col">State</th>
          <th scope="col">Acknowledged</th>
        </tr>
      </thead>
      <tbody>
        {alerts.map((alert) => (
          <tr key={alert.alert_id} data-alert-id={alert.alert_id} data-state={alert.state}
            className={`alert-row alert-${alert.state}`}>
            <td data-label="Severity">
              <StatusBadge status={alert.severity} />
            </td>
            {showMachine && (
              <td data-label="Machine">
                <a href={machineHref(alert.machine_id)}>{alert.machine_id}</a>
              </td>
            )}
            <td data-label="Parameter">{alert.parameter}</td>
            <td data-label="Value" className="num">
              {formatValue(alert.value)} {alert.unit ?? ''}
            </td>
            <td data-label="Threshold" className="num">
              {formatValue(alert.threshold)} {alert.unit ?? ''}
            </td>
            <td data-label="Opened">{formatIso(alert.opened_at)}</td>
            <td data-label="State">{alert.state === 'open' ? 'open' : `cleared ${formatIso(alert.cleared_at)}`}</td>
            <td data-label="Acknowledged">
              {alert.acknowledged ? (
                <span className="acked">
                  ✓ {alert.acknowledged_by ?? 'someone'}, {formatIso(alert.acknowledged_at)}
                </span>
              ) : alert.state === 'open' && onAcknowledge ? (
                <button type="button" onClick={() => onAcknowledge(alert)}
                  aria-label={`Acknowledge alert ${alert.alert_id}: ${alert.machine_id} ${alert.parameter}`}>
                  Acknowledge
                </button>
              ) : (
                'no'
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
