import type { ReactNode } from 'react'
import { FormDialog } from './FormDialog'

/** Props of {@link ConfirmDialog}. */
export interface ConfirmDialogProps {
  /** The question, also the dialog's heading and accessible name. */
  readonly title: string
  /** Does it; a rejection (an API error) is shown in the dialog, which stays open. */
  readonly onConfirm: () => Promise<void>
  readonly onClose: () => void
  /** What confirming does. */
  readonly children: ReactNode
}

/** A {@link FormDialog} that asks before something that cannot be undone: Cancel or Confirm. */
export function ConfirmDialog({ title, onConfirm, onClose, children }: ConfirmDialogProps) {
  return (
    <FormDialog title={title} submitLabel="Confirm" danger onClose={onClose} onSubmit={onConfirm}>
      {children}
    </FormDialog>
  )
}
