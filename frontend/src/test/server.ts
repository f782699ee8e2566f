/**
 * A real HTTP server on a free loopback port for client tests: each test says
 * how to answer, and the server records what it was asked.
 */

import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Recorded {
  method: string
  url: URL
  body: string
  headers: IncomingMessage['headers']
}

export type Handler = (request: Recorded, response: ServerResponse) => void

export interface TestServer {
  baseUrl: string
  requests: Recorded[]
  handle: (handler: Handler) => void
  close: () => Promise<void>
}

export async function startServer(): Promise<TestServer> {
  let handler: Handler = (_request, response) => response.writeHead(500).end()
  const requests: Recorded[] = []
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const recorded = {
        method: request.method ?? 'GET',
        url: new URL(request.url ?? '/', 'http://127.0.0.1'),
        body: Buffer.concat(chunks).toString(),
        headers: request.headers,
      }
      requests.push(recorded)
      handler(recorded, response)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}/dev/`,
    requests,
    handle: (next) => (handler = next),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
}

/** A port nothing listens on: bind one, note it, close it. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
