import { useState } from 'react'
import type { Grant } from '../api/types'
import { SelectField, TextField } from '../components/Inputs'
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
        <TextField label="Pool" value={pool} onValue={setPool} placeholder="name or id" />
        <TextField label="Device" value={device} onValue={setDevice} placeholder="name or id" />
        <SelectField label="State" value={state} onValue={setState} options={STATES}>
          <option value="">any</option>
        </SelectField>
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
