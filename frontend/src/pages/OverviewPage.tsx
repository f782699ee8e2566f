import { useMemo } from 'react'
import type { MachineStatus } from '../api/types'
import { MachineCard } from '../components/MachineCard'
import { replaceQuery } from '../router'
import { useNow } from '../state/clock'
import { useDashboard } from '../state/context'
import { type StatusFilter, filterMachines, isStale, sortWorstFirst } from '../state/fleet'

const STATUS_FILTERS: { value: StatusFilter; label: string }[] = [
  { value: 'all', label: 'All statuses' },
  { value: 'CRITICAL', label: 'Critical' },
  { value: 'WARNING', label: 'Warning' },
  { value: 'NORMAL', label: 'Normal' },
  { value: 'UNKNOWN', label: 'Unknown' },
  { value: 'stale', label: 'Stale' },
]

function parseStatus(value: string | null): StatusFilter {
  return STATUS_FILTERS.find((f) => f.value === value)?.value ?? 'all'
}

/** The fleet: a card per machine, worst first, filtered by type and status. */
export function OverviewPage({ query }: { query: URLSearchParams }) {
  const { fleet, catalog, loaded, apiProblem } = useDashboard()
  const now = useNow()
  const type = query.get('type') || null
  const status = parseStatus(query.get('status'))

  const all = useMemo(() => Object.values(fleet.machines), [fleet.machines])
  const types = useMemo(
    () => [...new Set([...catalog.types, ...all.map((m) => m.type)])].sort(),
    [catalog, all],
  )
  // Stale flags change with the clock; sorting 50 machines each second is cheap.
  const visible = sortWorstFirst(
    filterMachines(all, { type, status }, now, fleet.staleAfterMs),
    now,
    fleet.staleAfterMs,
  )
  const counts = countStatuses(all, now, fleet.staleAfterMs)
  const setFilter = (key: 'type' | 'status', value: string | null) =>
    replaceQuery('/', { type, status: status === 'all' ? null : status, [key]: value })

  if (!loaded) {
    return (
      <section aria-busy="true" className="placeholder" data-testid="fleet-loading">
        <h2>Fleet</h2>
        <p>{apiProblem ? 'Waiting for the API…' : 'Loading the fleet…'}</p>
      </section>
    )
  }

  return (
    <section aria-labelledby="fleet-title">
      <div className="toolbar">
        <h2 id="fleet-title">
          Fleet <span className="count">({all.length})</span>
        </h2>
        <p className="summary" aria-live="polite">
          <span className="summary-critical">{counts.CRITICAL} critical</span> ·{' '}
          <span className="summary-warning">{counts.WARNING} warning</span> ·{' '}
          <span>{counts.NORMAL} normal</span> · <span>{counts.stale} stale</span>
        </p>
        <div className="filters">
          <label>
            Type{' '}
            <select value={type ?? ''} onChange={(e) => setFilter('type', e.target.value || null)}>
              <option value="">All types</option>
              {types.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label>
            Status{' '}
            <select
              value={status}
              onChange={(e) => setFilter('status', e.target.value === 'all' ? null : e.target.value)}
            >
              {STATUS_FILTERS.map((f) => (
                <option key={f.value} value={f.value}>
                  {f.label}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>

      {all.length === 0 ? (
        <div className="placeholder" data-testid="fleet-empty">
          <p>
            <strong>No machines have reported yet.</strong> Machines appear here with their first
            reading. <code>make deploy-local</code> starts a simulator with 10 machines; check it
            with <code>make status</code>.
          </p>
        </div>
      ) : visible.length === 0 ? (
        <p className="placeholder" data-testid="fleet-filtered-empty">
          No machine matches these filters.{' '}
          <button type="button" onClick={() => replaceQuery('/', {})}>
            Show all machines
          </button>
        </p>
      ) : (
        <div className="grid" data-testid="fleet-grid">
          {visible.map((machine) => (
            <MachineCard
              key={machine.id}
              machine={machine}
              stale={isStale(machine, now, fleet.staleAfterMs)}
              staleAfterMs={fleet.staleAfterMs}
            />
          ))}
        </div>
      )}
    </section>
  )
}

function countStatuses(machines: { status: MachineStatus; lastSeen: number }[], now: number, staleAfterMs: number) {
  const counts = { CRITICAL: 0, WARNING: 0, NORMAL: 0, UNKNOWN: 0, stale: 0 }
  for (const m of machines) {
    counts[m.status] += 1
    if (now - m.lastSeen > staleAfterMs) counts.stale += 1
  }
  return counts
}
