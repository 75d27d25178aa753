/**
 * Shapes of the API's answers, taken from the generated OpenAPI types so they never drift.
 *
 * @module
 */

import type { paths } from '../../../src/client/openapi'

/** The JSON of the 200 answer of `GET path`. */
type Got<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': infer T } } } }
}
  ? T
  : never

/** Who the signed-in token is. */
export type Whoami = Got<'/api/v1/whoami'>
/** A routing and addressing scope. */
export type Domain = Got<'/api/v1/domains/{domain}'>
/** An aggregate the operator owns. */
export type Block = Got<'/api/v1/blocks/{id}'>
/** A slice of blocks with a policy. */
export type Pool = Got<'/api/v1/pools/{pool}'>
/** A pool's usage now. */
export type PoolUsage = Got<'/api/v1/pools/{pool}/usage'>
/** A block's usage now. */
export type BlockUsage = Got<'/api/v1/blocks/{id}/usage'>
/** A domain's usage: per family and per pool. */
export type DomainUsage = Got<'/api/v1/domains/{domain}/usage'>
/** An address consumer. */
export type Device = Got<'/api/v1/devices/{device}'>
/** A device's loop status with the engine's dry run. */
export type DeviceLoop = Got<'/api/v1/devices/{device}/loop'>
/** A pool unit held by a device. */
export type Grant = Got<'/api/v1/grants/{id}'>
/** A grant with its loop facts. */
export type GrantDetail = Got<'/api/v1/grants/{id}/detail'>
/** One page of grants. */
export type GrantPage = Got<'/api/v1/grants'>
/** An alert of the device loop. */
export type Alert = Got<'/api/v1/alerts'>['items'][number]
/** An event of the audit log. */
export type CasmEvent = Got<'/api/v1/events'>['items'][number]
/** One page of events. */
export type EventPage = Got<'/api/v1/events'>
/** The result of verifying the event chain. */
export type ChainCheck = Got<'/api/v1/events/verify'>
/** A bearer token (never its secret). */
export type Token = Got<'/api/v1/tokens'>['items'][number]
/** A tenant. */
export type Tenant = Got<'/api/v1/tenants'>['items'][number]
/** A token role. */
export type Role = Token['role']
