/**
 * The live connection: MQTT over WebSockets to Mosquitto, with the dashboard's
 * read-only user, subscribed to telemetry and alert events.
 *
 * The `mqtt` package is loaded on demand, after the first render, so it does
 * not weigh on the initial page load. The link reports a mode the header
 * shows (live over MQTT, or polling the API while the broker is unreachable);
 * mqtt.js keeps reconnecting on its own, and the mode switches back when it
 * succeeds.
 */

import type { IClientOptions, MqttClient } from 'mqtt'
import type { DashboardConfig } from '../config'
import { ALERT_TOPICS, TELEMETRY_TOPICS } from './messages'

export type LinkMode = 'connecting' | 'mqtt' | 'polling'

export interface LinkStatus {
  mode: LinkMode
  /** For people: what is in use, or why the broker is not. */
  detail: string
}

type Connect = (url: string, options: IClientOptions) => MqttClient

export interface LiveLinkOptions {
  onMessage: (topic: string, payload: Uint8Array) => void
  onStatus: (status: LinkStatus) => void
  connectTimeoutMs?: number
  reconnectPeriodMs?: number
  loadConnect?: () => Promise<Connect>
}

// The package's browser build (dist/mqtt.esm.js) has only a default export
// holding connect(); Node resolution gives named exports. Accept both.
async function loadMqtt(): Promise<Connect> {
  const mod: { connect?: Connect; default?: { connect?: Connect } } = await import('mqtt')
  const connect = mod.default?.connect ?? mod.connect
  if (!connect) throw new Error('the mqtt package has no connect()')
  return connect
}

export class LiveLink {
  private client: MqttClient | null = null
  private stopped = false
  private lastError: string | null = null
  private readonly config: DashboardConfig
  private readonly options: LiveLinkOptions

  constructor(config: DashboardConfig, options: LiveLinkOptions) {
    this.config = config
    this.options = options
  }

  async start(): Promise<void> {
    const { mqttUrl } = this.config
    if (!mqttUrl) {
      this.options.onStatus({
        mode: 'polling',
        detail: 'no mqttUrl in config.json: polling the API',
      })
      return
    }
    this.options.onStatus({ mode: 'connecting', detail: `connecting to ${mqttUrl}` })

    let connect: Connect
    try {
      connect = await (this.options.loadConnect ?? loadMqtt)()
    } catch (error) {
      this.options.onStatus({
        mode: 'polling',
        detail: `could not load the MQTT client (${String(error)}): polling the API`,
      })
      return
    }
    if (this.stopped) return

    const reconnectMs = this.options.reconnectPeriodMs ?? 5000
    const client = connect(mqttUrl, {
      username: this.config.mqttUsername ?? undefined,
      password: this.config.mqttPassword ?? undefined,
      clientId: `dashboard-${Math.random().toString(16).slice(2, 10)}`,
      clean: true,
      connectTimeout: this.options.connectTimeoutMs ?? 4000,
      reconnectPeriod: reconnectMs,
      keepalive: 30,
    })
    this.client = client
    const unreachable = (why: string) =>
      this.options.onStatus({
        mode: 'polling',
        detail: `broker ${mqttUrl} unreachable (${why}); retrying every ${reconnectMs / 1000} s, polling the API meanwhile`,
      })

    client.on('connect', () => {
      this.lastError = null
      client.subscribe([TELEMETRY_TOPICS, ALERT_TOPICS], { qos: 0 }, (error) => {
        if (error) unreachable(`subscribe failed: ${error.message}`)
        else this.options.onStatus({ mode: 'mqtt', detail: `live over MQTT (${mqttUrl})` })
      })
    })
    client.on('message', (topic, payload) => this.options.onMessage(topic, payload))
    client.on('error', (error) => {
      this.lastError = error.message
      unreachable(error.message)
    })
    client.on('close', () => {
      if (!this.stopped) unreachable(this.lastError ?? 'connection closed')
    })
  }

  stop(): void {
    this.stopped = true
    this.client?.end(true)
    this.client = null
  }
}
