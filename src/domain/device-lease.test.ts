import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { throwsCode } from '../../test/support/throws-code.js'
import { Prefix } from '../ip/index.js'
import { type LeaseInput, MAX_LEASE_LIFETIME, checkLease } from './device-lease.js'

const v4 = { id: 'gr_v4', prefix: Prefix.parse('100.64.8.0/27') }
const v6 = { id: 'gr_v6', prefix: Prefix.parse('2001:db8:1::/48') }
const base = { validLifetime: 3600, cltt: 1_767_225_600 }
const dhcp4: LeaseInput = { ...base, kind: 'v4', address: '100.64.8.17', hwAddress: '1a:1b:1c' }
const dhcp6 = { ...base, duid: '00:03:00:01:1a:1b', iaid: 7 }

describe('checkLease', () => {
  it('gives the lease in canonical form with its key and end', () => {
    assert.deepEqual(checkLease(v4, { ...dhcp4, userContext: { a: [1] } }, '/l'), {
      key: '100.64.8.17',
      lease: { ...dhcp4, grant: 'gr_v4', userContext: { a: [1] } },
      expiresAt: (1_767_225_600 + 3600) * 1000,
    })
    const na = checkLease(v6, { ...dhcp6, kind: 'na', address: '2001:DB8:1:0:0::5' }, '/l')
    assert.equal(na.key, '2001:db8:1::5')
    assert.equal(na.lease.address, '2001:db8:1::5')
    // A full-length prefixLength is no prefix: it is dropped.
    const na128 = checkLease(
      v6,
      { ...dhcp6, kind: 'na', address: '2001:db8:1::5', prefixLength: 128 },
      '/l',
    )
    assert.equal(na128.lease.prefixLength, undefined)
  })

  it('takes a delegated prefix as text or as address and length', () => {
    const a = checkLease(v6, { ...dhcp6, kind: 'pd', address: '2001:db8:1:100::/56' }, '/l')
    const b = checkLease(
      v6,
      { ...dhcp6, kind: 'pd', address: '2001:db8:1:100::', prefixLength: 56 },
      '/l',
    )
    assert.deepEqual(a, b)
    assert.equal(a.key, '2001:db8:1:100::/56')
    assert.deepEqual([a.lease.address, a.lease.prefixLength], ['2001:db8:1:100::', 56])
  })

  it('refuses what cannot be stored or replayed, naming the field', () => {
    const refused = (grant: typeof v4, input: unknown, field: string, message?: RegExp) =>
      throwsCode(
        () => checkLease(grant, input as LeaseInput, '/grants/0/leases/3'),
        'CASM_ERR_VALIDATION',
        new RegExp(`^/grants/0/leases/3/${field}: .*${message?.source ?? ''}`),
      )
    refused(v4, { ...dhcp4, address: '100.64.8.32' }, 'address', /100\.64\.8\.32 is outside/)
    refused(v4, { ...dhcp4, address: '100.64.8' }, 'address')
    refused(v4, { ...dhcp4, address: '2001:db8:1::1' }, 'address')
    refused(v4, { ...dhcp4, kind: 'na' }, 'kind', /a na lease cannot lie in ipv4/)
    refused(v4, { ...dhcp4, kind: 'ia' }, 'kind')
    refused(v4, { ...dhcp4, prefixLength: 24 }, 'prefixLength')
    refused(v4, { ...dhcp4, hwAddress: undefined }, 'hwAddress', /needs hwAddress/)
    refused(v4, { ...dhcp4, validLifetime: MAX_LEASE_LIFETIME + 1 }, 'validLifetime')
    refused(v4, { ...dhcp4, cltt: -1 }, 'cltt')
    refused(v4, { ...dhcp4, preferredLifetime: 1.5 }, 'preferredLifetime')
    const pd = { ...dhcp6, kind: 'pd' }
    refused(v6, { ...pd, address: '2001:db8:1:100::' }, 'prefixLength', /needs its prefix/)
    refused(v6, { ...pd, address: '2001:db8:1:100::/56', prefixLength: 60 }, 'prefixLength')
    refused(v6, { ...pd, address: '2001:db8:1:101::/56' }, 'address', /host bits/)
    refused(v6, { ...pd, address: '2001:db8::/40' }, 'address', /2001:db8::\/40 is outside/)
    refused(v6, { ...pd, address: '2001:db8:2::/56' }, 'address', /outside grant gr_v6/)
    refused(v6, { ...pd, address: '2001:db8:1:100::/56', duid: undefined }, 'duid')
    refused(v6, { ...dhcp6, kind: 'na', address: '2001:db8:1::1', iaid: undefined }, 'iaid')
  })
})
