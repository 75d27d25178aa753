/**
 * The committed client types (src/client/openapi.ts) never drift from the server's OpenAPI
 * document: regenerated in memory, they must equal the file.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { CLIENT_TYPES_FILE, generateClientSource } from '../scripts/gen-client.js'

describe('generated API client types', () => {
  it('src/client/openapi.ts matches the OpenAPI document of the server', async () => {
    const fresh = await generateClientSource()
    const committed = readFileSync(CLIENT_TYPES_FILE, 'utf8')
    assert.ok(
      fresh === committed,
      'src/client/openapi.ts is out of date with the API routes: run `npm run gen:client` and commit the result',
    )
  })
})
