import { useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import type { Pool } from '../api/types'
import { FormDialog } from '../components/FormDialog'
import { NumberField, SelectField, TextField } from '../components/Inputs'

/** The kinds of pool the API knows. */
export const POOL_KINDS = [
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
] as const

type Kind = (typeof POOL_KINDS)[number]

/** Props of {@link PoolDialog}. */
export interface PoolDialogProps {
  /** The pool to edit; a new pool when undefined. */
  readonly pool?: Pool
  readonly onClose: () => void
  /** After the API accepted it. */
  readonly onSaved: (pool: Pool) => Promise<void> | void
}

/** `''` → undefined, else the number typed (NaN stays NaN for the API to refuse). */
function num(text: string): number | undefined {
  return text.trim() === '' ? undefined : Number(text)
}

/** `{ [key]: value }`, or nothing when the value is undefined. */
function opt<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>)
}

/**
 * Creates a pool or edits one's policy. The values go to the API as typed; what it refuses is
 * shown as it said it (e.g. `CASM_ERR_VALIDATION body/policy/highWatermark must be <= 1`).
 */
export function PoolDialog({ pool, onClose, onSaved }: PoolDialogProps) {
  const domains = useQuery({
    queryKey: ['domains'],
    queryFn: () => call(api.GET('/api/v1/domains')),
    enabled: pool === undefined,
  })
  const [name, setName] = useState(pool?.name ?? '')
  const [domain, setDomain] = useState('')
  const [kind, setKind] = useState<Kind>(pool?.kind ?? 'subscriber')
  const [space, setSpace] = useState(pool?.space.join(', ') ?? '')
  const [unit, setUnit] = useState(pool === undefined ? '' : String(pool.policy.unit.default))
  const [high, setHigh] = useState(pool === undefined ? '' : String(pool.policy.highWatermark))
  const [low, setLow] = useState(pool === undefined ? '' : String(pool.policy.lowWatermark))
  const [holdDown, setHoldDown] = useState(pool === undefined ? '' : String(pool.policy.holdDown))
  const domainValue = domain === '' ? (domains.data?.items[0]?.name ?? '') : domain
  const body = () => {
    const u = num(unit)
    return {
      name: name.trim(),
      kind,
      space: space
        .split(/[,\s]+/)
        .map((x) => x.trim())
        .filter((x) => x !== ''),
      policy: {
        ...(u === undefined ? {} : { unit: { default: u } }),
        ...opt('highWatermark', num(high)),
        ...opt('lowWatermark', num(low)),
        ...opt('holdDown', num(holdDown)),
      },
    }
  }
  return (
    <FormDialog
      title={pool === undefined ? 'New pool' : `Edit policy of ${pool.name}`}
      submitLabel={pool === undefined ? 'Create' : 'Save'}
      onClose={onClose}
      onSubmit={async () => {
        const saved =
          pool === undefined
            ? await call(api.POST('/api/v1/pools', { body: { ...body(), domain: domainValue } }))
            : await call(
                api.PATCH('/api/v1/pools/{pool}', {
                  params: { path: { pool: pool.id } },
                  body: body(),
                }),
              )
        await onSaved(saved)
      }}
    >
      <div className="form-grid">
        <TextField label="Name" value={name} onValue={setName} required />
        {pool === undefined ? (
          <SelectField
            label="Domain"
            value={domainValue}
            onValue={setDomain}
            options={(domains.data?.items ?? []).map((d) => d.name)}
          />
        ) : null}
        <SelectField label="Kind" value={kind} onValue={setKind} options={POOL_KINDS} />
        <TextField
          label="Space"
          help="Prefixes or ranges, separated by commas."
          value={space}
          onValue={setSpace}
          placeholder="100.64.0.0/20"
          required
        />
        <NumberField
          label="Default unit"
          help="Prefix length of a grant, e.g. 27."
          value={unit}
          onValue={setUnit}
        />
        <NumberField
          label="High watermark"
          help="Grow above this utilisation (0–1)."
          value={high}
          onValue={setHigh}
          decimal
        />
        <NumberField
          label="Low watermark"
          help="Shrink below this utilisation (0–1)."
          value={low}
          onValue={setLow}
          decimal
        />
        <NumberField
          label="Hold-down (s)"
          help="How long utilisation must stay low before a drain."
          value={holdDown}
          onValue={setHoldDown}
        />
      </div>
    </FormDialog>
  )
}
