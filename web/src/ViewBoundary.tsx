/**
 * Keeps a view that throws from blanking the whole console: the header and navigation stay, and
 * the view's place says what went wrong and offers to try again.
 *
 * @module
 */

import { Component, type ErrorInfo, type ReactNode } from 'react'
import { ErrorAlert } from './components/ErrorAlert'

/** Props of {@link ViewBoundary}. */
export interface ViewBoundaryProps {
  readonly children: ReactNode
}

interface State {
  readonly error: unknown
}

/**
 * An error boundary around one view. Give it `key={path}` so that moving to another view starts
 * afresh.
 */
export class ViewBoundary extends Component<ViewBoundaryProps, State> {
  override state: State = { error: null }

  static getDerivedStateFromError(error: unknown): State {
    return { error }
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error('casm console: a view failed', error, info.componentStack)
  }

  override render(): ReactNode {
    if (this.state.error === null) return this.props.children
    return (
      <section>
        <h1>This view failed</h1>
        <ErrorAlert error={this.state.error} />
        <p>
          <button
            type="button"
            onClick={() => {
              this.setState({ error: null })
            }}
          >
            Try again
          </button>
        </p>
      </section>
    )
  }
}
