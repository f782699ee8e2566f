import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestServer, closedPort, json, startServer } from '../test/server'
import { ApiClient, ApiError } from './client'

let server: TestServer

beforeAll(async () => {
  server = await startServer()
})

afterAll(() => server.close())

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof ApiError) return error
    throw error
  }
  throw new Error('the request succeeded')
}

describe('ApiClient', () => {
  it('returns the JSON body of a successful request', async () => {
    server.handle((_request, response) =>
      json(response, 200, { machines: [], count: 0, stale_after_seconds: 60, generated_at: 'now' }),
    )
    const body = await new ApiClient(server.baseUrl).machines()
    expect(body.count).toBe(0)
    expect(server.requests.at(-1)?.url.pathname).toBe('/dev/machines')
  })

  it('sends query parameters, leaving out the ones not given', async () => {
    server.handle((_request, response) => json(response, 200, { alerts: [], count: 0, state: 'all', limit: 5 }))
    await new ApiClient(server.baseUrl).alerts({ state: 'all', severity: null, machineId: 'drill 1', limit: 5 })
    expect(server.requests.at(-1)?.url.search).toBe('?state=all&machine_id=drill+1&limit=5')
  })

  it('encodes the machine id in the path and times as ISO-8601', async () => {
    server.handle((_request, response) => json(response, 200, { points: [] }))
    await new ApiClient(server.baseUrl).series('drill/1', {
      parameter: 'Temperature',
      from: new Date('2026-12-03T19:00:00Z'),
      interval: 'auto',
    })
    const url = server.requests.at(-1)!.url
    expect(url.pathname).toBe('/dev/machines/drill%2F1/series')
    expect(url.searchParams.get('from')).toBe('2026-12-03T19:00:00.000Z')
  })

  it('posts who acknowledges as JSON, and no body without a name', async () => {
    server.handle((_request, response) => json(response, 200, { alert_id: 7 }))
    const client = new ApiClient(server.baseUrl)
    await client.acknowledge(7, ' alice ')
    expect(server.requests.at(-1)).toMatchObject({ method: 'POST', body: '{"by":"alice"}' })
    expect(server.requests.at(-1)?.headers['content-type']).toBe('application/json')
    await client.acknowledge(7)
    expect(server.requests.at(-1)?.body).toBe('')
  })

  it("reports the API's own error code and message with the request that failed", async () => {
    server.handle((_request, response) =>
      json(response, 409, {
        error: 'AlertAlreadyAcknowledged',
        message: 'alert 7 was already acknowledged by bob at 2026-12-03T19:00:00.000Z; nothing to do',
      }),
    )
    const error = await failure(new ApiClient(server.baseUrl).acknowledge(7))
    expect(error).toMatchObject({ kind: 'http', status: 409, code: 'AlertAlreadyAcknowledged' })
    expect(error.message).toBe(
      'POST /alerts/7/ack: HTTP 409 AlertAlreadyAcknowledged: alert 7 was already acknowledged by bob at 2026-12-03T19:00:00.000Z; nothing to do',
    )
  })

  it('quotes the start of a non-JSON error body (a gateway error page)', async () => {
    server.handle((_request, response) => response.writeHead(502).end('<h1>Bad Gateway</h1>'))
    const error = await failure(new ApiClient(server.baseUrl).machines())
    expect(error).toMatchObject({ kind: 'http', status: 502, code: null })
    expect(error.message).toBe('GET /machines: HTTP 502: <h1>Bad Gateway</h1>')
  })

  it('rejects a successful answer that is not JSON', async () => {
    server.handle((_request, response) => response.writeHead(200).end('OK'))
    const error = await failure(new ApiClient(server.baseUrl).machines())
    expect(error.kind).toBe('invalid-response')
    expect(error.message).toBe('GET /machines: the answer is not JSON (OK)')
  })

  it('says it cannot reach the API, naming its URL, when nothing listens', async () => {
    const baseUrl = `http://127.0.0.1:${await closedPort()}/dev/`
    const error = await failure(new ApiClient(baseUrl).machines())
    expect(error.kind).toBe('network')
    expect(error.message).toMatch(new RegExp(`^GET /machines: cannot reach the API at ${baseUrl} \\(.+\\)$`))
  })

  it('gives up after the timeout when the API does not answer', async () => {
    server.handle(() => {
      // never answers
    })
    const error = await failure(new ApiClient(server.baseUrl, undefined, 200).health())
    expect(error.kind).toBe('timeout')
    expect(error.message).toBe('GET /health: no answer within 0.2 s')
  })
})
