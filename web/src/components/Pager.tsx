import { useState } from 'react'

/** The state of a cursor pager: the cursor of the page shown and how to move. */
export interface CursorPager {
  /** The `after` cursor of the page shown (undefined: the first page). */
  readonly after: string | undefined
  /** 1-based number of the page shown. */
  readonly page: number
  /** Goes to the page after `next` (the `next` of the page shown). */
  readonly forward: (next: string) => void
  /** Goes back one page. */
  readonly back: () => void
  /** Goes back to the first page. */
  readonly reset: () => void
}

/**
 * Keeps the cursors of the pages seen so that Previous works with the API's forward cursors.
 * A new `resetKey` (e.g. the filters) starts again at the first page.
 */
export function useCursorPager(resetKey = ''): CursorPager {
  const [state, setState] = useState<{ key: string; stack: (string | undefined)[] }>({
    key: resetKey,
    stack: [undefined],
  })
  const stack = state.key === resetKey ? state.stack : [undefined]
  return {
    after: stack[stack.length - 1],
    page: stack.length,
    forward: (next) => {
      setState({ key: resetKey, stack: [...stack, next] })
    },
    back: () => {
      setState({ key: resetKey, stack: stack.length > 1 ? stack.slice(0, -1) : stack })
    },
    reset: () => {
      setState({ key: resetKey, stack: [undefined] })
    },
  }
}

/** Props of {@link Pager}. */
export interface PagerProps {
  readonly pager: CursorPager
  /** The `next` cursor of the page shown; null on the last page. */
  readonly next: string | null | undefined
  /** Rows on the page shown. */
  readonly count: number
  /** What the rows are, for the status text (`grants`). */
  readonly noun: string
}

/** Previous / Next buttons of a server-side paged table, with where we are. */
export function Pager({ pager, next, count, noun }: PagerProps) {
  return (
    <div className="pager">
      <button type="button" onClick={pager.back} disabled={pager.page === 1}>
        Previous page
      </button>
      <span aria-live="polite">
        Page {pager.page} · {count} {noun}
      </span>
      <button
        type="button"
        disabled={next === null || next === undefined}
        onClick={() => {
          if (next !== null && next !== undefined) pager.forward(next)
        }}
      >
        Next page
      </button>
    </div>
  )
}
