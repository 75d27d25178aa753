/**
 * The address map of a block (`GET /api/v1/blocks/{id}/map`): a grid of cells along a Hilbert
 * curve, rendered on the server so the console never receives the units themselves. The three
 * per-cell columns travel run-length encoded and base64'd (docs/console.md, "Address map").
 *
 * @module
 */

import { Type } from 'typebox'
import {
  MAP_DEFAULT_ORDER,
  MAP_MAX_ORDER,
  MAP_NO_DEVICE,
  MAP_SEVERAL_DEVICES,
  MAP_STATES,
  encodeRuns,
  getAddressMap,
} from '../../coordinator/address-map.js'
import { callerOf } from '../http.js'
import * as S from '../schemas.js'
import type { Api } from '../server.js'

const errors = { '4xx': S.ErrorBody, '5xx': S.ErrorBody }

/** Added to device values before encoding, so that "none" and "several" are not negative. */
export const DEVICE_OFFSET = 2

const Runs = (description: string) =>
  Type.String({
    contentEncoding: 'base64',
    description: `${description} Base64 of pairs of unsigned LEB128 varints (run length, value), in curve order.`,
  })

/** The answer of the map endpoint. */
export const AddressMapBody = Type.Object(
  {
    block: Type.Object({ id: S.Id, space: S.SpaceText }),
    domain: Type.Object({ id: S.Id, name: Type.String() }),
    family: S.Family,
    root: Type.String({
      description: 'The smallest prefix holding the block: zoom out stops here.',
    }),
    prefix: Type.String({ description: 'The drawn prefix.', examples: ['10.0.0.0/8'] }),
    first: S.BigCount,
    length: Type.Integer(),
    width: Type.Integer(),
    order: Type.Integer({ description: 'The grid is 2^order cells high.' }),
    cellBits: Type.Integer({ description: 'Each cell holds 2^cellBits addresses.' }),
    cells: Type.Integer(),
    columns: Type.Integer(),
    rows: Type.Integer(),
    states: Type.Array(Type.String(), { description: 'State names, by code.' }),
    devices: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
    counts: Type.Object({
      grants: Type.Integer(),
      assignments: Type.Integer(),
      reservations: Type.Integer(),
      exclusions: Type.Integer(),
      addresses: S.BigCount,
      pooled: S.BigCount,
      used: S.BigCount,
      excluded: S.BigCount,
      utilisation: Type.Number(),
    }),
    encoding: Type.Literal('rle-leb128-base64'),
    deviceOffset: Type.Integer({
      description: `Subtract from device values: then ${MAP_NO_DEVICE} is no device, ${MAP_SEVERAL_DEVICES} several.`,
    }),
    state: Runs('Per cell, the state code (an index of `states`).'),
    fill: Runs('Per cell, how much of it is held: 0..255.'),
    device: Runs('Per cell, the index of its device in `devices`, plus `deviceOffset`.'),
  },
  { additionalProperties: false },
)

/** Registers the address map route. */
export function mapRoutes(app: Api): void {
  const co = app.coordinator
  app.get('/api/v1/blocks/:id/map', {
    schema: {
      tags: ['blocks'],
      summary: 'Address map of a block',
      description:
        'The block (or a prefix of it) as a grid of 2^order × 2^order cells along a Hilbert curve: each cell an aligned range of 2^cellBits addresses, with its state, how much of it is held and by which device. Zoom in by asking for a sub-prefix.',
      params: Type.Object({ id: S.Id }),
      querystring: Type.Object(
        {
          prefix: Type.Optional(
            Type.String({ minLength: 1, maxLength: 64, examples: ['10.16.0.0/12'] }),
          ),
          order: Type.Optional(
            Type.Integer({ minimum: 1, maximum: MAP_MAX_ORDER, default: MAP_DEFAULT_ORDER }),
          ),
        },
        { additionalProperties: false },
      ),
      response: { 200: AddressMapBody, ...errors },
    },
    handler: async (req) => {
      const q = req.query as { prefix?: string; order?: number }
      const map = await getAddressMap(co.reader, callerOf(req), (req.params as { id: string }).id, {
        ...(q.prefix === undefined ? {} : { prefix: q.prefix }),
        ...(q.order === undefined ? {} : { order: q.order }),
      })
      const base64 = (bytes: Uint8Array): string =>
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
      return {
        block: map.block,
        domain: map.domain,
        family: map.family,
        root: map.root,
        prefix: map.prefix,
        first: map.first.toString(),
        length: map.length,
        width: map.width,
        order: map.order,
        cellBits: map.cellBits,
        cells: map.cells,
        columns: map.columns,
        rows: map.rows,
        states: [...MAP_STATES],
        devices: map.devices,
        counts: map.counts,
        encoding: 'rle-leb128-base64',
        deviceOffset: DEVICE_OFFSET,
        state: base64(encodeRuns(map.state)),
        fill: base64(encodeRuns(map.fill)),
        device: base64(encodeRuns(map.device, DEVICE_OFFSET)),
      }
    },
  })
}
