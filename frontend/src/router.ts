/**
 * Hash-based routes (#/, #/machines/drill-001, #/alerts, #/docs).
 *
 * The S3 website serves index.html only at the root (and as the error
 * document, with a 404 status), so path-based routes would break on reload;
 * the hash never reaches the server. Four routes do not justify a router
 * library in the initial bundle.
 */

import { useSyncExternalStore } from 'react'

export type Route =
  | { page: 'overview'; query: URLSearchParams }
  | { page: 'machine'; machineId: string; query: URLSearchParams }
  | { page: 'alerts'; query: URLSearchParams }
  | { page: 'docs'; query: URLSearchParams }
  | { page: 'not-found'; path: string; query: URLSearchParams }

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/'
  const [path = '/', search = ''] = raw.split('?', 2)
  const query = new URLSearchParams(search)
  const parts = path.split('/').filter(Boolean)
  if (parts.length === 0) return { page: 'overview', query }
  if (parts[0] === 'machines' && parts.length === 2 && parts[1]) {
    let machineId = parts[1]
    try {
      machineId = decodeURIComponent(parts[1])
    } catch {
      // keep the raw text; the API answers 404 for it
    }
    return { page: 'machine', machineId, query }
  }
  if (parts[0] === 'alerts' && parts.length === 1) return { page: 'alerts', query }
  if (parts[0] === 'docs' && parts.length === 1) return { page: 'docs', query }
  return { page: 'not-found', path, query }
}

export function machineHref(machineId: string): string {
  return `#/machines/${encodeURIComponent(machineId)}`
}

export function hrefWithQuery(path: string, query: Record<string, string | null>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value)
  const search = params.toString()
  return `#${path}${search ? `?${search}` : ''}`
}

/** Replaces the query of the current route without adding a history entry. */
export function replaceQuery(path: string, query: Record<string, string | null>): void {
  const href = hrefWithQuery(path, query)
  window.history.replaceState(null, '', href)
  window.dispatchEvent(new HashChangeEvent('hashchange'))
}

function subscribe(listener: () => void): () => void {
  window.addEventListener('hashchange', listener)
  return () => window.removeEventListener('hashchange', listener)
}

const currentHash = () => window.location.hash

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, currentHash, () => '')
  return parseHash(hash)
}
