/**
 * One parameter over time, drawn with uPlot (canvas; about 20 KB gzipped and
 * fast with thousands of points, which matters for 30-day ranges).
 *
 * Drawn on top of the data: the warning (amber) and critical (red) thresholds
 * as dashed lines. Drag across the chart to zoom in, double-click or "Reset
 * zoom" to go back; the zoom buttons do the same from the keyboard. A tooltip
 * follows the cursor with the time and value (min/avg/max for buckets).
 */

import { useEffect, useRef, useState } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { formatTime, formatValue } from '../format'
import { type ChartData, type Threshold, yRange } from './chartData'

const COLORS = {
  line: '#38bdf8',
  minmax: 'rgba(56, 189, 248, 0.45)',
  band: 'rgba(56, 189, 248, 0.18)',
  warning: '#fbbf24',
  critical: '#f87171',
  axis: '#cbd5e1',
  grid: 'rgba(148, 163, 184, 0.18)',
}

interface Props {
  title: string
  unit: string | null
  data: ChartData
  thresholds: Threshold[]
  height?: number
  /** Called after every draw (the page times range changes with it). */
  onDrawn?: () => void
}

function thresholdPlugin(thresholds: Threshold[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const { ctx, bbox } = u
        const ratio = window.devicePixelRatio || 1
        ctx.save()
        ctx.lineWidth = 1.5 * ratio
        ctx.font = `${11 * ratio}px system-ui, sans-serif`
        ctx.textAlign = 'right'
        for (const t of thresholds) {
          const y = Math.round(u.valToPos(t.value, 'y', true))
          if (y < bbox.top || y > bbox.top + bbox.height) continue
          ctx.strokeStyle = t.level === 'critical' ? COLORS.critical : COLORS.warning
          ctx.fillStyle = ctx.strokeStyle
          ctx.setLineDash([6 * ratio, 4 * ratio])
          ctx.beginPath()
          ctx.moveTo(bbox.left, y)
          ctx.lineTo(bbox.left + bbox.width, y)
          ctx.stroke()
          ctx.fillText(t.label, bbox.left + bbox.width - 4 * ratio, y - 4 * ratio)
        }
        ctx.restore()
      },
    },
  }
}

function tooltipPlugin(unit: string | null): uPlot.Plugin {
  let tip: HTMLDivElement | null = null
  return {
    hooks: {
      init: (u) => {
        const element = document.createElement('div')
        element.className = 'chart-tip'
        element.style.display = 'none'
        u.over.appendChild(element)
        u.over.addEventListener('mouseleave', () => (element.style.display = 'none'))
        tip = element
      },
      setCursor: (u) => {
        if (!tip) return
        const idx = u.cursor.idx
        const left = u.cursor.left ?? -1
        const x = idx === null || idx === undefined ? undefined : u.data[0][idx]
        const y = idx === null || idx === undefined ? undefined : u.data[1]?.[idx]
        if (left < 0 || x === undefined || y === undefined || y === null) {
          tip.style.display = 'none'
          return
        }
        const suffix = unit ? ` ${unit}` : ''
        const low = u.data[2]?.[idx!]
        const high = u.data[3]?.[idx!]
        const detail =
          low !== undefined && low !== null && high !== undefined && high !== null
            ? `avg ${formatValue(y)}${suffix} (min ${formatValue(low)}, max ${formatValue(high)})`
            : `${formatValue(y)}${suffix}`
        tip.textContent = `${formatTime(x * 1000)} · ${detail}`
        tip.style.display = 'block'
        const flip = left > u.over.clientWidth / 2
        tip.style.left = flip ? '' : `${left + 12}px`
        tip.style.right = flip ? `${u.over.clientWidth - left + 12}px` : ''
        tip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 32)}px`
      },
    },
  }
}

function columns(data: ChartData): uPlot.AlignedData {
  return data.kind === 'series' ? [data.x, data.y, data.min, data.max] : [data.x, data.y]
}

interface BuildOptions {
  kind: ChartData['kind']
  thresholds: Threshold[]
  unit: string | null
  width: number
  height: number
  onZoom: () => void
  onUnzoom: () => void
  onDrawn: () => void
}

function buildOptions(o: BuildOptions): uPlot.Options {
  const series: uPlot.Series[] = [
    {},
    { label: o.kind === 'series' ? 'avg' : 'value', stroke: COLORS.line, width: 1.5 },
  ]
  const bands: uPlot.Band[] = []
  if (o.kind === 'series') {
    series.push({ label: 'min', stroke: COLORS.minmax, width: 1 })
    series.push({ label: 'max', stroke: COLORS.minmax, width: 1 })
    bands.push({ series: [3, 2], fill: COLORS.band })
  }
  const axis = { stroke: COLORS.axis, grid: { stroke: COLORS.grid }, ticks: { stroke: COLORS.grid } }
  return {
    width: o.width,
    height: o.height,
    series,
    bands,
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: true } },
    scales: {
      x: { time: true },
      y: { range: (u) => yRange(u.data.slice(1), o.thresholds) },
    },
    axes: [axis, { ...axis, size: 64, label: o.unit ?? undefined, labelSize: 18 }],
    hooks: {
      setSelect: [(u) => u.select.width > 0 && o.onZoom()],
      draw: [() => o.onDrawn()],
      // uPlot resets the zoom itself on a double click.
      ready: [(u) => u.over.addEventListener('dblclick', o.onUnzoom)],
    },
    plugins: [thresholdPlugin(o.thresholds), tooltipPlugin(o.unit)],
  }
}

/** The x axis covers the chosen range (and any reading stamped a little ahead of it). */
function showSpan(chart: uPlot, data: ChartData) {
  const last = data.x[data.x.length - 1] ?? data.span[1]
  chart.setScale('x', { min: data.span[0], max: Math.max(data.span[1], last) })
}

export function TimeChart({ title, unit, data, thresholds, height = 220, onDrawn }: Props) {
  const holder = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const shown = useRef<ChartData | null>(null)
  const drawn = useRef(onDrawn)
  const [zoomed, setZoomed] = useState(false)
  const zoomedRef = useRef(false)
  drawn.current = onDrawn
  zoomedRef.current = zoomed

  // A new uPlot when the shape of the chart changes (kind, thresholds, unit).
  useEffect(() => {
    const element = holder.current
    if (!element) return
    const chart = new uPlot(
      buildOptions({
        kind: data.kind,
        thresholds,
        unit,
        width: element.clientWidth || 600,
        height,
        onZoom: () => setZoomed(true),
        onUnzoom: () => setZoomed(false),
        onDrawn: () => drawn.current?.(),
      }),
      columns(data),
      element,
    )
    showSpan(chart, data)
    plot.current = chart
    shown.current = data
    const observer = new ResizeObserver(() => {
      if (element.clientWidth > 0) chart.setSize({ width: element.clientWidth, height })
    })
    observer.observe(element)
    return () => {
      observer.disconnect()
      chart.destroy()
      plot.current = null
    }
    // Data changes are applied by the effect below, without a new chart.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data.kind, thresholds, unit, height])

  // New data (another range, live appends) keeps a zoom the user chose.
  useEffect(() => {
    if (!plot.current || shown.current === data) return
    shown.current = data
    plot.current.setData(columns(data), false)
    if (!zoomedRef.current) showSpan(plot.current, data)
  }, [data])

  const zoom = (factor: number) => {
    const chart = plot.current
    const min = chart?.scales.x?.min
    const max = chart?.scales.x?.max
    if (!chart || min === undefined || max === undefined || min === null || max === null) return
    const middle = (min + max) / 2
    const half = ((max - min) / 2) * factor
    chart.setScale('x', { min: middle - half, max: middle + half })
    setZoomed(true)
  }
  const reset = () => {
    if (plot.current) showSpan(plot.current, data)
    setZoomed(false)
  }

  return (
    <figure className="chart" data-points={data.x.length}>
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="chart-source">
          {data.x.length} points · {data.source}
        </span>
        <span className="chart-zoom">
          <button type="button" onClick={() => zoom(0.5)} aria-label={`Zoom in on ${title}`}>
            +
          </button>
          <button type="button" onClick={() => zoom(2)} aria-label={`Zoom out of ${title}`}>
            −
          </button>
          <button type="button" onClick={reset} disabled={!zoomed}>
            Reset zoom
          </button>
        </span>
      </figcaption>
      <div ref={holder} className="chart-canvas" role="img" aria-label={`${title} chart, ${data.x.length} points`} />
      {data.x.length === 0 && <p className="chart-empty">No readings in this range.</p>}
    </figure>
  )
}
