/**
 * The dashboard's runtime settings, read from `config.json` beside index.html.
 *
 * The deploy tooling writes that file next to the build for each target (local
 * cloud, LocalStack, AWS), so one build serves all of them. Every problem names
 * the field and what to do, because this is the first thing that can go wrong
 * after a deploy.
 */

export interface DashboardConfig {
  /** Base URL of the REST API, always ending in a slash. */
  apiUrl: string
  /** MQTT over WebSockets URL; null turns live updates off (polling only). */
  mqttUrl: string | null
  mqttUsername: string | null
  mqttPassword: string | null
  /** Where the stack runs: local, localstack, aws (shown in the header). */
  target: string
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const FIX = 'the deploy tooling writes it (make deploy-local)'

function field(raw: Record<string, unknown>, key: string): string | null {
  const value = raw[key]
  if (value === undefined || value === null || value === '') return null
  if (typeof value !== 'string') {
    throw new ConfigError(
      `config.json: ${key} must be a string, got ${JSON.stringify(value)}; ${FIX}`,
    )
  }
  return value.trim() || null
}

function checkUrl(key: string, value: string, schemes: string[], example: string) {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(
      `config.json: ${key} ${JSON.stringify(value)} is not a URL; ` +
        `use one such as ${example}`,
    )
  }
  if (!schemes.includes(url.protocol)) {
    throw new ConfigError(
      `config.json: ${key} ${JSON.stringify(value)} must start with ` +
        `${schemes.map((s) => s + '//').join(' or ')}, such as ${example}`,
    )
  }
}

/** Validates the parsed JSON of config.json. */
export function parseConfig(raw: unknown): DashboardConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`config.json must hold a JSON object; ${FIX}`)
  }
  const body = raw as Record<string, unknown>

  const apiUrl = field(body, 'apiUrl')
  if (apiUrl === null) {
    throw new ConfigError(`config.json has no apiUrl; ${FIX}`)
  }
  checkUrl('apiUrl', apiUrl, ['http:', 'https:'], 'http://abc.execute-api.localhost:4566/dev/')

  const mqttUrl = field(body, 'mqttUrl')
  if (mqttUrl !== null) {
    checkUrl('mqttUrl', mqttUrl, ['ws:', 'wss:'], 'ws://127.0.0.1:9001')
  }

  return {
    apiUrl: apiUrl.endsWith('/') ? apiUrl : apiUrl + '/',
    mqttUrl,
    mqttUsername: field(body, 'mqttUsername'),
    mqttPassword: field(body, 'mqttPassword'),
    target: field(body, 'target') ?? 'unknown',
  }
}

/** Fetches and validates config.json (never cached: it changes per deploy). */
export async function loadConfig(
  fetchFn: typeof fetch = (input, init) => fetch(input, init),
  url = 'config.json',
): Promise<DashboardConfig> {
  let response: Response
  try {
    response = await fetchFn(url, { cache: 'no-store' })
  } catch (error) {
    throw new ConfigError(`could not fetch ${url}: ${String(error)}`)
  }
  if (!response.ok) {
    throw new ConfigError(
      `could not load ${url}: HTTP ${response.status}; ${FIX}, or for ` +
        '`npm run dev` copy one into frontend/public/',
    )
  }
  let raw: unknown
  try {
    raw = await response.json()
  } catch (error) {
    throw new ConfigError(`${url} is not valid JSON (${String(error)}); ${FIX}`)
  }
  return parseConfig(raw)
}
