import { type ReactNode, useEffect, useId, useRef } from 'react'

/** Props of {@link Dialog}. */
export interface DialogProps {
  /** The heading, also the dialog's accessible name. */
  readonly title: string
  /** Called on Escape, on Cancel and after the dialog closed itself. */
  readonly onClose: () => void
  readonly children: ReactNode
}

/**
 * A modal dialog on the native `<dialog>`: it traps focus, Escape closes it, and focus goes back
 * to the element that opened it. Render it only while open.
 */
export function Dialog({ title, onClose, children }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  const close = useRef(onClose)
  close.current = onClose
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
    const d = ref.current
    if (d !== null && !d.open) d.showModal()
    const first = d?.querySelector<HTMLElement>(
      'input:not([type=hidden]), select, textarea, button:not(.dialog-x)',
    )
    first?.focus()
    return () => {
      if (d?.open === true) d.close()
      opener?.focus()
    }
  }, [])
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      className="dialog"
      onCancel={(e) => {
        e.preventDefault()
        close.current()
      }}
    >
      <div className="dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button
          type="button"
          className="dialog-x"
          aria-label="Close"
          onClick={() => {
            close.current()
          }}
        >
          ×
        </button>
      </div>
      {children}
    </dialog>
  )
}
