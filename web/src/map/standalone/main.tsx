/**
 * A page holding only the address map, for the map benchmark (bench/map.bench.ts) and for
 * looking at the map without the console: `?block=<id>&order=<k>`; the token is read from
 * sessionStorage (`casm.token`) like the console does.
 *
 * @module
 */

import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { AddressMap } from '../AddressMap'

const query = new URLSearchParams(window.location.search)
const block = query.get('block') ?? ''
const order = Number(query.get('order') ?? '9')
const root = document.getElementById('root')
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <AddressMap
        blockId={block}
        order={order}
        onSelectGrant={(id) => {
          document.body.dataset['selectedGrant'] = id
        }}
      />
    </StrictMode>,
  )
}
