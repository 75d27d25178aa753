import { useState } from 'react'
import type { Grant } from '../api/types'
import { Field } from '../components/Field'
import { useDebounced } from '../debounce'
import { GrantTable } from './GrantTable'

const STATES: readonly Grant['state'][] = [
  'active',
  'draining',
  'released',
  'quarantined',
  'expired',
  'free',
]

/** Every grant of the tenant, filtered by pool, device and state, one page at a time. */
export function Grants() {
  const [pool, setPool] = useState('')
  const [device, setDevice] = useState('')
  const [state, setState] = useState('')
  const typed = useDebounced(`${pool.trim()}\n${device.trim()}`)
  const [p = '', d = ''] = typed.split('\n')
  const applied = { pool: p, device: d, state }
  return (
    <section>
      <h1>Grants</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault()
        }}
      >
        <Field label="Pool">
          {(id) => (
            <input
              id={id}
              value={pool}
              placeholder="name or id"
              onChange={(e) => {
                setPool(e.target.value)
              }}
            />
          )}
        </Field>
        <Field label="Device">
          {(id) => (
            <input
              id={id}
              value={device}
              placeholder="name or id"
              onChange={(e) => {
                setDevice(e.target.value)
              }}
            />
          )}
        </Field>
        <Field label="State">
          {(id) => (
            <select
              id={id}
              value={state}
              onChange={(e) => {
                setState(e.target.value)
              }}
            >
              <option value="">any</option>
              {STATES.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          )}
        </Field>
      </form>
      <GrantTable
        caption="Grants"
        filter={{
          ...(applied.pool === '' ? {} : { pool: applied.pool }),
          ...(applied.device === '' ? {} : { device: applied.device }),
          ...(applied.state === '' ? {} : { state: applied.state as Grant['state'] }),
        }}
      />
    </section>
  )
}
