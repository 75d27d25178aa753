/**
 * Import and export of a whole tenant: `POST /api/v1/import` (all or nothing, `?dryRun=true` to
 * plan only) and `GET /api/v1/export` (casm's own lossless document). docs/import.md describes
 * the document.
 *
 * @module
 */

import { Type } from 'typebox'
import { exportTenant, importDocument } from '../../coordinator/import-export.js'
import { callerOf } from '../http.js'
import * as S from '../schemas.js'
import type { Api } from '../server.js'

/** Largest import body: room for 100,000+ prefixes with their refs. */
export const IMPORT_BODY_LIMIT = 256 * 1024 * 1024

const errors = { '4xx': S.ErrorBody, '5xx': S.ErrorBody }

const EXAMPLE = {
  version: 1,
  domains: [{ name: 'internet' }],
  blocks: [{ domain: 'internet', space: '100.64.0.0/10', ref: 'prefixes.csv:2' }],
  pools: [
    {
      name: 'bng-east',
      domain: 'internet',
      kind: 'subscriber',
      space: ['100.64.0.0/16'],
      policy: { unit: { default: 27 } },
      ref: 'prefixes.csv:3',
    },
  ],
  reservations: [{ pool: 'bng-east', prefix: '100.64.0.0/24', description: 'infra' }],
}

/** The document: checked in full by the coordinator (every problem with its ref). */
const ImportDocumentBody = Type.Object(
  {
    version: Type.Literal(1),
    domains: Type.Array(Type.Object({}, { additionalProperties: true })),
    blocks: Type.Array(Type.Object({}, { additionalProperties: true })),
    pools: Type.Array(Type.Object({}, { additionalProperties: true })),
    devices: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
    reservations: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
    grants: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
    assignments: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  },
  {
    additionalProperties: true,
    description:
      'The import document (docs/import.md). Items may carry `ref` (where they came from), reported with every problem.',
    examples: [EXAMPLE],
  },
)

const Count = Type.Integer({ minimum: 0 })

const ImportResultBody = Type.Object(
  {
    dryRun: Type.Boolean(),
    applied: Type.Boolean(),
    counts: Type.Object({
      domains: Count,
      blocks: Count,
      pools: Count,
      devices: Count,
      reservations: Count,
      grants: Count,
      assignments: Count,
    }),
    created: Type.Array(
      Type.Object({
        type: Type.String(),
        key: Type.String(),
        ref: Type.Optional(Type.String()),
      }),
    ),
  },
  {
    examples: [
      {
        dryRun: true,
        applied: false,
        counts: {
          domains: 1,
          blocks: 1,
          pools: 1,
          devices: 0,
          reservations: 1,
          grants: 0,
          assignments: 0,
        },
        created: [
          { type: 'domain', key: 'internet' },
          { type: 'block', key: 'internet:100.64.0.0/10', ref: 'prefixes.csv:2' },
          { type: 'pool', key: 'bng-east', ref: 'prefixes.csv:3' },
          { type: 'reservation', key: '100.64.0.0/24' },
        ],
      },
    ],
  },
)

/** Registers the import and export routes. */
export function importRoutes(app: Api): void {
  const co = app.coordinator
  app.post('/api/v1/import', {
    bodyLimit: IMPORT_BODY_LIMIT,
    schema: {
      tags: ['import'],
      summary: 'Import a document (all or nothing)',
      description:
        'Checks the whole document against itself and the tenant, then creates everything in one transaction, or nothing. A refusal answers 400 CASM_ERR_VALIDATION with details.problems: every problem, each with its ref, path, code and message. Operator or admin.',
      querystring: Type.Object({ dryRun: Type.Optional(Type.Boolean({ default: false })) }),
      body: ImportDocumentBody,
      response: { 200: ImportResultBody, ...errors },
    },
    handler: async (req) =>
      co.run(
        importDocument(callerOf(req), req.body, {
          dryRun: (req.query as { dryRun?: boolean }).dryRun === true,
        }),
      ),
  })
  app.get('/api/v1/export', {
    schema: {
      tags: ['import'],
      summary: 'Export the tenant',
      description:
        "casm's own lossless document of the tenant; importing it into an empty tenant and exporting again gives the same JSON.",
      response: { 200: ImportDocumentBody, ...errors },
    },
    handler: async (req) => exportTenant(co.reader, callerOf(req)),
  })
}
