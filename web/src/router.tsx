/**
 * A small router on the history API: paths without a hash, `pushState` to go, `popstate` for
 * back and forward. {@link Link} renders a real `<a href>` so links work with the keyboard, in a
 * new tab and without script.
 *
 * @module
 */

import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react'

const listeners = new Set<() => void>()

function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  window.addEventListener('popstate', listener)
  return () => {
    listeners.delete(listener)
    window.removeEventListener('popstate', listener)
  }
}

function currentLocation(): string {
  return window.location.pathname + window.location.search
}

/** Goes to `to` (a path with an optional query) without reloading the page. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace === true) window.history.replaceState(null, '', to)
  else window.history.pushState(null, '', to)
  for (const l of listeners) l()
  if (options.replace !== true) window.scrollTo(0, 0)
}

/** The current path (without query); re-renders when it or the query changes. */
export function usePath(): string {
  const location = useSyncExternalStore(subscribe, currentLocation)
  return location.split('?')[0] ?? '/'
}

/**
 * Matches `path` against a pattern like `/pools/:name`; gives the decoded parameters, or null.
 */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/').filter((s) => s !== '')
  const have = path.split('/').filter((s) => s !== '')
  if (want.length !== have.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const w = want[i] ?? ''
    const h = have[i] ?? ''
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(h)
    else if (w !== h) return null
  }
  return params
}

/** Props of {@link Link}: an anchor whose `href` is an app path. */
export type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { readonly href: string }

/** A link inside the console: a plain click navigates without a reload. */
export function Link({ href, onClick, children, ...rest }: LinkProps) {
  const go = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e)
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
      return
    e.preventDefault()
    navigate(href)
  }
  return (
    <a href={href} onClick={go} {...rest}>
      {children}
    </a>
  )
}
