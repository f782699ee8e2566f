/**
 * The API's documentation: Swagger UI over GET /openapi.json.
 *
 * Swagger UI's files come from the swagger-ui-dist package, copied into the
 * build under docs/ (vite.config.ts), so the website bucket serves them and no
 * CDN is involved. They are loaded only when this page opens: about 400 KB
 * gzipped that the fleet overview never needs.
 */

import { useEffect, useRef, useState } from 'react'
import { useDashboard } from '../state/context'

interface SwaggerUIBundleFn {
  (options: Record<string, unknown>): unknown
}

declare global {
  interface Window {
    SwaggerUIBundle?: SwaggerUIBundleFn
  }
}

const base = __SWAGGER_UI_PATH__

function loadOnce(tag: 'script' | 'link', url: string): Promise<void> {
  const selector = tag === 'script' ? `script[src="${url}"]` : `link[href="${url}"]`
  const existing = document.querySelector<HTMLElement>(selector)
  if (existing?.dataset.loaded === 'true') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const element = existing ?? document.createElement(tag)
    element.addEventListener('load', () => {
      element.dataset.loaded = 'true'
      resolve()
    })
    element.addEventListener('error', () => reject(new Error(`could not load ${url}`)))
    if (!existing) {
      if (element instanceof HTMLScriptElement) element.src = url
      if (element instanceof HTMLLinkElement) {
        element.rel = 'stylesheet'
        element.href = url
      }
      document.head.appendChild(element)
    }
  })
}

export default function DocsPage() {
  const { config } = useDashboard()
  const holder = useRef<HTMLDivElement>(null)
  const [error, setError] = useState<string | null>(null)
  const specUrl = new URL('openapi.json', config.apiUrl).toString()

  useEffect(() => {
    let cancelled = false
    Promise.all([
      loadOnce('link', `${base}swagger-ui.css`),
      loadOnce('script', `${base}swagger-ui-bundle.js`),
    ])
      .then(() => {
        if (cancelled || !holder.current || !window.SwaggerUIBundle) return
        window.SwaggerUIBundle({
          url: specUrl,
          domNode: holder.current,
          deepLinking: false,
          tryItOutEnabled: false,
        })
      })
      .catch((e: unknown) => !cancelled && setError(e instanceof Error ? e.message : String(e)))
    return () => {
      cancelled = true
    }
  }, [specUrl])

  return (
    <section aria-labelledby="docs-title" className="docs">
      <div className="toolbar">
        <h2 id="docs-title">API documentation</h2>
        <p className="summary">
          OpenAPI document: <a href={specUrl}>{specUrl}</a>
        </p>
      </div>
      {error && (
        <p className="banner banner-error" role="alert">
          Swagger UI could not start: {error}
        </p>
      )}
      <div ref={holder} className="swagger-holder" data-testid="swagger-ui" />
    </section>
  )
}
