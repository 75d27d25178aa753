import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import type { Tenant } from '../api/types'
import { Field } from '../components/Field'
import { FormDialog } from '../components/FormDialog'
import { Loading } from '../components/Loading'
import { dateTime } from '../format'
import { useSession } from '../session'

/** Tenants (root admins): list, create, delete an empty one, act in one. */
export function Tenants() {
  const s = useSession()
  const client = useQueryClient()
  const [creating, setCreating] = useState(false)
  const [deleting, setDeleting] = useState<Tenant | null>(null)
  const [name, setName] = useState('')
  const tenants = useQuery({
    queryKey: ['tenants'],
    queryFn: () => call(api.GET('/api/v1/tenants')),
  })
  const refresh = () => client.invalidateQueries({ queryKey: ['tenants'] })
  return (
    <section>
      <h1>Tenants</h1>
      <div className="toolbar">
        <button
          type="button"
          className="primary"
          onClick={() => {
            setName('')
            setCreating(true)
          }}
        >
          New tenant
        </button>
      </div>
      <Loading error={tenants.error} pending={tenants.isPending} what="tenants" />
      {tenants.isSuccess ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tenants.data.items.map((t) => (
                <tr key={t.id}>
                  <td>
                    {t.name}
                    {t.name === s.me.tenant ? ' (acting in it)' : ''}
                  </td>
                  <td>{dateTime(t.createdAt)}</td>
                  <td className="actions">
                    {t.name === s.me.tenant ? null : (
                      <button
                        type="button"
                        aria-label={`Act in ${t.name}`}
                        onClick={() => {
                          s.switchTenant(t.name === 'default' ? null : t.name)
                        }}
                      >
                        Act in it
                      </button>
                    )}
                    {t.name === 'default' ? null : (
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Delete ${t.name}`}
                        onClick={() => {
                          setDeleting(t)
                        }}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {creating ? (
        <FormDialog
          title="New tenant"
          submitLabel="Create"
          onClose={() => {
            setCreating(false)
          }}
          onSubmit={async () => {
            await call(api.POST('/api/v1/tenants', { body: { name: name.trim() } }))
            await refresh()
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
        </FormDialog>
      ) : null}
      {deleting === null ? null : (
        <FormDialog
          title={`Delete tenant ${deleting.name}?`}
          submitLabel="Confirm"
          danger
          onClose={() => {
            setDeleting(null)
          }}
          onSubmit={async () => {
            await call(
              api.DELETE('/api/v1/tenants/{tenant}', { params: { path: { tenant: deleting.id } } }),
            )
            await refresh()
          }}
        >
          <p>Only an empty tenant can be deleted; the API says what is still in it otherwise.</p>
        </FormDialog>
      )}
    </section>
  )
}
