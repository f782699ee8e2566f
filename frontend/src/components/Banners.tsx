import type { LinkStatus } from '../live/link'
import { useNow } from '../state/clock'
import type { ApiProblem } from '../state/context'

export function ApiBanner({ problem, onRetry }: { problem: ApiProblem; onRetry: () => void }) {
  const now = useNow()
  const seconds = Math.max(0, Math.ceil((problem.retryAt - now) / 1000))
  return (
    <div className="banner banner-error" role="alert" data-testid="api-banner">
      <p>
        <strong>API unreachable.</strong> {problem.message}
      </p>
      <p className="banner-retry">
        {seconds > 0 ? `Retrying in ${seconds} s` : 'Retrying now'} (attempt {problem.attempts}).
        Values shown may be out of date.{' '}
        <button type="button" onClick={onRetry}>
          Retry now
        </button>
      </p>
    </div>
  )
}

export function BrokerBanner({ link }: { link: LinkStatus }) {
  if (link.mode !== 'polling') return null
  return (
    <div className="banner banner-warning" role="status" data-testid="broker-banner">
      <p>
        <strong>Live updates unavailable.</strong> {link.detail}
      </p>
    </div>
  )
}

const LABEL: Record<LinkStatus['mode'], string> = {
  mqtt: 'Live (MQTT)',
  polling: 'Polling API',
  connecting: 'Connecting…',
}

/** The small indicator in the header: which source keeps the page current. */
export function LinkIndicator({ link }: { link: LinkStatus }) {
  return (
    <span className={`link link-${link.mode}`} title={link.detail} data-testid="link-indicator" data-mode={link.mode}>
      <span className="link-dot" aria-hidden="true" /> {LABEL[link.mode]}
      <span className="visually-hidden">: {link.detail}</span>
    </span>
  )
}
