/** A primary action of a {@link Toolbar}. */
export interface ToolbarAction {
  /** The button's text, also its accessible name. */
  readonly label: string
  readonly onClick: () => void
}

/** Props of {@link Toolbar}. */
export interface ToolbarProps {
  readonly actions: readonly ToolbarAction[]
}

/** The toolbar of a page: its primary buttons (`New pool`, `Edit policy`). */
export function Toolbar({ actions }: ToolbarProps) {
  return (
    <div className="toolbar">
      {actions.map((a) => (
        <button key={a.label} type="button" className="primary" onClick={a.onClick}>
          {a.label}
        </button>
      ))}
    </div>
  )
}
