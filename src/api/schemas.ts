/**
 * The API's JSON Schemas (TypeBox): requests are validated against them, responses serialised
 * by them, and `/openapi.json` is generated from them. Addresses are canonical text; sizes that
 * can exceed 2^53 (IPv6) are decimal strings; times are RFC 3339 UTC strings.
 *
 * @module
 */

import { Type, type Static, type TSchema } from 'typebox'
import { MAX_LEASE_PAGE } from '../coordinator/lease-archive.js'
import { MAX_GRANTS_PER_MESSAGE } from '../domain/device-protocol.js'
import { MAX_CLTT, MAX_LEASE_LIFETIME, MAX_LEASES_PER_UPLOAD } from '../domain/device-lease.js'

const lit = (values: readonly string[], options: Record<string, unknown> = {}): TSchema =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  )

export const Name = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
  description: 'Letters, digits, `.`, `_`, `-`; unique in its scope.',
  examples: ['metro-east'],
})
export const Description = Type.String({ maxLength: 1000 })
export const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 })
export const Time = Type.String({ format: 'date-time', examples: ['2026-11-25T12:00:00.000Z'] })
export const NullableTime = Type.Union([Time, Type.Null()])
export const Family = lit(['ipv4', 'ipv6', 'mac'])
export const Id = Type.String({
  minLength: 1,
  maxLength: 64,
  examples: ['pool_0mwws3gu6000tas6va2w'],
})
export const Key = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'An id, or a name.',
  examples: ['bng-pool-1'],
})
export const PrefixText = Type.String({
  minLength: 2,
  maxLength: 64,
  description: 'A prefix in canonical text.',
  examples: ['100.64.0.0/10'],
})
export const SpaceText = Type.String({
  minLength: 2,
  maxLength: 100,
  description: 'A prefix (`100.64.0.0/10`) or a first-last range (`198.18.0.5-198.18.3.250`).',
  examples: ['100.64.0.0/10'],
})
export const BigCount = Type.String({
  pattern: '^[0-9]+$',
  description: 'A count of addresses, as a decimal string.',
  examples: ['65536'],
})

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ examples: ['CASM_ERR_POOL_EXHAUSTED'] }),
      message: Type.String(),
      hint: Type.Optional(Type.String()),
      details: Type.Optional(Type.Unknown()),
      requestId: Type.Optional(Type.String()),
    }),
  },
  { $id: 'Error', description: 'Every error answer: a stable code, a message, what to do next.' },
)

// ---- tenancy ---------------------------------------------------------------------------------

export const Role = lit(['viewer', 'operator', 'admin', 'device'])

export const Tenant = Type.Object({ id: Id, name: Type.String(), createdAt: Time })
export const TenantInput = Type.Object(
  { name: Name },
  { additionalProperties: false, examples: [{ name: 'acme' }] },
)

export const Token = Type.Object({
  id: Id,
  name: Type.String(),
  role: Role,
  tenant: Type.Union([Id, Type.Null()], { description: 'null for a root token' }),
  device: Type.Union([Id, Type.Null()]),
  createdAt: Time,
  revokedAt: NullableTime,
})
export const TokenInput = Type.Object(
  {
    name: Name,
    role: Role,
    tenant: Type.Optional(Key),
    root: Type.Optional(
      Type.Boolean({ description: 'Root admins: a token acting across tenants.' }),
    ),
    device: Type.Optional(Key),
  },
  { additionalProperties: false, examples: [{ name: 'noc-readonly', role: 'viewer' }] },
)
export const TokenCreated = Type.Object({
  token: Token,
  secret: Type.String({ description: 'The bearer secret. Shown once; casm keeps only its hash.' }),
})

export const Whoami = Type.Object({
  tokenId: Type.Union([Id, Type.Null()]),
  name: Type.String({ description: 'The name of the token.' }),
  role: Role,
  root: Type.Boolean({ description: 'A root token: acts across tenants and manages them.' }),
  tenant: Type.String({ description: 'The name of the tenant the request acts in.' }),
  tenantId: Id,
  device: Type.Union([Id, Type.Null()], { description: 'For device tokens: their device.' }),
})

// ---- domains and blocks ----------------------------------------------------------------------

export const Domain = Type.Object({
  id: Id,
  name: Type.String(),
  description: Type.String(),
  createdAt: Time,
  updatedAt: Time,
})
export const DomainInput = Type.Object(
  { name: Name, description: Type.Optional(Description) },
  {
    additionalProperties: false,
    examples: [{ name: 'internet', description: 'global routing table' }],
  },
)
export const DomainPatch = Type.Object(
  { name: Type.Optional(Name), description: Type.Optional(Description) },
  { additionalProperties: false, examples: [{ description: 'global routing table, AS64500' }] },
)

export const BlockSource = Type.Object(
  {
    rir: Type.Optional(Type.String({ maxLength: 32, examples: ['RIPE'] })),
    originAs: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    notes: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
)
export const SpecialPurpose = Type.Object({
  prefix: Type.String(),
  name: Type.String(),
  rfc: Type.String(),
})
export const Block = Type.Object({
  id: Id,
  domain: Id,
  family: Family,
  space: Type.String(),
  reserved: Type.Boolean(),
  source: BlockSource,
  description: Type.String(),
  tags: Tags,
  specialPurpose: Type.Array(SpecialPurpose, {
    description: 'Special-purpose registry entries the block overlaps (RFC 6890).',
  }),
  createdAt: Time,
  updatedAt: Time,
})
export const BlockInput = Type.Object(
  {
    domain: Key,
    space: SpaceText,
    reserved: Type.Optional(Type.Boolean()),
    source: Type.Optional(BlockSource),
    description: Type.Optional(Description),
    tags: Type.Optional(Tags),
  },
  {
    additionalProperties: false,
    examples: [{ domain: 'internet', space: '100.64.0.0/10', source: { rir: 'private' } }],
  },
)
export const BlockPatch = Type.Object(
  {
    space: Type.Optional(SpaceText),
    reserved: Type.Optional(Type.Boolean()),
    source: Type.Optional(BlockSource),
    description: Type.Optional(Description),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false, examples: [{ space: '100.64.0.0/9', tags: ['cgn'] }] },
)

// ---- pools -----------------------------------------------------------------------------------

export const PoolKind = lit([
  'subscriber',
  'cgn',
  'ds-lite',
  'lw4o6',
  'map',
  'dhcp',
  'pd',
  'static',
  'multicast',
  'custom',
])
export const Strategy = lit(['dense', 'sparse', 'adjacent'])
const Seconds = Type.Integer({ minimum: 0, maximum: 315360000 })
const Length = Type.Integer({ minimum: 0, maximum: 128 })
export const Policy = Type.Object({
  unit: Type.Object({ min: Length, default: Length, max: Length }),
  strategy: Strategy,
  highWatermark: Type.Number(),
  lowWatermark: Type.Number(),
  holdDown: Seconds,
  lifetime: Seconds,
  quarantine: Seconds,
  leadTime: Seconds,
  minUnits: Type.Integer(),
  reportInterval: Type.Integer(),
  staleAfter: Type.Integer(),
  drain: lit(['natural', 'fast']),
})
const LoopFields = {
  highWatermark: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
  lowWatermark: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
  holdDown: Type.Optional(Seconds),
  leadTime: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 315360000,
      description:
        'Grow early when the forecast runs out within this many seconds; 0 turns it off.',
    }),
  ),
  minUnits: Type.Optional(Type.Integer({ minimum: 0, maximum: 65536 })),
  reportInterval: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
  staleAfter: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
}
export const PolicyInput = Type.Object(
  {
    unit: Type.Optional(
      Type.Object(
        { min: Type.Optional(Length), default: Type.Optional(Length), max: Type.Optional(Length) },
        { additionalProperties: false },
      ),
    ),
    strategy: Type.Optional(Strategy),
    ...LoopFields,
    lifetime: Type.Optional(Seconds),
    quarantine: Type.Optional(Seconds),
    drain: Type.Optional(lit(['natural', 'fast'])),
  },
  {
    additionalProperties: false,
    description: 'Missing fields take the defaults of the family (or stay as they are on change).',
  },
)
export const Selectors = Type.Record(
  Type.String({ maxLength: 80 }),
  Type.Array(Type.String({ maxLength: 256 }), { minItems: 1, maxItems: 256 }),
  {
    description: 'Attribute → accepted values; `custom.KEY` tests a custom attribute.',
    examples: [{ function: ['bng'], scope: ['public'] }],
  },
)
export const Pool = Type.Object({
  id: Id,
  name: Type.String(),
  domain: Id,
  kind: PoolKind,
  family: Family,
  space: Type.Array(Type.String()),
  policy: Policy,
  priority: Type.Integer(),
  selectors: Selectors,
  tags: Tags,
  description: Type.String(),
  createdAt: Time,
  updatedAt: Time,
})
export const PoolInput = Type.Object(
  {
    name: Name,
    domain: Key,
    kind: PoolKind,
    space: Type.Array(SpaceText, { minItems: 1, maxItems: 4096 }),
    policy: Type.Optional(PolicyInput),
    priority: Type.Optional(Type.Integer({ minimum: -1000000, maximum: 1000000 })),
    selectors: Type.Optional(Selectors),
    tags: Type.Optional(Tags),
    description: Type.Optional(Description),
  },
  {
    additionalProperties: false,
    examples: [
      {
        name: 'bng-east',
        domain: 'internet',
        kind: 'subscriber',
        space: ['100.64.0.0/16'],
        policy: { unit: { default: 27 } },
      },
    ],
  },
)
export const PoolPatch = Type.Object(
  {
    name: Type.Optional(Name),
    kind: Type.Optional(PoolKind),
    space: Type.Optional(Type.Array(SpaceText, { minItems: 1, maxItems: 4096 })),
    policy: Type.Optional(PolicyInput),
    priority: Type.Optional(Type.Integer({ minimum: -1000000, maximum: 1000000 })),
    selectors: Type.Optional(Selectors),
    tags: Type.Optional(Tags),
    description: Type.Optional(Description),
  },
  {
    additionalProperties: false,
    examples: [{ space: ['100.64.0.0/15'], policy: { quarantine: 600 } }],
  },
)

// ---- devices ---------------------------------------------------------------------------------

export const Attributes = Type.Object(
  {
    function: Type.Optional(Type.String({ maxLength: 64, examples: ['bng'] })),
    formFactor: Type.Optional(lit(['physical', 'virtual'])),
    plane: Type.Optional(lit(['management', 'control', 'data'])),
    segmentId: Type.Optional(Type.String({ maxLength: 64 })),
    segmentType: Type.Optional(lit(['point-to-point', 'multi-point', 'loopback'])),
    scope: Type.Optional(lit(['private', 'public', 'vpn', 'unicast', 'multicast'])),
    custom: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 256 })),
    ),
  },
  { additionalProperties: false, description: 'Requestor attributes of RF-4.2.2.' },
)
export const DevicePolicy = Type.Object(LoopFields, {
  additionalProperties: false,
  description:
    "Overrides of the device loop's policy for this device (the rest comes from the pool).",
  examples: [{ highWatermark: 0.9, holdDown: 600 }],
})
export const Device = Type.Object({
  id: Id,
  name: Type.String(),
  attributes: Attributes,
  policy: DevicePolicy,
  description: Type.String(),
  createdAt: Time,
  updatedAt: Time,
})
export const DeviceInput = Type.Object(
  {
    name: Name,
    attributes: Type.Optional(Attributes),
    policy: Type.Optional(DevicePolicy),
    description: Type.Optional(Description),
  },
  {
    additionalProperties: false,
    examples: [
      { name: 'bng-01', attributes: { function: 'bng', formFactor: 'physical', scope: 'public' } },
    ],
  },
)
export const DevicePatch = Type.Object(
  {
    name: Type.Optional(Name),
    attributes: Type.Optional(Attributes),
    policy: Type.Optional(DevicePolicy),
    description: Type.Optional(Description),
  },
  { additionalProperties: false, examples: [{ attributes: { function: 'bng', scope: 'public' } }] },
)

// ---- grants, assignments, reservations -------------------------------------------------------

export const State = lit(['active', 'draining', 'released', 'quarantined', 'expired', 'free'])
export const Grant = Type.Object({
  id: Id,
  pool: Id,
  device: Id,
  prefix: Type.String(),
  state: State,
  createdAt: Time,
  updatedAt: Time,
  expiresAt: NullableTime,
  releasedAt: NullableTime,
  quarantineUntil: NullableTime,
})
export const GrantInput = Type.Object(
  {
    device: Key,
    length: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 128,
        description: "Prefix length; the pool's default unit when omitted.",
      }),
    ),
    prefix: Type.Optional(PrefixText),
  },
  {
    additionalProperties: false,
    examples: [
      { device: 'bng-01' },
      { device: 'bng-01', length: 26 },
      { device: 'bng-01', prefix: '100.64.8.0/27' },
    ],
  },
)
export const Assignment = Type.Object({
  id: Id,
  pool: Id,
  prefix: Type.String(),
  state: State,
  requestor: Attributes,
  hostname: Type.String(),
  description: Type.String(),
  createdAt: Time,
  updatedAt: Time,
  releasedAt: NullableTime,
  quarantineUntil: NullableTime,
})
export const AssignmentInput = Type.Object(
  {
    requestor: Type.Optional(Attributes),
    family: Type.Optional(Family),
    size: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Addresses needed; rounded up to a prefix.' }),
    ),
    length: Type.Optional(Type.Integer({ minimum: 0, maximum: 128 })),
    pool: Type.Optional(Key),
    domain: Type.Optional(Key),
    prefix: Type.Optional(PrefixText),
    hostname: Type.Optional(Type.String({ maxLength: 253 })),
    description: Type.Optional(Description),
  },
  {
    additionalProperties: false,
    examples: [
      {
        requestor: { function: 'server', scope: 'public' },
        family: 'ipv4',
        hostname: 'web-1.example.net',
      },
    ],
  },
)
export const AssignmentCreated = Type.Object({
  assignment: Assignment,
  pool: Type.String({ description: 'The pool chosen.' }),
  matchedSelectors: Type.Integer({
    description: "How many of the pool's selectors the requestor matched.",
  }),
})
export const Pattern = Type.Object(
  {
    every: Type.Integer({ minimum: 0, maximum: 128 }),
    offsets: Type.Array(Type.Integer(), { minItems: 1, maxItems: 256 }),
    length: Type.Optional(Type.Integer({ minimum: 0, maximum: 128 })),
    within: Type.Optional(PrefixText),
  },
  { additionalProperties: false, examples: [{ every: 24, offsets: [0, -1] }] },
)
export const Reservation = Type.Object({
  id: Id,
  pool: Id,
  kind: lit(['reserved', 'excluded']),
  target: Type.Unknown(),
  prefixes: Type.Array(Type.String()),
  count: Type.Integer(),
  description: Type.String(),
  createdAt: Time,
})
export const ReservationInput = Type.Object(
  {
    kind: Type.Optional(lit(['reserved', 'excluded'])),
    prefix: Type.Optional(PrefixText),
    range: Type.Optional(SpaceText),
    pattern: Type.Optional(Pattern),
    description: Type.Optional(Description),
  },
  {
    additionalProperties: false,
    examples: [
      { prefix: '100.64.0.1/32', description: 'gateway' },
      { pattern: { every: 24, offsets: [0, -1] } },
    ],
  },
)

// ---- queries ---------------------------------------------------------------------------------

export const PoolUsage = Type.Object({
  pool: Type.String(),
  family: Family,
  total: BigCount,
  allocated: BigCount,
  reserved: BigCount,
  used: BigCount,
  free: BigCount,
  excluded: BigCount,
  utilisation: Type.Number(),
  freeBlocks: Type.Integer(),
  freeBlocksByLength: Type.Record(Type.String(), Type.Integer()),
  largestFree: Type.Union([Type.String(), Type.Null()]),
  fragmentation: Type.Object({
    length: Type.Integer(),
    possible: BigCount,
    ideal: BigCount,
    ratio: Type.Number(),
  }),
})
export const SpaceUsage = Type.Object({
  family: Family,
  total: BigCount,
  pooled: BigCount,
  unpooled: BigCount,
  reservedBlocks: BigCount,
  allocated: BigCount,
  reserved: BigCount,
  excluded: BigCount,
  free: BigCount,
  utilisation: Type.Number(),
  largestUnpooled: Type.Union([Type.String(), Type.Null()]),
})

export const BlockUsage = Type.Object({ block: Type.String(), ...SpaceUsage.properties })

/** One sample of a pool's or a device's usage history. */
export const UsageSample = Type.Object({
  at: Time,
  family: Family,
  used: BigCount,
  total: BigCount,
  utilisation: Type.Number(),
})

/** The query of a usage history: since when, how many samples. */
export const UsageHistoryQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 40,
        description: 'RFC 3339 time or epoch milliseconds; default 24 hours ago.',
        examples: ['2026-11-25T12:00:00Z'],
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 2000 })),
  },
  { additionalProperties: false },
)

export const Event = Type.Object({
  seq: Type.Integer(),
  id: Type.String(),
  tenant: Type.Union([Id, Type.Null()]),
  at: Time,
  actor: Type.String(),
  action: Type.String({ examples: ['grant.create'] }),
  objectType: Type.String(),
  objectId: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown(),
  after: Type.Unknown(),
  reason: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  prevHash: Type.String(),
  hash: Type.String(),
})

/** A list answer; `next` is the cursor of the following page, null at the end. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), next: Type.Union([Type.String(), Type.Null()]) })
export const List = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) })

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    after: Type.Optional(
      Type.String({ maxLength: 64, description: 'The `next` cursor of the previous page.' }),
    ),
  },
  { additionalProperties: false },
)

export type TDomainInput = Static<typeof DomainInput>

// ---- the device loop -------------------------------------------------------------------------

export const GrantDetail = Type.Object({
  ...Grant.properties,
  pinned: Type.Boolean({ description: 'Never reclaimed by the policy.' }),
  drainCause: Type.Union([lit(['policy', 'lifetime', 'operator', 'move']), Type.Null()]),
  movingTo: Type.Union([Id, Type.Null()], { description: 'The device a move hands it to.' }),
  usage: Type.Union([
    Type.Object({
      used: Type.Number(),
      peak: Type.Number(),
      average: Type.Number(),
      ports: Type.Union([
        Type.Object({
          total: Type.Number(),
          used: Type.Number(),
          peak: Type.Number(),
          average: Type.Number(),
        }),
        Type.Null(),
      ]),
      plane: Type.Union([Type.String(), Type.Null()]),
      reportedAt: Time,
    }),
    Type.Null(),
  ]),
  confirmedAt: NullableTime,
})
export const DrainInput = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false, examples: [{ reason: 'maintenance on bng-01' }] },
)
export const PinInput = Type.Object(
  { pinned: Type.Boolean() },
  { additionalProperties: false, examples: [{ pinned: true }] },
)
export const MoveInput = Type.Object(
  { device: Key },
  { additionalProperties: false, examples: [{ device: 'bng-02' }] },
)
export const Decision = Type.Object(
  {
    kind: lit(['grant', 'undrain', 'drain', 'release', 'alert']),
    reason: Type.String(),
    family: Type.Optional(Family),
    grant: Type.Optional(Id),
    cause: Type.Optional(Type.String()),
    expire: Type.Optional(Type.Boolean()),
    alert: Type.Optional(Type.String()),
  },
  { description: 'What the policy engine would do, and why.' },
)
export const Alert = Type.Object({
  id: Type.String(),
  kind: Type.String({ examples: ['pool-exhausted', 'device-silent', 'grant-failures'] }),
  objectType: Type.String(),
  objectId: Type.String(),
  message: Type.String(),
  raisedAt: Time,
  clearedAt: NullableTime,
})
export const DeviceLoopStatus = Type.Object({
  device: Device,
  agent: Type.Union([
    Type.Object({
      version: Type.String(),
      backend: Type.String(),
      planes: Type.Optional(Type.Array(Type.String())),
    }),
    Type.Null(),
  ]),
  connectedAt: NullableTime,
  lastReportAt: NullableTime,
  silent: Type.Boolean(),
  streamEventId: Type.Integer(),
  ackedEventId: Type.Integer(),
  routes: Type.Integer({ description: 'Routes its grants need once aggregated.' }),
  grants: Type.Array(GrantDetail),
  utilisation: Type.Record(Type.String(), Type.Number()),
  lowSince: Type.Record(Type.String(), NullableTime),
  policy: Type.Record(Type.String(), Policy),
  plan: Type.Array(Decision, {
    description: 'A dry run: what the engine would decide now (nothing is applied).',
  }),
  alerts: Type.Array(Alert),
})

// ---- the device protocol (docs/protocol.md) --------------------------------------------------

const Txn = Type.String({ minLength: 1, maxLength: 100, description: 'Transaction id.' })
const Header = { v: Type.Literal(1), txn: Txn }
const GrantIds = Type.Array(Id, { minItems: 1, maxItems: 4096 })
const Count = Type.Number({ minimum: 0 })
const msg = (type: string, fields: Record<string, TSchema>, example: Record<string, unknown>) =>
  Type.Object(
    { ...Header, type: Type.Literal(type), ...fields },
    { additionalProperties: false, examples: [{ v: 1, txn: 't-1', type, ...example }] },
  )
const MESSAGES = [
  msg(
    'hello',
    {
      agent: Type.Object(
        {
          version: Type.String({ maxLength: 64 }),
          backend: Type.String({ maxLength: 64 }),
          planes: Type.Optional(Type.Array(Name, { maxItems: 64 })),
        },
        { additionalProperties: false },
      ),
      holds: Type.Array(
        Type.Object(
          { grant: Type.Optional(Id), prefix: PrefixText },
          { additionalProperties: false },
        ),
        { maxItems: 4096 },
      ),
    },
    { agent: { version: '0.1.0', backend: 'sim' }, holds: [{ prefix: '100.64.8.0/27' }] },
  ),
  msg(
    'pool-request',
    {
      family: Type.Optional(Family),
      length: Type.Optional(Type.Integer({ minimum: 0, maximum: 128 })),
      reason: Type.Optional(Type.String({ maxLength: 500 })),
    },
    { family: 'ipv4', reason: 'start-up' },
  ),
  msg('renew', { grants: GrantIds }, { grants: ['grant_0mwws3gu6000tas6va2w'] }),
  msg(
    'status-report',
    {
      window: Type.Integer({ minimum: 0, maximum: 86400 }),
      grants: Type.Array(
        Type.Object(
          {
            grant: Id,
            used: Count,
            peak: Type.Optional(Count),
            average: Type.Optional(Count),
            ports: Type.Optional(
              Type.Object(
                {
                  total: Count,
                  used: Count,
                  peak: Type.Optional(Count),
                  average: Type.Optional(Count),
                },
                { additionalProperties: false },
              ),
            ),
            plane: Type.Optional(Name),
            state: Type.Optional(lit(['active', 'draining'])),
          },
          { additionalProperties: false },
        ),
        { maxItems: 4096 },
      ),
    },
    {
      window: 10,
      grants: [{ grant: 'grant_0mwws3gu6000tas6va2w', used: 27, peak: 29, average: 26.5 }],
    },
  ),
  msg('status-query', {}, {}),
  msg('release-request', { grants: GrantIds }, { grants: ['grant_0mwws3gu6000tas6va2w'] }),
  msg('release-confirm', { grants: GrantIds }, { grants: ['grant_0mwws3gu6000tas6va2w'] }),
  msg('ack', { upTo: Type.Integer({ minimum: 0 }) }, { upTo: 42 }),
]
export const DeviceMessage = Type.Unsafe<unknown>({
  type: 'object',
  required: ['type'],
  oneOf: MESSAGES,
  discriminator: { propertyName: 'type' },
  description: 'One device message (docs/protocol.md); `type` says which.',
  examples: MESSAGES.flatMap((m) => (m as { examples?: unknown[] }).examples ?? []),
})
export const CoordinatorMessage = Type.Object(
  { ...Header, type: Type.String() },
  {
    additionalProperties: true,
    description:
      'The answer: `sync`, `pool-reply`, `renew-reply`, `report-confirm`, `status`, `release-notification` or `ok` (docs/protocol.md).',
  },
)
export type DeviceMessageBody = Static<(typeof MESSAGES)[number]>

// ---- lease replay (docs/protocol.md, "Lease replay") -----------------------------------------

const HexBytes = (maxLength: number, example: string) =>
  Type.String({
    minLength: 2,
    maxLength,
    pattern: '^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2})*$',
    description: 'Bytes in hex, as Kea writes them (`1a:1b:1c:1d:1e:1f`).',
    examples: [example],
  })
const U32 = Type.Integer({ minimum: 0, maximum: 0xffff_ffff })
const LEASE_FIELDS = {
  kind: lit(['v4', 'na', 'pd'], {
    description: '`v4` DHCPv4, `na` a DHCPv6 address, `pd` a delegated prefix.',
  }),
  address: Type.String({
    minLength: 2,
    maxLength: 64,
    description:
      'Kea `ip-address`; for `pd` the prefix (`2001:db8:1:100::/56`) or its first address with `prefixLength`.',
    examples: ['100.64.8.17'],
  }),
  prefixLength: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 128, description: 'Kea `prefix-len` (`pd`).' }),
  ),
  hwAddress: Type.Optional(HexBytes(64, '1a:1b:1c:1d:1e:1f')),
  clientId: Type.Optional(HexBytes(800, '01:1a:1b:1c:1d:1e:1f')),
  duid: Type.Optional(HexBytes(400, '00:03:00:01:1a:1b:1c:1d:1e:1f')),
  iaid: Type.Optional(U32),
  validLifetime: Type.Integer({
    minimum: 0,
    maximum: MAX_LEASE_LIFETIME,
    description: 'Kea `valid-lft`, seconds.',
  }),
  preferredLifetime: Type.Optional(U32),
  cltt: Type.Integer({
    minimum: 0,
    maximum: MAX_CLTT,
    description: 'Kea `cltt`: last renewal, epoch seconds.',
  }),
  hostname: Type.Optional(Type.String({ maxLength: 255 })),
  subnetId: Type.Optional(U32),
  state: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  userContext: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
}
const LEASE_EXAMPLE = {
  kind: 'v4',
  address: '100.64.8.17',
  hwAddress: '1a:1b:1c:1d:1e:1f',
  validLifetime: 3600,
  cltt: 1_795_003_200,
  hostname: 'cpe-17',
  subnetId: 1,
}
export const LeaseUpload = Type.Object(
  {
    grants: Type.Array(
      Type.Object(
        {
          grant: Id,
          leases: Type.Array(Type.Object(LEASE_FIELDS, { additionalProperties: false }), {
            maxItems: MAX_LEASES_PER_UPLOAD,
          }),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_GRANTS_PER_MESSAGE },
    ),
  },
  {
    additionalProperties: false,
    description: `Snapshots: each grant's leases replace the ones stored for it. At most ${MAX_LEASES_PER_UPLOAD} leases in all.`,
    examples: [
      {
        grants: [
          { grant: 'gr_0mwws3gu6000tas6va2w', leases: [LEASE_EXAMPLE] },
          {
            grant: 'gr_0mwws3gu6001b2c3d4e5',
            leases: [
              {
                kind: 'pd',
                address: '2001:db8:1:100::/56',
                duid: '00:03:00:01:1a:1b:1c:1d:1e:1f',
                iaid: 1,
                validLifetime: 7200,
                preferredLifetime: 3600,
                cltt: 1_795_003_200,
              },
            ],
          },
        ],
      },
    ],
  },
)
export const LeaseUploadResult = Type.Object({
  grants: Type.Array(Type.Object({ grant: Id, stored: Type.Integer() })),
  stored: Type.Integer({ description: 'Leases stored in all.' }),
})
export const Lease = Type.Object(
  {
    grant: Id,
    ...LEASE_FIELDS,
    expiresAt: Time,
    storedAt: Time,
  },
  { examples: [{ grant: 'gr_0mwws3gu6000tas6va2w', ...LEASE_EXAMPLE }] },
)
export const LeaseQuery = Type.Object(
  {
    grant: Type.Optional(
      Type.Union([Id, Type.Array(Id, { maxItems: MAX_GRANTS_PER_MESSAGE })], {
        description: 'Only leases of this grant (repeat for several).',
      }),
    ),
    includeExpired: Type.Optional(
      Type.Boolean({ description: 'Ended leases too (left out by default).' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LEASE_PAGE })),
    after: Type.Optional(
      Type.String({ maxLength: 200, description: 'The `next` cursor of the previous page.' }),
    ),
  },
  { additionalProperties: false },
)
