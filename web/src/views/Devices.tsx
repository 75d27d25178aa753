import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import { DataTable } from '../components/DataTable'
import { FormDialog } from '../components/FormDialog'
import { TextField } from '../components/Inputs'
import { Loading } from '../components/Loading'
import { Toolbar } from '../components/Toolbar'
import { dateTime } from '../format'
import { Link } from '../router'
import { useSession } from '../session'

/** Devices shown per page (the API lists them all at once). */
const PAGE = 100

/** The devices of the tenant with their attributes; operators add them. */
export function Devices() {
  const s = useSession()
  const client = useQueryClient()
  const [creating, setCreating] = useState(false)
  const [page, setPage] = useState(0)
  const devices = useQuery({
    queryKey: ['devices'],
    queryFn: () => call(api.GET('/api/v1/devices')),
  })
  const all = devices.data?.items ?? []
  const shown = all.slice(page * PAGE, (page + 1) * PAGE)
  const pages = Math.max(1, Math.ceil(all.length / PAGE))
  return (
    <section>
      <h1>Devices</h1>
      {s.canEdit ? (
        <Toolbar
          actions={[
            {
              label: 'New device',
              onClick: () => {
                setCreating(true)
              },
            },
          ]}
        />
      ) : null}
      <Loading error={devices.error} pending={devices.isPending} what="devices" />
      {devices.isSuccess && all.length === 0 ? <p className="empty">No device yet.</p> : null}
      {shown.length > 0 ? (
        <DataTable columns={['Name', 'Function', 'Form factor', 'Scope', 'Description', 'Created']}>
          {shown.map((d) => (
            <tr key={d.id}>
              <td>
                <Link href={`/devices/${encodeURIComponent(d.name)}`}>{d.name}</Link>
              </td>
              <td>{d.attributes.function ?? '—'}</td>
              <td>{d.attributes.formFactor ?? '—'}</td>
              <td>{d.attributes.scope ?? '—'}</td>
              <td>{d.description}</td>
              <td>{dateTime(d.createdAt)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      {pages > 1 ? (
        <div className="pager">
          <button
            type="button"
            disabled={page === 0}
            onClick={() => {
              setPage(page - 1)
            }}
          >
            Previous page
          </button>
          <span>
            Page {page + 1} of {pages} · {all.length} devices
          </span>
          <button
            type="button"
            disabled={page + 1 >= pages}
            onClick={() => {
              setPage(page + 1)
            }}
          >
            Next page
          </button>
        </div>
      ) : null}
      {creating ? (
        <NewDevice
          onClose={() => {
            setCreating(false)
          }}
          onDone={() => client.invalidateQueries({ queryKey: ['devices'] })}
        />
      ) : null}
    </section>
  )
}

function NewDevice({
  onClose,
  onDone,
}: {
  readonly onClose: () => void
  readonly onDone: () => Promise<void>
}) {
  const [name, setName] = useState('')
  const [fn, setFn] = useState('')
  const [description, setDescription] = useState('')
  return (
    <FormDialog
      title="New device"
      submitLabel="Create"
      onClose={onClose}
      onSubmit={async () => {
        await call(
          api.POST('/api/v1/devices', {
            body: {
              name: name.trim(),
              ...(fn.trim() === '' ? {} : { attributes: { function: fn.trim() } }),
              ...(description === '' ? {} : { description }),
            },
          }),
        )
        await onDone()
      }}
    >
      <TextField label="Name" value={name} onValue={setName} required />
      <TextField label="Function" help="e.g. bng, cgn, dhcp" value={fn} onValue={setFn} />
      <TextField label="Description" value={description} onValue={setDescription} />
    </FormDialog>
  )
}
