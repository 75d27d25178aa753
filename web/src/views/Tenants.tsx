import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import type { Tenant } from '../api/types'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { DataTable } from '../components/DataTable'
import { FormDialog } from '../components/FormDialog'
import { TextField } from '../components/Inputs'
import { Loading } from '../components/Loading'
import { Toolbar } from '../components/Toolbar'
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
      <Toolbar
        actions={[
          {
            label: 'New tenant',
            onClick: () => {
              setName('')
              setCreating(true)
            },
          },
        ]}
      />
      <Loading error={tenants.error} pending={tenants.isPending} what="tenants" />
      {tenants.isSuccess ? (
        <DataTable columns={['Name', 'Created']} actions>
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
        </DataTable>
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
          <TextField label="Name" value={name} onValue={setName} required />
        </FormDialog>
      ) : null}
      {deleting === null ? null : (
        <ConfirmDialog
          title={`Delete tenant ${deleting.name}?`}
          onClose={() => {
            setDeleting(null)
          }}
          onConfirm={async () => {
            await call(
              api.DELETE('/api/v1/tenants/{tenant}', { params: { path: { tenant: deleting.id } } }),
            )
            await refresh()
          }}
        >
          <p>Only an empty tenant can be deleted; the API says what is still in it otherwise.</p>
        </ConfirmDialog>
      )}
    </section>
  )
}
