import type { MachineStatus } from '../api/types'

// A shape as well as a colour, so the status reads without colour vision.
const SYMBOL: Record<MachineStatus, string> = {
  CRITICAL: '■',
  WARNING: '▲',
  NORMAL: '●',
  UNKNOWN: '?',
}

export function StatusBadge({ status }: { status: MachineStatus }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      <span aria-hidden="true">{SYMBOL[status]}</span> {status}
    </span>
  )
}
