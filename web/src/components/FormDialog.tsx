import { type SubmitEvent, type ReactNode, useState } from 'react'
import { Dialog } from './Dialog'
import { ErrorAlert } from './ErrorAlert'

/** Props of {@link FormDialog}. */
export interface FormDialogProps {
  /** The heading and accessible name of the dialog. */
  readonly title: string
  /** The label of the submit button (`Create`, `Save`, `Confirm`). */
  readonly submitLabel: string
  /** Sends the form; a rejection (an API error) is shown in the dialog, which stays open. */
  readonly onSubmit: () => Promise<void>
  /** Closes the dialog (Escape, Cancel, or after a successful submit). */
  readonly onClose: () => void
  /** A submit that cannot be undone is shown in red. */
  readonly danger?: boolean
  readonly children?: ReactNode
}

/** A dialog with a form: fields, an error as the API said it, Cancel and a submit button. */
export function FormDialog({
  title,
  submitLabel,
  onSubmit,
  onClose,
  danger = false,
  children,
}: FormDialogProps) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const submit = (e: SubmitEvent<HTMLFormElement>) => {
    e.preventDefault()
    if (busy) return
    setBusy(true)
    setError(null)
    onSubmit().then(
      () => {
        setBusy(false)
        onClose()
      },
      (err: unknown) => {
        setBusy(false)
        setError(err)
      },
    )
  }
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} noValidate className="form">
        {children}
        <ErrorAlert error={error} />
        <div className="form-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className={danger ? 'danger' : 'primary'} disabled={busy}>
            {submitLabel}
          </button>
        </div>
      </form>
    </Dialog>
  )
}
