import { formatAge, formatTime, formatValue } from '../format'
import { machineHref } from '../router'
import { useNow } from '../state/clock'
import type { CriticalItem } from '../state/fleet'

/**
 * The red box at the top of every page while any machine is CRITICAL. It is
 * derived from the live statuses, so it appears with the reading that crosses
 * the threshold and disappears with the one that recovers.
 */
export function CriticalAlertBox({ items }: { items: CriticalItem[] }) {
  const now = useNow()
  if (items.length === 0) return null
  const machines = new Set(items.map((i) => i.machineId)).size
  return (
    <section className="critical-box" role="alert" aria-labelledby="critical-title" data-testid="critical-alert-box">
      <h2 id="critical-title">
        CRITICAL: {machines} machine{machines === 1 ? '' : 's'} need{machines === 1 ? 's' : ''} attention
      </h2>
      <ul>
        {items.map((item) => (
          <li key={`${item.machineId}/${item.parameter}`} data-machine-id={item.machineId}>
            <a href={machineHref(item.machineId)}>{item.machineId}</a>{' '}
            <span className="critical-type">({item.machineType})</span>: {item.parameter}{' '}
            <strong>
              {formatValue(item.value)}
              {item.unit ? ` ${item.unit}` : ''}
            </strong>{' '}
            since <time dateTime={new Date(item.since).toISOString()}>{formatTime(item.since)}</time>{' '}
            <span className="critical-age">({formatAge(now - item.since)})</span>
          </li>
        ))}
      </ul>
    </section>
  )
}
