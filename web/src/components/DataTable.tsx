import type { ReactNode } from 'react'

/** Props of {@link DataTable}. */
export interface DataTableProps {
  /** The column headings, in order. */
  readonly columns: readonly string[]
  /** Adds a last column of row actions, its heading `Actions` for screen readers only. */
  readonly actions?: boolean
  /** The table's caption, when it has one. */
  readonly caption?: ReactNode
  /** The rows (`<tr>`) of the body. */
  readonly children: ReactNode
}

/** A scrollable `<table>` with a header row of column headings and the given body rows. */
export function DataTable({ columns, actions = false, caption, children }: DataTableProps) {
  return (
    <div className="table-wrap">
      <table>
        {caption === undefined ? null : <caption>{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
            {actions ? (
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  )
}
