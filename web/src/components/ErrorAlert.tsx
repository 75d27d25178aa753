import { ApiError } from '../api/client'

/** Props of {@link ErrorAlert}. */
export interface ErrorAlertProps {
  /** What went wrong: an {@link ApiError} is shown as the API said it. */
  readonly error: unknown
}

/** An error, as the API said it: `CASM_ERR_… message`, with the hint when there is one. */
export function ErrorAlert({ error }: ErrorAlertProps) {
  if (error === null || error === undefined) return null
  const e =
    error instanceof ApiError
      ? error
      : new ApiError(
          0,
          'CASM_ERR_INTERNAL',
          error instanceof Error ? error.message : JSON.stringify(error),
        )
  return (
    <div role="alert" className="alert">
      <code className="alert-code">{e.code}</code> <span>{e.message}</span>
      {e.hint !== undefined && e.hint !== '' ? <p className="alert-hint">{e.hint}</p> : null}
    </div>
  )
}
