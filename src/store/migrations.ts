/**
 * Versioned schema migrations, one list for both databases: each version has the SQLite and the
 * PostgreSQL text of the same change. Applied in order at start; a database whose version is
 * newer than the last here is refused.
 *
 * Addresses are 16-byte big-endian byte strings (IPv4 and MAC left-padded with zeros), so byte
 * order equals numeric order in both databases. On PostgreSQL each unit also carries its span as
 * a `numrange` under an exclusion constraint: two live units of one domain and family can never
 * overlap, whatever the application does. The range comes first in the constraint: GiST indexes
 * led by a column with few values (the domain) build and insert very slowly at a million rows.
 *
 * @module
 */

/** One schema version. */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly sqlite: string
  readonly postgres: string
}

const V1_COMMON = (t: {
  bytes: string
  bool: string
  time: string
  json: string
  seq: string
}): string => `
CREATE TABLE tenant (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at ${t.time} NOT NULL
);

CREATE TABLE token (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenant(id),
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin', 'device')),
  hash TEXT NOT NULL UNIQUE,
  device_id TEXT,
  created_at ${t.time} NOT NULL,
  revoked_at ${t.time}
);

CREATE TABLE domain (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenant(id),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at ${t.time} NOT NULL,
  updated_at ${t.time} NOT NULL,
  UNIQUE (tenant_id, name)
);

CREATE TABLE block (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenant(id),
  domain_id TEXT NOT NULL REFERENCES domain(id),
  family TEXT NOT NULL CHECK (family IN ('ipv4', 'ipv6', 'mac')),
  first ${t.bytes} NOT NULL,
  last ${t.bytes} NOT NULL,
  space TEXT NOT NULL,
  reserved ${t.bool} NOT NULL,
  source ${t.json} NOT NULL,
  description TEXT NOT NULL,
  tags ${t.json} NOT NULL,
  created_at ${t.time} NOT NULL,
  updated_at ${t.time} NOT NULL
);
CREATE INDEX block_domain_first ON block (domain_id, family, first);
CREATE INDEX block_tenant ON block (tenant_id, created_at);

CREATE TABLE pool (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenant(id),
  domain_id TEXT NOT NULL REFERENCES domain(id),
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  family TEXT NOT NULL CHECK (family IN ('ipv4', 'ipv6', 'mac')),
  space ${t.json} NOT NULL,
  policy ${t.json} NOT NULL,
  priority INTEGER NOT NULL,
  selectors ${t.json} NOT NULL,
  tags ${t.json} NOT NULL,
  description TEXT NOT NULL,
  version BIGINT NOT NULL,
  space_version BIGINT NOT NULL,
  created_at ${t.time} NOT NULL,
  updated_at ${t.time} NOT NULL,
  UNIQUE (tenant_id, name)
);

CREATE TABLE pool_range (
  pool_id TEXT NOT NULL REFERENCES pool(id) ON DELETE CASCADE,
  domain_id TEXT NOT NULL,
  family TEXT NOT NULL,
  first ${t.bytes} NOT NULL,
  last ${t.bytes} NOT NULL,
  PRIMARY KEY (pool_id, first)
);
CREATE INDEX pool_range_domain_first ON pool_range (domain_id, family, first);

CREATE TABLE device (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenant(id),
  name TEXT NOT NULL,
  attributes ${t.json} NOT NULL,
  description TEXT NOT NULL,
  created_at ${t.time} NOT NULL,
  updated_at ${t.time} NOT NULL,
  UNIQUE (tenant_id, name)
);

CREATE TABLE reservation (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenant(id),
  pool_id TEXT NOT NULL REFERENCES pool(id),
  kind TEXT NOT NULL CHECK (kind IN ('reserved', 'excluded')),
  target ${t.json} NOT NULL,
  prefixes ${t.json} NOT NULL,
  description TEXT NOT NULL,
  created_at ${t.time} NOT NULL
);
CREATE INDEX reservation_pool ON reservation (pool_id);

CREATE TABLE allocation (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenant(id),
  domain_id TEXT NOT NULL REFERENCES domain(id),
  pool_id TEXT NOT NULL REFERENCES pool(id),
  type TEXT NOT NULL CHECK (type IN ('grant', 'assignment', 'reservation', 'exclusion')),
  family TEXT NOT NULL CHECK (family IN ('ipv4', 'ipv6', 'mac')),
  first ${t.bytes} NOT NULL,
  last ${t.bytes} NOT NULL,
  length INTEGER NOT NULL,
  prefix TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'draining', 'released', 'quarantined', 'expired', 'free')),
  live ${t.bool} NOT NULL,
  device_id TEXT REFERENCES device(id) ON DELETE SET NULL,
  reservation_id TEXT REFERENCES reservation(id) ON DELETE CASCADE,
  requestor ${t.json},
  hostname TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at ${t.time} NOT NULL,
  updated_at ${t.time} NOT NULL,
  expires_at ${t.time},
  released_at ${t.time},
  quarantine_until ${t.time},
  changed_version BIGINT NOT NULL
);
CREATE INDEX allocation_pool_live ON allocation (pool_id, live, first);
CREATE INDEX allocation_pool_changed ON allocation (pool_id, changed_version);
CREATE INDEX allocation_domain_first ON allocation (domain_id, family, first);
CREATE INDEX allocation_device ON allocation (device_id, id) WHERE device_id IS NOT NULL;
CREATE INDEX allocation_tenant_type ON allocation (tenant_id, type, id);
CREATE INDEX allocation_expires ON allocation (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX allocation_quarantine ON allocation (quarantine_until) WHERE quarantine_until IS NOT NULL;
CREATE INDEX allocation_transient ON allocation (state) WHERE state IN ('released', 'expired');

CREATE TABLE event (
  seq ${t.seq} PRIMARY KEY,
  id TEXT NOT NULL,
  tenant_id TEXT,
  at ${t.time} NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id TEXT,
  before_json TEXT,
  after_json TEXT,
  reason TEXT,
  request_id TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX event_tenant ON event (tenant_id, seq);
CREATE INDEX event_object ON event (object_id, seq);

CREATE TABLE chain_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '${'0'.repeat(64)}');

CREATE TABLE idempotency (
  tenant_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at ${t.time} NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
`

/**
 * Version 2, the device loop: a device's policy overrides; what the loop knows of each grant
 * (pin, why it drains, where it moves, the last usage report); the loop's state per device;
 * the stream of messages to each device (stored before they are sent, so a reconnect resumes
 * without loss); alerts.
 */
const V2_COMMON = (t: { bool: string; time: string; json: string; false: string }): string => `
ALTER TABLE device ADD COLUMN policy ${t.json} NOT NULL DEFAULT '{}';

CREATE TABLE grant_status (
  grant_id TEXT PRIMARY KEY REFERENCES allocation(id) ON DELETE CASCADE,
  device_id TEXT NOT NULL,
  pinned ${t.bool} NOT NULL DEFAULT ${t.false},
  drain_cause TEXT,
  moving_to TEXT,
  used BIGINT,
  peak BIGINT,
  average DOUBLE PRECISION,
  ports ${t.json},
  plane TEXT,
  reported_at ${t.time},
  confirmed_at ${t.time},
  served_state TEXT,
  drain_seq BIGINT
);
CREATE INDEX grant_status_device ON grant_status (device_id);

CREATE TABLE device_loop (
  device_id TEXT PRIMARY KEY REFERENCES device(id) ON DELETE CASCADE,
  tenant_id TEXT NOT NULL,
  agent ${t.json},
  hello_at ${t.time},
  report_at ${t.time},
  stale_at ${t.time},
  low_since ${t.json} NOT NULL,
  history ${t.json} NOT NULL,
  stream_seq BIGINT NOT NULL,
  acked_seq BIGINT NOT NULL,
  silent ${t.bool} NOT NULL,
  failures INTEGER NOT NULL
);
CREATE INDEX device_loop_stale ON device_loop (stale_at) WHERE NOT silent;

CREATE TABLE device_message (
  device_id TEXT NOT NULL REFERENCES device(id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at ${t.time} NOT NULL,
  PRIMARY KEY (device_id, seq)
);
CREATE INDEX device_message_created ON device_message (created_at);

CREATE TABLE alert (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id TEXT NOT NULL,
  message TEXT NOT NULL,
  raised_at ${t.time} NOT NULL,
  cleared_at ${t.time}
);
CREATE INDEX alert_tenant ON alert (tenant_id, raised_at);
CREATE INDEX alert_open ON alert (kind) WHERE cleared_at IS NULL;
`

/**
 * Version 3, lease replay (RF-4.3.3.4): the leases a device's DHCP server gave out of its live
 * grants, stored by its agent as one snapshot per grant and fetched back to replay them into a
 * replacement server. `address` is canonical text (for prefix delegation the prefix,
 * `2001:db8:1:100::/56`); `lease` the checked lease as JSON. Rows go with their grant and their
 * device. `bytewise` makes PostgreSQL order the text columns as SQLite does, whatever the
 * database's collation, so a cursor pages alike on both.
 */
const V3_COMMON = (t: { time: string; json: string; bytewise: string }): string => `
CREATE TABLE device_lease (
  tenant_id TEXT NOT NULL,
  device_id TEXT NOT NULL REFERENCES device(id) ON DELETE CASCADE,
  grant_id TEXT ${t.bytewise} NOT NULL REFERENCES allocation(id) ON DELETE CASCADE,
  address TEXT ${t.bytewise} NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('v4', 'na', 'pd')),
  lease ${t.json} NOT NULL,
  expires_at ${t.time} NOT NULL,
  stored_at ${t.time} NOT NULL,
  PRIMARY KEY (grant_id, address)
);
CREATE INDEX device_lease_device ON device_lease (device_id, grant_id, address);
`

/**
 * Version 4, usage history: one sample of a pool's or a device's usage per family, taken by the
 * coordinator's housekeeping every few minutes and kept a week, for the console's charts. `used`
 * and `total` are address counts as decimal text (IPv6 counts outgrow 64 bits); `at` is epoch
 * ms; `utilisation` a double on both (PostgreSQL's REAL is single precision). Samples name their object without a foreign key: they outlive nothing for long, and the
 * prune removes those of deleted objects with the rest. Also an index of each device's live units:
 * a status report reads them, and without it walked every unit the device ever held.
 */
const V4_COMMON = (t: { time: string; real: string }): string => `
CREATE TABLE usage_sample (
  tenant_id TEXT NOT NULL,
  object_type TEXT NOT NULL CHECK (object_type IN ('pool', 'device')),
  object_id TEXT NOT NULL,
  family TEXT NOT NULL CHECK (family IN ('ipv4', 'ipv6', 'mac')),
  at ${t.time} NOT NULL,
  used TEXT NOT NULL,
  total TEXT NOT NULL,
  utilisation ${t.real} NOT NULL,
  PRIMARY KEY (object_id, family, at)
);
CREATE INDEX usage_sample_at ON usage_sample (at);
CREATE INDEX usage_sample_object_at ON usage_sample (object_id, at);
CREATE INDEX allocation_device_live ON allocation (device_id, id) WHERE live;
`

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sqlite: V1_COMMON({
      bytes: 'BLOB',
      bool: 'INTEGER',
      time: 'INTEGER',
      json: 'TEXT',
      seq: 'INTEGER',
    }),
    postgres: `
CREATE EXTENSION IF NOT EXISTS btree_gist;
${V1_COMMON({ bytes: 'BYTEA', bool: 'BOOLEAN', time: 'BIGINT', json: 'TEXT', seq: 'BIGINT' })}
ALTER TABLE allocation ADD COLUMN span NUMRANGE NOT NULL;
ALTER TABLE allocation ADD CONSTRAINT allocation_no_overlap
  EXCLUDE USING gist (span WITH &&, domain_id WITH =, family WITH =) WHERE (live);
`,
  },
  {
    version: 2,
    name: 'device loop',
    sqlite: V2_COMMON({ bool: 'INTEGER', time: 'INTEGER', json: 'TEXT', false: '0' }),
    postgres: V2_COMMON({ bool: 'BOOLEAN', time: 'BIGINT', json: 'TEXT', false: 'false' }),
  },
  {
    version: 3,
    name: 'lease replay',
    sqlite: V3_COMMON({ time: 'INTEGER', json: 'TEXT', bytewise: '' }),
    postgres: V3_COMMON({ time: 'BIGINT', json: 'TEXT', bytewise: 'COLLATE "C"' }),
  },
  {
    version: 4,
    name: 'usage history',
    sqlite: V4_COMMON({ time: 'INTEGER', real: 'REAL' }),
    postgres: V4_COMMON({ time: 'BIGINT', real: 'DOUBLE PRECISION' }),
  },
]

/** The schema version this casm writes. */
export const SCHEMA_VERSION = MIGRATIONS.length
