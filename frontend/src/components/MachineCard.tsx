import { memo } from 'react'
import { formatAge, formatValue } from '../format'
import { machineHref } from '../router'
import { useNow } from '../state/clock'
import type { MachineState } from '../state/fleet'
import { Sparkline } from './Sparkline'
import { StatusBadge } from './StatusBadge'

function Freshness({ lastSeen, staleAfterMs }: { lastSeen: number; staleAfterMs: number }) {
  const now = useNow()
  const stale = now - lastSeen > staleAfterMs
  return (
    <span className={stale ? 'age age-stale' : 'age'}>
      {lastSeen > 0 ? `last reading ${formatAge(now - lastSeen)}` : 'no reading yet'}
      {stale && <strong className="stale-mark"> · STALE</strong>}
    </span>
  )
}

interface Props {
  machine: MachineState
  stale: boolean
  staleAfterMs: number
}

/** One machine on the fleet overview; re-renders only when its machine changes. */
export const MachineCard = memo(function MachineCard({ machine, stale, staleAfterMs }: Props) {
  const titleId = `machine-${machine.id}`
  return (
    <article
      className={`card card-${machine.status.toLowerCase()}${stale ? ' card-stale' : ''}`}
      aria-labelledby={titleId}
      data-machine-id={machine.id}
      data-status={machine.status}
      data-stale={stale}
    >
      <header className="card-head">
        <h3 id={titleId}>
          <a href={machineHref(machine.id)}>{machine.id}</a>
        </h3>
        <StatusBadge status={machine.status} />
      </header>
      <p className="card-type">{machine.type}</p>
      <table className="readings">
        <caption className="visually-hidden">Latest readings of {machine.id}</caption>
        <tbody>
          {machine.parameters.map((p) => (
            <tr key={p.name} className={`reading reading-${p.status.toLowerCase()}`} data-parameter={p.name}>
              <th scope="row">{p.name}</th>
              <td className="value">
                <span className="num">{formatValue(p.value)}</span>
                {p.unit && <span className="unit"> {p.unit}</span>}
                {p.status !== 'NORMAL' && <span className="visually-hidden"> ({p.status})</span>}
              </td>
              <td className="trend">
                <Sparkline points={p.history} label={`${p.name} trend`} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <footer className="card-foot">
        <Freshness lastSeen={machine.lastSeen} staleAfterMs={staleAfterMs} />
      </footer>
    </article>
  )
})
