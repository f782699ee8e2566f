import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, parseConfig } from './config'

const VALID = {
  apiUrl: 'http://abc123.execute-api.localhost:4566/dev',
  mqttUrl: 'ws://127.0.0.1:9001',
  mqttUsername: 'dashboard',
  mqttPassword: 'secret',
  target: 'local',
}

function answer(status: number, body: string): typeof fetch {
  return async () => new Response(body, { status })
}

describe('parseConfig', () => {
  it('accepts the file the deploy tooling writes and adds the trailing slash to apiUrl', () => {
    expect(parseConfig(VALID)).toEqual({ ...VALID, apiUrl: `${VALID.apiUrl}/` })
  })

  it('turns live updates off when mqttUrl is missing or empty', () => {
    expect(parseConfig({ apiUrl: VALID.apiUrl }).mqttUrl).toBeNull()
    expect(parseConfig({ ...VALID, mqttUrl: '' }).mqttUrl).toBeNull()
  })

  it('names a missing apiUrl and who writes the file', () => {
    expect(() => parseConfig({ mqttUrl: VALID.mqttUrl })).toThrow(
      'config.json has no apiUrl; the deploy tooling writes it (make deploy-local)',
    )
  })

  it('rejects an apiUrl that is not http(s), with an example', () => {
    expect(() => parseConfig({ apiUrl: 'ftp://x/' })).toThrow(
      'config.json: apiUrl "ftp://x/" must start with http:// or https://, such as http://abc.execute-api.localhost:4566/dev/',
    )
  })

  it('rejects an mqttUrl that is not a WebSockets URL', () => {
    expect(() => parseConfig({ ...VALID, mqttUrl: 'mqtt://127.0.0.1:1883' })).toThrow(
      'config.json: mqttUrl "mqtt://127.0.0.1:1883" must start with ws:// or wss://, such as ws://127.0.0.1:9001',
    )
  })

  it('rejects text that is not a URL and fields of the wrong type', () => {
    expect(() => parseConfig({ apiUrl: 'not a url' })).toThrow('config.json: apiUrl "not a url" is not a URL')
    expect(() => parseConfig({ apiUrl: 42 })).toThrow('config.json: apiUrl must be a string, got 42')
    expect(() => parseConfig([VALID])).toThrow(ConfigError)
  })
})

describe('loadConfig', () => {
  it('fetches config.json without the cache and validates it', async () => {
    let seen: RequestInit | undefined
    const fetchFn: typeof fetch = async (_url, init) => {
      seen = init
      return new Response(JSON.stringify(VALID))
    }
    const config = await loadConfig(fetchFn)
    expect(config.target).toBe('local')
    expect(seen?.cache).toBe('no-store')
  })

  it('says the file is missing when the bucket answers 404', async () => {
    await expect(loadConfig(answer(404, 'Not Found'))).rejects.toThrow(
      'could not load config.json: HTTP 404; the deploy tooling writes it',
    )
  })

  it('says the file is not JSON', async () => {
    await expect(loadConfig(answer(200, '<html>'))).rejects.toThrow('config.json is not valid JSON')
  })

  it('says when the request itself failed', async () => {
    const failing: typeof fetch = async () => {
      throw new TypeError('Failed to fetch')
    }
    await expect(loadConfig(failing)).rejects.toThrow('could not fetch config.json: TypeError: Failed to fetch')
  })
})
