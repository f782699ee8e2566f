/**
 * A small typed client for the REST API.
 *
 * Every failure becomes an ApiError whose message says which request failed
 * and how (network, timeout, HTTP status with the API's own error code and
 * message, or a body that is not JSON), because the dashboard shows it to the
 * operator verbatim in the "API unreachable" banner. fetch is injected so
 * tests can drive the client without a network.
 */

import type {
  Alert,
  AlertList,
  ErrorBody,
  Health,
  MachineDetail,
  MachineList,
  ParameterCatalog,
  ReadingsPage,
  Series,
  Severity,
} from './types'

export type ApiErrorKind = 'network' | 'timeout' | 'http' | 'invalid-response'

export class ApiError extends Error {
  override name = 'ApiError'
  readonly kind: ApiErrorKind
  readonly request: string
  readonly status: number | null
  readonly code: string | null

  constructor(
    kind: ApiErrorKind,
    request: string,
    detail: string,
    status: number | null = null,
    code: string | null = null,
  ) {
    super(`${request}: ${detail}`)
    this.kind = kind
    this.request = request
    this.status = status
    this.code = code
  }
}

type Query = Record<string, string | number | null | undefined>

export interface ReadingsQuery {
  parameter: string
  from?: Date
  to?: Date
  limit?: number
  order?: 'asc' | 'desc'
}

export interface SeriesQuery {
  parameter: string
  from?: Date
  to?: Date
  interval?: string
}

export interface AlertsQuery {
  state?: 'open' | 'cleared' | 'all'
  severity?: Severity | null
  machineId?: string | null
  limit?: number
}

function isErrorBody(value: unknown): value is ErrorBody {
  const body = value as Partial<ErrorBody> | null
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof body.error === 'string' &&
    typeof body.message === 'string'
  )
}

export class ApiClient {
  readonly baseUrl: string
  private readonly fetchFn: typeof fetch
  private readonly timeoutMs: number

  constructor(
    baseUrl: string,
    fetchFn: typeof fetch = (input, init) => fetch(input, init),
    timeoutMs = 10_000,
  ) {
    this.baseUrl = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/'
    this.fetchFn = fetchFn
    this.timeoutMs = timeoutMs
  }

  url(path: string, query: Query = {}): string {
    const url = new URL(path.replace(/^\//, ''), this.baseUrl)
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined) url.searchParams.set(key, String(value))
    }
    return url.toString()
  }

  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    query: Query = {},
    body?: unknown,
  ): Promise<T> {
    const label = `${method} /${path.replace(/^\//, '')}`
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), this.timeoutMs)
    let response: Response
    try {
      response = await this.fetchFn(this.url(path, query), {
        method,
        signal: controller.signal,
        headers: body === undefined ? undefined : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (error) {
      if (controller.signal.aborted) {
        throw new ApiError('timeout', label, `no answer within ${this.timeoutMs / 1000} s`)
      }
      const reason = error instanceof Error ? error.message : String(error)
      throw new ApiError(
        'network',
        label,
        `cannot reach the API at ${this.baseUrl} (${reason})`,
      )
    } finally {
      clearTimeout(timer)
    }

    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : null
    } catch {
      parsed = undefined
    }
    if (!response.ok) {
      if (isErrorBody(parsed)) {
        throw new ApiError(
          'http',
          label,
          `HTTP ${response.status} ${parsed.error}: ${parsed.message}`,
          response.status,
          parsed.error,
        )
      }
      const excerpt = text.slice(0, 200).trim() || response.statusText || 'no body'
      throw new ApiError('http', label, `HTTP ${response.status}: ${excerpt}`, response.status)
    }
    if (parsed === undefined || parsed === null) {
      throw new ApiError(
        'invalid-response',
        label,
        `the answer is not JSON (${text.slice(0, 80).trim() || 'empty body'})`,
        response.status,
      )
    }
    return parsed as T
  }

  health(): Promise<Health> {
    return this.request('GET', 'health')
  }

  machines(): Promise<MachineList> {
    return this.request('GET', 'machines')
  }

  machine(machineId: string): Promise<MachineDetail> {
    return this.request('GET', `machines/${encodeURIComponent(machineId)}`)
  }

  readings(machineId: string, query: ReadingsQuery): Promise<ReadingsPage> {
    return this.request('GET', `machines/${encodeURIComponent(machineId)}/readings`, {
      parameter: query.parameter,
      from: query.from?.toISOString(),
      to: query.to?.toISOString(),
      limit: query.limit,
      order: query.order,
    })
  }

  series(machineId: string, query: SeriesQuery): Promise<Series> {
    return this.request('GET', `machines/${encodeURIComponent(machineId)}/series`, {
      parameter: query.parameter,
      from: query.from?.toISOString(),
      to: query.to?.toISOString(),
      interval: query.interval,
    })
  }

  parameters(): Promise<ParameterCatalog> {
    return this.request('GET', 'parameters')
  }

  alerts(query: AlertsQuery = {}): Promise<AlertList> {
    return this.request('GET', 'alerts', {
      state: query.state,
      severity: query.severity,
      machine_id: query.machineId,
      limit: query.limit,
    })
  }

  acknowledge(alertId: number, by?: string): Promise<Alert> {
    const body = by?.trim() ? { by: by.trim() } : undefined
    return this.request('POST', `alerts/${alertId}/ack`, {}, body)
  }
}
