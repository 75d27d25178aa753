import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import { Field } from '../components/Field'
import { FormDialog } from '../components/FormDialog'
import { Loading } from '../components/Loading'
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
        <div className="toolbar">
          <button
            type="button"
            className="primary"
            onClick={() => {
              setCreating(true)
            }}
          >
            New device
          </button>
        </div>
      ) : null}
      <Loading error={devices.error} pending={devices.isPending} what="devices" />
      {devices.isSuccess && all.length === 0 ? <p className="empty">No device yet.</p> : null}
      {shown.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Function</th>
                <th scope="col">Form factor</th>
                <th scope="col">Scope</th>
                <th scope="col">Description</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
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
      <Field label="Name">
        {(id) => (
          <input
            id={id}
            value={name}
            onChange={(e) => {
              setName(e.target.value)
            }}
            required
          />
        )}
      </Field>
      <Field label="Function" help="e.g. bng, cgn, dhcp">
        {(id) => (
          <input
            id={id}
            value={fn}
            onChange={(e) => {
              setFn(e.target.value)
            }}
          />
        )}
      </Field>
      <Field label="Description">
        {(id) => (
          <input
            id={id}
            value={description}
            onChange={(e) => {
              setDescription(e.target.value)
            }}
          />
        )}
      </Field>
    </FormDialog>
  )
}
