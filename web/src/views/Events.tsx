import { useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import { ErrorAlert } from '../components/ErrorAlert'
import { TextField } from '../components/Inputs'
import { useDebounced } from '../debounce'
import { EventTable } from './EventTable'

/** The event log with filters, and the verification of its hash chain. */
export function Events() {
  const [action, setAction] = useState('')
  const [object, setObject] = useState('')
  const [actor, setActor] = useState('')
  const typed = useDebounced(`${action.trim()}\n${object.trim()}\n${actor.trim()}`)
  const [a = '', o = '', r = ''] = typed.split('\n')
  const applied = { action: a, object: o, actor: r }
  const verify = useQuery({
    queryKey: ['events-verify'],
    enabled: false,
    retry: false,
    queryFn: () => call(api.GET('/api/v1/events/verify')),
  })
  const filter = {
    ...(applied.action === '' ? {} : { action: applied.action }),
    ...(applied.object === '' ? {} : { object: applied.object }),
    ...(applied.actor === '' ? {} : { actor: applied.actor }),
  }
  const input = (label: string, value: string, set: (v: string) => void, hint: string) => (
    <TextField label={label} value={value} onValue={set} placeholder={hint} />
  )
  return (
    <section>
      <h1>Events</h1>
      <div className="toolbar">
        <button
          type="button"
          onClick={() => {
            void verify.refetch()
          }}
          disabled={verify.isFetching}
        >
          Verify chain
        </button>
        <span aria-live="polite" className="verify">
          {verify.isFetching ? 'Verifying…' : null}
          {!verify.isFetching && verify.data !== undefined ? (
            verify.data.ok ? (
              <span className="ok">
                Chain verified: {verify.data.checked} events, head {verify.data.head.seq}
              </span>
            ) : (
              <span className="bad">
                Chain broken at event {verify.data.broken?.seq ?? '?'}:{' '}
                {verify.data.broken?.reason ?? 'unknown reason'} ({verify.data.checked} checked)
              </span>
            )
          ) : null}
        </span>
      </div>
      {verify.isError ? <ErrorAlert error={verify.error} /> : null}
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault()
        }}
      >
        {input('Action', action, setAction, 'grant.drain')}
        {input('Object', object, setObject, 'object id')}
        {input('Actor', actor, setActor, 'token:… or system:policy')}
      </form>
      <EventTable filter={filter} caption="The event log, oldest first" />
    </section>
  )
}
