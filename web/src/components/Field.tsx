import { type ReactNode, useId } from 'react'

/** Props of {@link Field}. */
export interface FieldProps {
  /** The visible label, also the control's accessible name. */
  readonly label: string
  /** A short help text under the control. */
  readonly help?: string
  /** Renders the control with the id the label points at. */
  readonly children: (id: string) => ReactNode
}

/** A labelled form control: `<label for>` and the control, with an optional help text. */
export function Field({ label, help, children }: FieldProps) {
  const id = useId()
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {help === undefined ? null : <small className="help">{help}</small>}
    </div>
  )
}
