import { Link } from '../router'

/** Props of {@link NotFound}. */
export interface NotFoundProps {
  readonly path: string
}

/** A path the console has no view for (or one the role may not see). */
export function NotFound({ path }: NotFoundProps) {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        The console has no page <code>{path}</code> for this token. Go to the{' '}
        <Link href="/">overview</Link>.
      </p>
    </section>
  )
}
