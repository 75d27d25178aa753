/**
 * The web console in a real browser: Debian's chromium, driven by playwright-core, against the
 * built `casm serve` (`node bin/casm.js`, the console from `dist/web`) and a `casm agent` with
 * the sim backend. One operator's walk, step by step in one browser context: sign in, create a
 * domain, a block and a pool (and see the API's error for a bad one), watch the agent's grant
 * appear on the address map without a reload, drain it, find the drain in the events, look at
 * every view; then a viewer (no edit controls, and the API refuses anyway), a narrow screen and
 * the keyboard. A second suite opens the grants and the map of 100,000 grants.
 *
 * Each view is saved as `test-results/console/<step>.png`; with `CASM_SCREENSHOTS=docs/img` the
 * overview and the map also go to the README's images. Needs `npm run build` first; without
 * chromium on PATH the suites skip, except under `CI=true`, where that is a failure.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import { AgentProcess, addDevice, eventually, grantsOf, live, ok } from './support/agent-process.js'
import { Screenshots, chromiumSkipReason, launchChromium } from './support/browser.js'
import { api } from './support/casm-server.js'
import { hilbertCell } from '../web/src/map/hilbert.js'
import {
  type ConsoleServer,
  assertBuilt,
  preloadGrants,
  startConsoleServer,
} from './support/console-server.js'

/** Why the browser suites skip here (never under CI=true: that throws). */
const skip = chromiumSkipReason() ?? false

const LAPTOP = { width: 1366, height: 768 } as const
const NARROW = { width: 390, height: 844 } as const

/** The README's images, by the step that takes them. */
const DOC_IMAGES = { '09-overview': 'console-overview.png', '09-map': 'console-map.png' } as const

/**
 * The block of the walk, and the order of the Hilbert curve the map draws it on: a /18 is 128²
 * cells of one address, so the pool (a /20) is a quarter of the map and a /27 a patch of 4×8.
 */
const BLOCK = { prefix: '100.64.0.0/18', first: '100.64.0.0', order: 7 } as const

/** An IPv4 address as a number. */
const ipv4 = (text: string): number =>
  text.split('.').reduce((n, part) => n * 256 + Number(part), 0)

/** The main navigation. */
const nav = (page: Page): Locator => page.getByRole('navigation', { name: 'Main' })

/** Goes to a view through its link in the main navigation. */
async function go(page: Page, label: string): Promise<void> {
  await nav(page).getByRole('link', { name: label, exact: true }).click()
  await nav(page).locator('a[aria-current="page"]', { hasText: label }).waitFor()
}

/** Signs in with `token` on the sign-in form. */
async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('Token', { exact: true }).fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await nav(page).waitFor()
}

/** The open dialog named `name`. */
const dialog = (page: Page, name: string): Locator => page.getByRole('dialog', { name })

/** Clicks `Create` in a dialog and waits for it to close. */
async function submitAndClose(d: Locator, label = 'Create'): Promise<void> {
  await d.getByRole('button', { name: label, exact: true }).click()
  await d.waitFor({ state: 'detached' })
}

/** Picks the option of a `<select>` whose text contains `text`. */
async function choose(select: Locator, text: string): Promise<void> {
  const option = select.locator('option', { hasText: text }).first()
  await option.waitFor({ state: 'attached' })
  const value = await option.getAttribute('value')
  await select.selectOption(value ?? text)
}

/** Fills a field, or picks the option of a `<select>` containing `value`. */
async function set(field: Locator, value: string): Promise<void> {
  if ((await field.locator('xpath=self::select').count()) > 0) await choose(field, value)
  else await field.fill(value)
}

/** True when the document is no wider than the viewport (no horizontal scrolling). */
async function fitsWidth(page: Page): Promise<{ fits: boolean; scroll: number; inner: number }> {
  const [scroll, inner] = await page.evaluate<[number, number]>(
    '[document.documentElement.scrollWidth, window.innerWidth]',
  )
  return { fits: scroll <= inner + 1, scroll, inner }
}

/** What has the keyboard focus: tag, its text or label, and whether it is in the main nav. */
async function focused(page: Page): Promise<{ tag: string; name: string; inNav: boolean }> {
  return page.evaluate<{ tag: string; name: string; inNav: boolean }>(`(() => {
    const el = document.activeElement
    if (el === null) return { tag: '', name: '', inNav: false }
    const label = el.labels && el.labels.length > 0 ? el.labels[0].textContent : null
    return {
      tag: el.tagName,
      name: (label ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim(),
      inNav: el.closest('nav[aria-label="Main"]') !== null,
    }
  })()`)
}

/** Presses Tab until `want` holds for the focused element; fails after `max` presses. */
async function tabTo(
  page: Page,
  what: string,
  want: (f: { tag: string; name: string; inNav: boolean }) => boolean,
  max = 25,
): Promise<void> {
  const seen: string[] = []
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab')
    const f = await focused(page)
    if (want(f)) return
    seen.push(`${f.tag} "${f.name}"`)
  }
  assert.fail(`Tab never reached ${what}; focus went through: ${seen.join(', ')}`)
}

/**
 * Where the first address of `prefix` is on the walk's map, relative to the canvas: its index on
 * the block's Hilbert curve gives the cell; the canvas shows all the block's cells.
 */
async function cellOf(page: Page, prefix: string): Promise<{ x: number; y: number }> {
  const cell = hilbertCell(BLOCK.order, ipv4(prefix.split('/')[0]!) - ipv4(BLOCK.first))
  const box = (await page.getByTestId('address-map').boundingBox())!
  const size = 2 ** BLOCK.order
  return { x: ((cell.x + 0.5) * box.width) / size, y: ((cell.y + 0.5) * box.height) / size }
}

/** The map's wrapper (`data-state`) around its canvas. */
const mapWrapper = (page: Page): Locator =>
  page.locator('[data-state]', { has: page.getByTestId('address-map') }).last()

/** Waits until the address map has drawn (`data-state="ready"`). */
async function mapReady(page: Page, timeout = 30_000): Promise<void> {
  await page.getByTestId('address-map').waitFor({ timeout })
  await page.waitForFunction(
    `document.querySelector('[data-state="ready"] [data-testid="address-map"]') !== null`,
    undefined,
    { timeout },
  )
}

/**
 * The number of grants the map says it shows: the first `N grant(s)` in the canvas's
 * aria-label, or else in the map's wrapper (its summary); null when neither says.
 */
async function mapGrantCount(page: Page): Promise<number | null> {
  const texts = [
    (await page.getByTestId('address-map').getAttribute('aria-label')) ?? '',
    await mapWrapper(page).innerText(),
  ]
  for (const t of texts) {
    const m = /([\d,.\s]+?)\s*grants?\b/i.exec(t)
    if (m !== null) return Number(m[1]!.replace(/[,.\s]/g, ''))
  }
  return null
}

describe('web console in chromium: an operator walk', { skip }, () => {
  let dir = ''
  let server: ConsoleServer | undefined
  let browser: Browser | undefined
  let context: BrowserContext
  let page: Page
  const agents: AgentProcess[] = []
  let adminToken: string
  let viewerToken: string
  let grantId: string
  let grantPrefix: string
  const shots = new Screenshots('console', DOC_IMAGES)
  const target = () => ({ url: server!.url, token: adminToken })
  /** The step that failed; the later ones build on it and skip. */
  let failed: string | undefined
  /** A step of the walk; unless `blocking` is false, the later ones skip when it fails. */
  const step = (name: string, fn: () => Promise<void>, blocking = true): void => {
    it(name, async (t) => {
      if (failed !== undefined) {
        t.skip(`step "${failed}" failed`)
        return
      }
      try {
        await fn()
      } catch (e) {
        if (blocking) failed = name
        throw e
      }
    })
  }
  /** The grants the two devices hold (active or draining). */
  const held = async () =>
    live([...(await grantsOf(target(), 'bng-01')), ...(await grantsOf(target(), 'bng-02'))])

  before(async () => {
    assertBuilt()
    dir = mkdtempSync(join(tmpdir(), 'casm-console-e2e-'))
    server = await startConsoleServer(join(dir, 'coordinator'))
    adminToken = server.token
    browser = await launchChromium()
    context = await browser.newContext({ viewport: LAPTOP, baseURL: server.url })
    context.setDefaultTimeout(20_000)
    page = await context.newPage()
  })

  after(async () => {
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)))
    await browser?.close().catch(() => undefined)
    await server?.stop()
    console.log(`screenshots: ${shots.written.join(' ')}`)
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  step('1. signs in with the admin token; the header shows the role', async () => {
    await page.goto('/')
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    await shots.take(page, '01-sign-in')
    await signIn(page, adminToken)
    await page.getByRole('banner').getByText(/admin/).waitFor()
    await shots.take(page, '01-signed-in')
  })

  step('2. creates a domain and a block; the block is in the table', async () => {
    await go(page, 'Blocks')
    await page.getByRole('button', { name: 'New domain' }).click()
    const d = dialog(page, 'New domain')
    await d.getByLabel('Name', { exact: true }).fill('internet')
    await submitAndClose(d)

    await page.getByRole('button', { name: 'New block' }).click()
    const b = dialog(page, 'New block')
    await choose(b.getByLabel('Domain', { exact: true }), 'internet')
    await b.getByLabel('Prefix', { exact: true }).fill(BLOCK.prefix)
    await submitAndClose(b)
    await page.getByRole('table').getByText(BLOCK.prefix).first().waitFor()
    await shots.take(page, '02-blocks')
  })

  step("3. creates a pool; a bad value shows the API's error and creates nothing", async () => {
    await go(page, 'Pools')
    await page.getByRole('button', { name: 'New pool' }).click()
    const d = dialog(page, 'New pool')
    await d.getByLabel('Name', { exact: true }).fill('bng-east')
    await set(d.getByLabel('Domain', { exact: true }), 'internet')
    await set(d.getByLabel('Kind', { exact: true }), 'subscriber')
    await d.getByLabel('Space', { exact: true }).fill('100.64.0.0/20')
    await set(d.getByLabel('Default unit', { exact: true }), '27')
    await d.getByLabel('High watermark', { exact: true }).fill('1.5')
    await d.getByLabel('Low watermark', { exact: true }).fill('0.2')
    await d.getByLabel('Hold-down (s)', { exact: true }).fill('5')
    await d.getByRole('button', { name: 'Create', exact: true }).click()
    const alert = d.getByRole('alert')
    await alert.getByText('CASM_ERR_VALIDATION').waitFor()
    assert.match(await alert.innerText(), /highWatermark/, 'the API names the field')
    await shots.take(page, '03-pool-error')
    const none = await api(target(), 'GET', '/api/v1/pools')
    assert.equal(none.status, 200)
    assert.deepEqual((none.body as { items: unknown[] }).items, [], 'the bad pool was not created')

    await d.getByLabel('High watermark', { exact: true }).fill('0.8')
    await submitAndClose(d)
    await page.getByRole('link', { name: 'bng-east' }).first().waitFor()
    const pool = await api(target(), 'GET', '/api/v1/pools/bng-east')
    assert.equal(pool.status, 200, JSON.stringify(pool.body))
    const p = pool.body as { space: string[]; policy: Record<string, unknown> }
    assert.deepEqual(p.space, ['100.64.0.0/20'])
    assert.equal(p.policy['highWatermark'], 0.8)
    assert.equal(p.policy['lowWatermark'], 0.2)
    assert.equal(p.policy['holdDown'], 5)
    assert.equal((p.policy['unit'] as { default: number }).default, 27)
    await shots.take(page, '03-pools')
  })

  step('4. the map of the new block shows the pool and no grant yet', async () => {
    await go(page, 'Address map')
    await choose(page.getByLabel('Block', { exact: true }), BLOCK.prefix)
    await mapReady(page)
    assert.equal(await mapGrantCount(page), 0)
    // Marks this document: still there once the grants are shown means no reload in between.
    await page.evaluate('window.casmWalk = "no reload"')
    await shots.take(page, '04-map-empty')
  })

  step('5. agents (sim backend) get grants from the pool', async () => {
    // Reports every second, so that the policy engine grows bng-01 within seconds.
    await ok(api(target(), 'PATCH', '/api/v1/pools/bng-east', { policy: { reportInterval: 1 } }))
    for (const [device, level] of [
      ['bng-01', 150],
      ['bng-02', 40],
    ] as const) {
      const token = await addDevice(target(), device)
      const args = ['--backend', 'sim', '--sim-curve', `constant,level=${level}`, '--speed', '10']
      agents.push(new AgentProcess(server!.url, token, join(dir, device), args))
    }
    for (const a of agents) await a.until('the first install', (l) => l.action === 'install')
    // 150 subscribers need six /27s (each grows the device past 80% of 32 addresses): wait for 3.
    await eventually(
      'bng-01 to hold three grants',
      async () => live(await grantsOf(target(), 'bng-01')).length >= 3,
      () => agents[0]!.tail(),
    )
  })

  // Not blocking: the later steps open the map afresh.
  step(
    '6. the map, open since before the grants, shows them without a reload',
    async () => {
      await eventually(
        'the open map to count every grant',
        async () => (await mapGrantCount(page)) === (await held()).length,
        async () =>
          `${(await held()).length} grants held; the map says: ` +
          String(await page.getByTestId('address-map').getAttribute('aria-label')),
        20_000,
      )
      assert.equal(await page.evaluate<unknown>('window.casmWalk'), 'no reload')
      await shots.take(page, '06-map-live')
    },
    false,
  )

  step('7. a click on the map opens a grant; Drain → Confirm drains it', async () => {
    await go(page, 'Overview')
    await go(page, 'Address map')
    await mapReady(page)
    await eventually('the map to show grants', async () => ((await mapGrantCount(page)) ?? 0) > 0)
    const g = live(await grantsOf(target(), 'bng-01'))[0]!
    grantId = g.id
    grantPrefix = g.prefix
    await page.getByTestId('address-map').click({ position: await cellOf(page, g.prefix) })
    await page.waitForURL(`**/grants/${grantId}`)
    await page.getByRole('heading', { name: `Grant ${grantPrefix}` }).waitFor()
    await page.getByRole('button', { name: 'Drain', exact: true }).click()
    await submitAndClose(page.getByRole('dialog'), 'Confirm')
    await page.getByRole('main').getByText('draining', { exact: true }).first().waitFor()
    await page.getByRole('main').getByRole('table').getByText('grant.drain').first().waitFor()
    const after = await api(target(), 'GET', `/api/v1/grants/${grantId}`)
    assert.equal((after.body as { state: string }).state, 'draining')
    await shots.take(page, '07-grant-drained')
  })

  step('8. the events page finds the drain and verifies the chain', async () => {
    await go(page, 'Events')
    const table = page.getByRole('main').getByRole('table')
    await table.getByText('grant.create').first().waitFor()
    await set(page.getByLabel('Action', { exact: true }), 'grant.drain')
    await table.getByText('grant.drain').first().waitFor()
    await eventually(
      'the filter to leave only grant.drain',
      async () => (await table.getByText('grant.create').count()) === 0,
    )
    await page.getByRole('button', { name: 'Verify chain' }).click()
    await page
      .getByRole('main')
      .getByText(/verified/i)
      .first()
      .waitFor()
    assert.equal(await page.getByRole('main').getByRole('alert').count(), 0, 'no error shown')
    await shots.take(page, '08-events')
  })

  step('9. overview, map, grants, device, pool, tokens and tenants views', async () => {
    await go(page, 'Overview')
    await page.getByRole('main').getByText('bng-east').first().waitFor()
    await shots.take(page, '09-overview')

    await go(page, 'Address map')
    await mapReady(page)
    await page.getByLabel('Colour by').selectOption('device')
    await mapReady(page)
    const other = live(await grantsOf(target(), 'bng-01')).find((g) => g.id !== grantId)!
    await page.getByTestId('address-map').hover({ position: await cellOf(page, other.prefix) })
    await page.getByRole('tooltip').filter({ hasText: 'bng-01' }).waitFor()
    await shots.take(page, '09-map')

    await go(page, 'Grants')
    await page.getByRole('link', { name: grantPrefix, exact: true }).waitFor()
    await shots.take(page, '09-grants')

    await go(page, 'Devices')
    await page.getByRole('link', { name: 'bng-01' }).first().click()
    await page.waitForURL('**/devices/bng-01')
    await page.getByRole('main').getByText(grantPrefix).first().waitFor()
    await page
      .getByRole('main')
      .getByText(/routes?/i)
      .first()
      .waitFor()
    await shots.take(page, '09-device')

    await go(page, 'Pools')
    await page.getByRole('link', { name: 'bng-east' }).first().click()
    await page.waitForURL('**/pools/bng-east')
    await page.getByRole('main').locator('svg.recharts-surface').first().waitFor()
    await shots.take(page, '09-pool')

    await go(page, 'Tokens')
    await page.getByRole('main').getByText('bng-01-agent').first().waitFor()
    await shots.take(page, '09-tokens')

    await go(page, 'Tenants')
    await page.getByRole('main').getByText('default').first().waitFor()
    await shots.take(page, '09-tenants')
  })

  step('10. a viewer sees no edit controls, and the API refuses its changes', async () => {
    const created = await api(target(), 'POST', '/api/v1/tokens', {
      name: 'noc-viewer',
      role: 'viewer',
    })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    viewerToken = (created.body as { secret: string }).secret

    await page.getByRole('button', { name: 'Sign out' }).click()
    await signIn(page, viewerToken)
    await page
      .getByRole('banner')
      .getByText(/viewer/)
      .waitFor()
    assert.equal(await nav(page).getByRole('link', { name: 'Tokens' }).count(), 0)

    await go(page, 'Pools')
    await page.getByRole('link', { name: 'bng-east' }).first().waitFor()
    assert.equal(await page.getByRole('button', { name: 'New pool' }).count(), 0)
    await shots.take(page, '10-viewer-pools')

    await go(page, 'Blocks')
    await page.getByRole('table').getByText(BLOCK.prefix).first().waitFor()
    assert.equal(await page.getByRole('button', { name: 'New block' }).count(), 0)
    assert.equal(await page.getByRole('button', { name: 'New domain' }).count(), 0)

    await page.goto(`/grants/${grantId}`)
    await page.getByRole('main').getByText(grantPrefix).first().waitFor()
    await page.getByRole('main').getByText('draining', { exact: true }).first().waitFor()
    for (const name of ['Drain', 'Undrain', 'Pin', 'Move', 'Release'])
      assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, name)
    await shots.take(page, '10-viewer-grant')

    const refused = await api({ url: server!.url, token: viewerToken }, 'POST', '/api/v1/pools', {
      name: 'sneaky',
      domain: 'internet',
      kind: 'subscriber',
      space: ['100.64.16.0/20'],
    })
    assert.equal(refused.status, 403)
    assert.equal((refused.body as { error: { code: string } }).error.code, 'CASM_ERR_FORBIDDEN')
  })

  step('11. on a narrow screen the overview and the map do not scroll sideways', async () => {
    await page.setViewportSize(NARROW)
    try {
      await go(page, 'Overview')
      await page.getByRole('main').getByText('bng-east').first().waitFor()
      const overview = await fitsWidth(page)
      await shots.take(page, '11-narrow-overview')
      assert.ok(overview.fits, `overview: ${overview.scroll} px wide in ${overview.inner}`)

      await go(page, 'Address map')
      await choose(page.getByLabel('Block', { exact: true }), BLOCK.prefix)
      await mapReady(page)
      const map = await fitsWidth(page)
      await shots.take(page, '11-narrow-map')
      assert.ok(map.fits, `map: ${map.scroll} px wide in ${map.inner}`)
    } finally {
      await page.setViewportSize(LAPTOP)
    }
  })

  step('12. the keyboard reaches the sign-in form and the navigation', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    await page.locator('body').focus()
    await tabTo(page, 'the Token input', (f) => f.tag === 'INPUT' && f.name === 'Token')
    await page.keyboard.type(adminToken)
    await tabTo(page, 'the Sign in button', (f) => f.tag === 'BUTTON' && f.name === 'Sign in')
    await page.keyboard.press('Enter')
    await nav(page).waitFor()
    await tabTo(page, 'a link of the main navigation', (f) => f.tag === 'A' && f.inNav)
    const f = await focused(page)
    await shots.take(page, '12-keyboard-nav')
    // Enter on the focused link opens its view.
    await page.keyboard.press('Enter')
    await page.waitForFunction(
      `document.querySelector('nav[aria-label="Main"] a[aria-current="page"]')?.textContent === ${JSON.stringify(f.name)}`,
    )
  })
})

describe('web console in chromium: 100,000 grants', { skip }, () => {
  const COUNT = 100_000
  let dir = ''
  let server: ConsoleServer | undefined
  let browser: Browser | undefined
  let page: Page
  const shots = new Screenshots('console')

  before(async () => {
    assertBuilt()
    dir = mkdtempSync(join(tmpdir(), 'casm-console-big-'))
    const dataDir = join(dir, 'coordinator')
    let t = Date.now()
    const fixture = await preloadGrants(dataDir, COUNT)
    console.log(`console 100k: ${fixture.grants} grants stored in ${Date.now() - t} ms`)
    t = Date.now()
    server = await startConsoleServer(dataDir)
    console.log(`console 100k: casm serve listening after ${Date.now() - t} ms`)
    browser = await launchChromium()
    const context = await browser.newContext({ viewport: LAPTOP, baseURL: server.url })
    context.setDefaultTimeout(60_000)
    page = await context.newPage()
    await page.goto('/')
    await signIn(page, server.token)
  })

  after(async () => {
    await browser?.close().catch(() => undefined)
    await server?.stop()
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  it('the overview, the grants view and the events view show them', async () => {
    let t = Date.now()
    await go(page, 'Overview')
    await page.getByRole('main').getByRole('link', { name: 'bng' }).first().waitFor()
    console.log(`console 100k: overview after ${Date.now() - t} ms`)

    t = Date.now()
    await go(page, 'Grants')
    const cell = page
      .getByRole('main')
      .getByRole('table')
      .getByText(/^10\.\d+\.\d+\.\d+\/30$/)
    await cell.first().waitFor()
    const rows = await cell.count()
    console.log(`console 100k: grants view, first page (${rows} grants) after ${Date.now() - t} ms`)
    assert.ok(rows > 1, 'the grants table shows grants')
    await shots.take(page, 'big-grants')
    t = Date.now()
    await page.getByRole('button', { name: 'Next page' }).click()
    await page.getByText(/^Page 2\b/).waitFor()
    console.log(`console 100k: grants view, next page after ${Date.now() - t} ms`)

    t = Date.now()
    await go(page, 'Events')
    // Oldest first: the inventory's events, then the 100,000 grant.create.
    await page.getByRole('main').getByRole('table').getByText('pool.create').first().waitFor()
    console.log(`console 100k: events view after ${Date.now() - t} ms`)
    await shots.take(page, 'big-events')
  })

  it('the address map draws their block and answers the pointer', async () => {
    const t = Date.now()
    await go(page, 'Address map')
    await choose(page.getByLabel('Block', { exact: true }), '10.0.0.0/8')
    await mapReady(page, 120_000)
    const ready = Date.now() - t
    const drawing = await page.evaluate<number | null>(`(() => {
      const at = (name) => performance.getEntriesByName(name).at(-1)?.startTime
      const a = at('casm-map-request'), b = at('casm-map-drawn')
      return a === undefined || b === undefined ? null : Math.round(b - a)
    })()`)
    console.log(
      `console 100k: map ready after ${ready} ms (request to drawn: ${String(drawing)} ms)`,
    )
    assert.equal(await mapGrantCount(page), COUNT, 'the map counts every grant')
    await shots.take(page, 'big-map')

    // The grants fill the first 400,000 addresses: the top left of the map. Hover there.
    const box = (await page.getByTestId('address-map').boundingBox())!
    const t2 = Date.now()
    await page.mouse.move(box.x + 3, box.y + 3)
    await page
      .getByRole('tooltip')
      .filter({ hasText: /10\.0\./ })
      .first()
      .waitFor({ timeout: 10_000 })
    console.log(`console 100k: tooltip after ${Date.now() - t2} ms`)
  })
})
