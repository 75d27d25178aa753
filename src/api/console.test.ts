/**
 * The console is served at `/`: its files with the right caching, `index.html` for client-side
 * routes, the API's 404 for API paths, and a short page when it has not been built.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Coordinator } from '../coordinator/coordinator.js'
import { openStore } from '../store/open-store.js'
import { NOT_BUILT_PAGE } from './console.js'
import { type Api, buildServer } from './server.js'

const INDEX = '<!doctype html><html><body><div id="root"></div></body></html>'
const SCRIPT = 'console.log("casm")'

describe('web console serving', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'casm-console-'))
  const web = join(tmp, 'web')
  let coordinator: Coordinator
  let app: Api
  let bare: Api

  before(async () => {
    mkdirSync(join(web, 'assets'), { recursive: true })
    writeFileSync(join(web, 'index.html'), INDEX)
    writeFileSync(join(web, 'assets', 'index-Ab12Cd.js'), SCRIPT)
    writeFileSync(join(web, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
    writeFileSync(join(tmp, 'secret.txt'), 'not for the web')
    coordinator = (
      await Coordinator.open(openStore({ dataDir: join(tmp, 'data') }), { sweepIntervalMs: 0 })
    ).coordinator
    app = await buildServer(coordinator, { consoleDir: web })
    bare = await buildServer(coordinator, { consoleDir: join(tmp, 'missing') })
  })
  after(async () => {
    await app.close()
    await bare.close()
    await coordinator.close()
    rmSync(tmp, { recursive: true, force: true })
  })

  it('answers index.html at / and at every client-side route, never cached for long', async () => {
    for (const url of ['/', '/pools', '/pools/bng-east', '/grants/gr_1?x=1', '/events']) {
      const res = await app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 200, url)
      assert.match(String(res.headers['content-type']), /^text\/html/, url)
      assert.equal(res.body, INDEX, url)
      assert.equal(res.headers['cache-control'], 'no-cache', url)
    }
  })

  it('serves hashed assets with a long, immutable cache and other files without one', async () => {
    const js = await app.inject({ method: 'GET', url: '/assets/index-Ab12Cd.js' })
    assert.equal(js.statusCode, 200)
    assert.equal(js.body, SCRIPT)
    assert.match(String(js.headers['content-type']), /javascript/)
    assert.match(String(js.headers['cache-control']), /max-age=31536000/)
    assert.match(String(js.headers['cache-control']), /immutable/)
    const icon = await app.inject({ method: 'GET', url: '/favicon.svg' })
    assert.equal(icon.statusCode, 200)
    assert.match(String(icon.headers['content-type']), /svg/)
    assert.doesNotMatch(String(icon.headers['cache-control']), /immutable/)
  })

  it('answers a missing file and a path out of the folder with the API error body', async () => {
    for (const url of ['/assets/gone-123.js', '/../secret.txt', '/%2e%2e/secret.txt']) {
      const res = await app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 404, url)
      assert.doesNotMatch(res.body, /not for the web/, url)
      const body = res.json<{ error: { code: string } }>()
      assert.equal(body.error.code, 'CASM_ERR_NOT_FOUND', url)
    }
  })

  it('leaves the API alone: routes answer, unknown API paths are the API 404', async () => {
    const health = await app.inject({ method: 'GET', url: '/healthz' })
    assert.equal(health.statusCode, 200)
    assert.equal(health.json<{ status: string }>().status, 'ok')
    const docs = await app.inject({ method: 'GET', url: '/docs/' })
    assert.match(docs.body, /swagger-ui/i)
    const spec = await app.inject({ method: 'GET', url: '/openapi.json' })
    assert.equal(spec.json<{ openapi: string }>().openapi, '3.1.0')
    assert.ok(!('/*' in spec.json<{ paths: Record<string, unknown> }>().paths))
    for (const url of ['/api/v1/nothing', '/api', '/metrics/x', '/docsx']) {
      const res = await app.inject({ method: 'GET', url })
      if (url === '/docsx') {
        assert.equal(res.statusCode, 200, 'a route that only starts like /docs is the console’s')
        continue
      }
      assert.equal(res.statusCode, url === '/api/v1/nothing' ? 401 : 404, url)
      assert.match(res.json<{ error: { code: string } }>().error.code, /^CASM_ERR_/, url)
    }
    const post = await app.inject({ method: 'POST', url: '/', payload: {} })
    assert.equal(post.statusCode, 404)
  })

  it('says to run the build when the console is missing, instead of failing', async () => {
    const res = await bare.inject({ method: 'GET', url: '/' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, NOT_BUILT_PAGE)
    assert.match(res.body, /npm run build/)
    const route = await bare.inject({ method: 'GET', url: '/devices/bng-01' })
    assert.match(route.body, /npm run build/)
  })
})
