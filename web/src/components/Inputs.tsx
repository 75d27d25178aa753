import type { ReactNode } from 'react'
import { Field } from './Field'

/** What every labelled control of {@link TextField}, {@link NumberField} and {@link SelectField} takes. */
interface ControlProps<T extends string> {
  /** The visible label, also the control's accessible name. */
  readonly label: string
  /** A short help text under the control. */
  readonly help?: string
  /** The value shown. */
  readonly value: T
  /** Called with the new value on every change. */
  readonly onValue: (value: T) => void
}

/** Props of {@link TextField}. */
export interface TextFieldProps extends ControlProps<string> {
  readonly required?: boolean
  readonly placeholder?: string
}

/** A labelled text `<input>` (a {@link Field}) bound to a string value. */
export function TextField({ label, help, value, onValue, required, placeholder }: TextFieldProps) {
  return (
    <Field label={label} {...(help === undefined ? {} : { help })}>
      {(id) => (
        <input
          id={id}
          value={value}
          placeholder={placeholder}
          onChange={(e) => {
            onValue(e.target.value)
          }}
          required={required}
        />
      )}
    </Field>
  )
}

/** Props of {@link NumberField}. */
export interface NumberFieldProps extends ControlProps<string> {
  /** Takes fractions (`step="any"`, decimal keypad) rather than integers. */
  readonly decimal?: boolean
}

/**
 * A labelled `<input type="number">` bound to the text typed, so that an empty or odd value
 * reaches the caller as typed.
 */
export function NumberField({ label, help, value, onValue, decimal = false }: NumberFieldProps) {
  return (
    <Field label={label} {...(help === undefined ? {} : { help })}>
      {(id) => (
        <input
          id={id}
          type="number"
          step={decimal ? 'any' : undefined}
          inputMode={decimal ? 'decimal' : 'numeric'}
          value={value}
          onChange={(e) => {
            onValue(e.target.value)
          }}
        />
      )}
    </Field>
  )
}

/** An option of a {@link SelectField}: a value shown as is, or a value with its own text. */
export type SelectOption<T extends string> = T | { readonly value: T; readonly label: string }

/** Props of {@link SelectField}. */
export interface SelectFieldProps<T extends string> extends ControlProps<T> {
  readonly options: readonly SelectOption<T>[]
  /** Options before the listed ones, e.g. `<option value="">any</option>`. */
  readonly children?: ReactNode
}

/** A labelled `<select>` of the given options. */
export function SelectField<T extends string>({
  label,
  help,
  value,
  onValue,
  options,
  children,
}: SelectFieldProps<T>) {
  return (
    <Field label={label} {...(help === undefined ? {} : { help })}>
      {(id) => (
        <select
          id={id}
          value={value}
          onChange={(e) => {
            onValue(e.target.value as T)
          }}
        >
          {children}
          {options.map((o) => {
            const { value: v, label: text } = typeof o === 'string' ? { value: o, label: o } : o
            return (
              <option key={v} value={v}>
                {text}
              </option>
            )
          })}
        </select>
      )}
    </Field>
  )
}
