/**
 * A client of Kea's management API: one JSON command, one JSON answer. Two transports — the
 * server's own unix control socket (what `control-socket` in the Dhcp4/Dhcp6 configuration
 * opens) and the Control Agent's HTTP API (`kea-ctrl-agent`, which forwards to a server named by
 * `service`). Kea closes the unix connection after each answer, so a command is one connection
 * and the answer is whatever arrived before the close.
 *
 * Result codes are Kea's (Kea ARM, "Management API"): 0 success, 1 error, 2 unsupported
 * command, 3 empty (the command worked and found nothing).
 *
 * @module
 */

import { request as httpRequest } from 'node:http'
import { createConnection } from 'node:net'
import { CasmError } from '../errors/casm-error.js'

/** Kea's result codes. */
export const KEA_RESULT = { success: 0, error: 1, unsupported: 2, empty: 3 } as const

/** Which Kea server a command is for. */
export type KeaService = 'dhcp4' | 'dhcp6'

/** An answer of Kea's management API. */
export interface KeaAnswer<A = unknown> {
  readonly result: number
  readonly text?: string
  readonly arguments?: A
}

/** Where to reach one Kea server. */
export type KeaEndpoint =
  | { readonly socket: string; readonly http?: undefined }
  | { readonly http: string; readonly socket?: undefined }

/** Options of {@link KeaControl}. */
export interface KeaControlOptions {
  readonly endpoint: KeaEndpoint
  readonly service: KeaService
  /** Longest a command may take, in milliseconds (default 10 000). */
  readonly timeoutMs?: number
}

const failure = (message: string, details: Record<string, unknown>, cause?: unknown): CasmError =>
  new CasmError('CASM_ERR_BACKEND', message, details, cause === undefined ? undefined : { cause })

/**
 * Talks to one Kea server.
 *
 * @example
 * ```ts
 * const kea = new KeaControl({ endpoint: { socket: '/run/kea/kea4.sock' }, service: 'dhcp4' })
 * const { arguments: config } = await kea.call('config-get')
 * ```
 */
export class KeaControl {
  readonly service: KeaService
  readonly #options: KeaControlOptions

  constructor(options: KeaControlOptions) {
    this.#options = options
    this.service = options.service
  }

  /** Where the server is, for messages. */
  get where(): string {
    const e = this.#options.endpoint
    return e.socket !== undefined ? `unix:${e.socket}` : `${e.http} (${this.service})`
  }

  /**
   * Sends a command and returns Kea's answer whatever its result code.
   *
   * @throws CasmError `CASM_ERR_BACKEND` when Kea cannot be reached or answers no JSON.
   */
  async send<A = unknown>(command: string, args?: unknown): Promise<KeaAnswer<A>> {
    const e = this.#options.endpoint
    const body: Record<string, unknown> = { command }
    if (args !== undefined) body['arguments'] = args
    let text: string
    try {
      if (e.socket !== undefined) text = await this.#overSocket(e.socket, JSON.stringify(body))
      else {
        body['service'] = [this.service]
        text = await this.#overHttp(e.http, JSON.stringify(body))
      }
    } catch (error) {
      throw failure(
        `Kea ${this.service} at ${this.where} did not answer '${command}': ${(error as Error).message}; is it running, and is the path or URL right?`,
        { command, kea: this.where },
        error,
      )
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw failure(
        `Kea ${this.service} at ${this.where} answered '${command}' with something that is not JSON`,
        { command, kea: this.where, answer: text.slice(0, 200) },
        error,
      )
    }
    // The Control Agent answers a list, one entry per service asked.
    const answer = (Array.isArray(parsed) ? parsed[0] : parsed) as KeaAnswer<A> | undefined
    if (answer === undefined || typeof answer.result !== 'number')
      throw failure(`Kea answered '${command}' without a result code`, {
        command,
        kea: this.where,
        answer: text.slice(0, 200),
      })
    return answer
  }

  /**
   * Sends a command that must succeed (result 0, or 3 where `emptyIsFine`) and returns its
   * arguments.
   *
   * @throws CasmError `CASM_ERR_BACKEND` with Kea's text when it refuses.
   */
  async call<A = unknown>(command: string, args?: unknown, emptyIsFine = false): Promise<A> {
    const answer = await this.send<A>(command, args)
    if (answer.result === KEA_RESULT.success) return answer.arguments as A
    if (answer.result === KEA_RESULT.empty && emptyIsFine) return answer.arguments as A
    const hint =
      answer.result === KEA_RESULT.unsupported
        ? ' (unsupported: is the hook library that provides it loaded — libdhcp_lease_cmds.so for lease commands?)'
        : ''
    throw failure(
      `Kea ${this.service} refused '${command}': ${answer.text ?? `result ${answer.result}`}${hint}`,
      { command, kea: this.where, result: answer.result },
    )
  }

  #timeout(): number {
    return this.#options.timeoutMs ?? 10_000
  }

  #overSocket(path: string, body: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      const socket = createConnection(path)
      socket.setTimeout(this.#timeout(), () => socket.destroy(new Error('timed out')))
      socket.on('connect', () => {
        socket.write(body)
      })
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
      })
      socket.on('end', () => {
        resolve(Buffer.concat(chunks).toString('utf8'))
      })
      socket.on('error', reject)
    })
  }

  #overHttp(url: string, body: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
          timeout: this.#timeout(),
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => {
            chunks.push(c)
          })
          res.on('end', () => {
            resolve(Buffer.concat(chunks).toString('utf8'))
          })
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error('timed out')))
      req.on('error', reject)
      req.end(body)
    })
  }
}
