import { ErrorAlert } from './ErrorAlert'

/** Props of {@link Loading}. */
export interface LoadingProps {
  /** The query's error, shown as the API said it. */
  readonly error: unknown
  /** Still waiting for the first answer. */
  readonly pending: boolean
  /** What is loading, e.g. `pools`. */
  readonly what: string
}

/** The state of a query before its data can show: loading, or the API's error. */
export function Loading({ error, pending, what }: LoadingProps) {
  if (error !== null && error !== undefined) return <ErrorAlert error={error} />
  if (pending) return <p className="loading">Loading {what}…</p>
  return null
}
