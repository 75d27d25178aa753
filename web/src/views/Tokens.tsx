import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import type { Role, Token } from '../api/types'
import { ConfirmDialog } from '../components/ConfirmDialog'
import { DataTable } from '../components/DataTable'
import { FormDialog } from '../components/FormDialog'
import { SelectField, TextField } from '../components/Inputs'
import { Loading } from '../components/Loading'
import { Toolbar } from '../components/Toolbar'
import { dateTime } from '../format'
import { useSession } from '../session'

const ROLES: readonly Role[] = ['viewer', 'operator', 'admin', 'device']

/** Bearer tokens (admins): list, create (the secret shows once), revoke. */
export function Tokens() {
  const s = useSession()
  const client = useQueryClient()
  const [creating, setCreating] = useState(false)
  const [revoking, setRevoking] = useState<Token | null>(null)
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null)
  const tokens = useQuery({
    queryKey: ['tokens'],
    queryFn: () => call(api.GET('/api/v1/tokens')),
  })
  const tenants = useQuery({
    queryKey: ['tenants'],
    enabled: s.isRoot,
    queryFn: () => call(api.GET('/api/v1/tenants')),
  })
  const tenantName = new Map((tenants.data?.items ?? []).map((t) => [t.id, t.name]))
  const refresh = () => client.invalidateQueries({ queryKey: ['tokens'] })
  return (
    <section>
      <h1>Tokens</h1>
      <Toolbar
        actions={[
          {
            label: 'New token',
            onClick: () => {
              setCreating(true)
            },
          },
        ]}
      />
      {secret === null ? null : (
        <div className="notice" role="status">
          <p>
            The secret of <strong>{secret.name}</strong>; casm keeps only its hash, so copy it now:
          </p>
          <code className="secret">{secret.secret}</code>
          <button
            type="button"
            onClick={() => {
              setSecret(null)
            }}
          >
            Done
          </button>
        </div>
      )}
      <Loading error={tokens.error} pending={tokens.isPending} what="tokens" />
      {tokens.isSuccess ? (
        <DataTable columns={['Name', 'Role', 'Tenant', 'Device', 'Created', 'Revoked']} actions>
          {tokens.data.items.map((t) => (
            <tr key={t.id} className={t.revokedAt === null ? undefined : 'revoked'}>
              <td>
                {t.name}
                {t.id === s.me.tokenId ? ' (this one)' : ''}
              </td>
              <td>{t.role}</td>
              <td>
                {t.tenant === null
                  ? 'root'
                  : (tenantName.get(t.tenant) ??
                    (t.tenant === s.me.tenantId ? s.me.tenant : t.tenant))}
              </td>
              <td>{t.device ?? '—'}</td>
              <td>{dateTime(t.createdAt)}</td>
              <td>{dateTime(t.revokedAt)}</td>
              <td>
                {t.revokedAt === null && t.id !== s.me.tokenId ? (
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Revoke ${t.name}`}
                    onClick={() => {
                      setRevoking(t)
                    }}
                  >
                    Revoke
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      {creating ? (
        <NewToken
          root={s.isRoot}
          onClose={() => {
            setCreating(false)
          }}
          onCreated={async (name, value) => {
            setSecret({ name, secret: value })
            await refresh()
          }}
        />
      ) : null}
      {revoking === null ? null : (
        <ConfirmDialog
          title={`Revoke ${revoking.name}?`}
          onClose={() => {
            setRevoking(null)
          }}
          onConfirm={async () => {
            await call(api.DELETE('/api/v1/tokens/{id}', { params: { path: { id: revoking.id } } }))
            await refresh()
          }}
        >
          <p>Requests with this token are refused from now on. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </section>
  )
}

function NewToken({
  root,
  onClose,
  onCreated,
}: {
  readonly root: boolean
  readonly onClose: () => void
  readonly onCreated: (name: string, secret: string) => Promise<void>
}) {
  const [name, setName] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const [device, setDevice] = useState('')
  const [isRoot, setIsRoot] = useState(false)
  return (
    <FormDialog
      title="New token"
      submitLabel="Create"
      onClose={onClose}
      onSubmit={async () => {
        const made = await call(
          api.POST('/api/v1/tokens', {
            body: {
              name: name.trim(),
              role,
              ...(device.trim() === '' ? {} : { device: device.trim() }),
              ...(isRoot ? { root: true } : {}),
            },
          }),
        )
        await onCreated(made.token.name, made.secret)
      }}
    >
      <TextField label="Name" value={name} onValue={setName} required />
      <SelectField label="Role" value={role} onValue={setRole} options={ROLES} />
      <TextField
        label="Device"
        help="Device tokens only: the device it speaks for."
        value={device}
        onValue={setDevice}
      />
      {root ? (
        <div className="field field-check">
          <label>
            <input
              type="checkbox"
              checked={isRoot}
              onChange={(e) => {
                setIsRoot(e.target.checked)
              }}
            />{' '}
            Root token (acts across tenants)
          </label>
        </div>
      ) : null}
    </FormDialog>
  )
}
