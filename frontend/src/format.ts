/** How numbers, times and ages are written for people. */

export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return '–'
  const abs = Math.abs(value)
  const digits = abs >= 10_000 ? 0 : abs >= 100 ? 1 : 2
  return value.toLocaleString('en-GB', {
    minimumFractionDigits: 0,
    maximumFractionDigits: digits,
  })
}

export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  if (seconds < 60) return `${seconds} s ago`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours} h ago`
  return `${Math.floor(hours / 24)} d ago`
}

export function formatTime(ms: number): string {
  const date = new Date(ms)
  const today = new Date()
  const time = date.toLocaleTimeString('en-GB', { hour12: false })
  if (date.toDateString() === today.toDateString()) return time
  return `${date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} ${time}`
}

export function formatIso(iso: string | null): string {
  if (!iso) return '–'
  const ms = Date.parse(iso)
  return Number.isFinite(ms) ? formatTime(ms) : iso
}
