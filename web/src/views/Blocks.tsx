import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, call } from '../api/client'
import { DataTable } from '../components/DataTable'
import { FormDialog } from '../components/FormDialog'
import { SelectField, TextField } from '../components/Inputs'
import { Loading } from '../components/Loading'
import { Toolbar } from '../components/Toolbar'
import { dateTime } from '../format'
import { Link } from '../router'
import { useSession } from '../session'

/** Domains and the blocks in them; operators create both. */
export function Blocks() {
  const s = useSession()
  const client = useQueryClient()
  const [dialog, setDialog] = useState<'domain' | 'block' | null>(null)
  const domains = useQuery({
    queryKey: ['domains'],
    queryFn: () => call(api.GET('/api/v1/domains')),
  })
  const blocks = useQuery({
    queryKey: ['blocks'],
    queryFn: () => call(api.GET('/api/v1/blocks')),
  })
  const names = new Map((domains.data?.items ?? []).map((d) => [d.id, d.name]))
  const refresh = () => client.invalidateQueries({ queryKey: ['domains'] })
  const refreshBlocks = () => client.invalidateQueries({ queryKey: ['blocks'] })
  return (
    <section>
      <h1>Blocks</h1>
      <p className="lead">
        Domains (routing and addressing scopes) and the blocks of address space in them.
      </p>
      {s.canEdit ? (
        <Toolbar
          actions={[
            {
              label: 'New domain',
              onClick: () => {
                setDialog('domain')
              },
            },
            {
              label: 'New block',
              onClick: () => {
                setDialog('block')
              },
            },
          ]}
        />
      ) : null}

      <h2>Domains</h2>
      <Loading error={domains.error} pending={domains.isPending} what="domains" />
      {domains.isSuccess && domains.data.items.length === 0 ? (
        <p className="empty">No domain yet.</p>
      ) : null}
      {domains.isSuccess && domains.data.items.length > 0 ? (
        <DataTable columns={['Name', 'Description', 'Created']}>
          {domains.data.items.map((d) => (
            <tr key={d.id}>
              <td>{d.name}</td>
              <td>{d.description}</td>
              <td>{dateTime(d.createdAt)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}

      <h2>Blocks</h2>
      <Loading error={blocks.error} pending={blocks.isPending} what="blocks" />
      {blocks.isSuccess && blocks.data.items.length === 0 ? (
        <p className="empty">No block yet.</p>
      ) : null}
      {blocks.isSuccess && blocks.data.items.length > 0 ? (
        <DataTable columns={['Space', 'Domain', 'Family', 'Reserved', 'Special purpose']}>
          {blocks.data.items.map((b) => (
            <tr key={b.id}>
              <td>
                <Link
                  href={`/map?block=${encodeURIComponent(b.id)}`}
                  title={`Address map of ${b.space}`}
                >
                  <code>{b.space}</code>
                </Link>
              </td>
              <td>{names.get(b.domain) ?? b.domain}</td>
              <td>{b.family}</td>
              <td>{b.reserved ? 'yes' : 'no'}</td>
              <td>{b.specialPurpose.map((p) => `${p.name} (${p.rfc})`).join(', ') || '—'}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}

      {dialog === 'domain' ? (
        <NewDomain
          onClose={() => {
            setDialog(null)
          }}
          onDone={refresh}
        />
      ) : null}
      {dialog === 'block' ? (
        <NewBlock
          domains={domains.data?.items ?? []}
          onClose={() => {
            setDialog(null)
          }}
          onDone={refreshBlocks}
        />
      ) : null}
    </section>
  )
}

/** Props of the create dialogs. */
interface CreateProps {
  readonly onClose: () => void
  readonly onDone: () => Promise<void>
}

function NewDomain({ onClose, onDone }: CreateProps) {
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  return (
    <FormDialog
      title="New domain"
      submitLabel="Create"
      onClose={onClose}
      onSubmit={async () => {
        await call(
          api.POST('/api/v1/domains', {
            body: { name, ...(description === '' ? {} : { description }) },
          }),
        )
        await onDone()
      }}
    >
      <TextField label="Name" value={name} onValue={setName} required />
      <TextField label="Description" value={description} onValue={setDescription} />
    </FormDialog>
  )
}

function NewBlock({
  onClose,
  onDone,
  domains,
}: CreateProps & { readonly domains: readonly { id: string; name: string }[] }) {
  const [domain, setDomain] = useState(domains[0]?.name ?? '')
  const [space, setSpace] = useState('')
  const [description, setDescription] = useState('')
  return (
    <FormDialog
      title="New block"
      submitLabel="Create"
      onClose={onClose}
      onSubmit={async () => {
        await call(
          api.POST('/api/v1/blocks', {
            body: {
              domain,
              space: space.trim(),
              ...(description === '' ? {} : { description }),
            },
          }),
        )
        await onDone()
      }}
    >
      <SelectField
        label="Domain"
        value={domain}
        onValue={setDomain}
        options={domains.map((d) => d.name)}
      />
      <TextField
        label="Prefix"
        help="A prefix like 100.64.0.0/16, or a first-last range."
        value={space}
        onValue={setSpace}
        placeholder="100.64.0.0/16"
        required
      />
      <TextField label="Description" value={description} onValue={setDescription} />
    </FormDialog>
  )
}
