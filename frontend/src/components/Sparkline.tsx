import { memo } from 'react'
import type { HistoryPoint } from '../state/fleet'

interface Props {
  points: HistoryPoint[]
  width?: number
  height?: number
  label: string
}

/**
 * A small trend line: plain SVG, because a fleet page draws hundreds of them
 * and a chart library per sparkline would cost more than the whole card.
 */
export const Sparkline = memo(function Sparkline({
  points,
  width = 96,
  height = 24,
  label,
}: Props) {
  if (points.length < 2) {
    return (
      <svg className="sparkline" height={height} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none"
        role="img" aria-label={`${label}: not enough data for a trend yet`}>
        <line x1="0" x2={width} y1={height / 2} y2={height / 2} className="sparkline-empty" vectorEffect="non-scaling-stroke" />
      </svg>
    )
  }
  const first = points[0]!.t
  const span = Math.max(1, points[points.length - 1]!.t - first)
  let low = Number.POSITIVE_INFINITY
  let high = Number.NEGATIVE_INFINITY
  for (const p of points) {
    low = Math.min(low, p.v)
    high = Math.max(high, p.v)
  }
  const range = high - low || 1
  const path = points
    .map((p) => {
      const x = ((p.t - first) / span) * (width - 2) + 1
      const y = height - 1 - ((p.v - low) / range) * (height - 2)
      return `${x.toFixed(1)},${y.toFixed(1)}`
    })
    .join(' ')
  const trend = points[points.length - 1]!.v >= points[0]!.v ? 'rising' : 'falling'
  return (
    <svg className="sparkline" height={height} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none"
      role="img" aria-label={`${label}: ${points.length} points, ${trend}`}>
      <polyline points={path} fill="none" vectorEffect="non-scaling-stroke" />
    </svg>
  )
})
