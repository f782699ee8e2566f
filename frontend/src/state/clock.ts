/**
 * One shared one-second clock for ages ("12 s ago") and stale marks.
 *
 * Components that show time read it through useNow(), so only they re-render
 * each second, not the whole page.
 */

import { useSyncExternalStore } from 'react'

const listeners = new Set<() => void>()
let now = Date.now()
let timer: ReturnType<typeof setInterval> | null = null

function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  if (timer === null) {
    // The first subscriber after a pause: React re-reads the snapshot after
    // subscribing, so components rendered with an old time update at once.
    now = Date.now()
    timer = setInterval(() => {
      now = Date.now()
      for (const notify of listeners) notify()
    }, 1000)
  }
  return () => {
    listeners.delete(listener)
    if (listeners.size === 0 && timer !== null) {
      clearInterval(timer)
      timer = null
    }
  }
}

function snapshot(): number {
  return now
}

/** Milliseconds since the epoch, refreshed every second. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, snapshot, snapshot)
}
