/**
 * KeaControl against a real Kea 2.2 DHCPv4 server: over its unix control socket and through a
 * real Control Agent (`kea-ctrl-agent`) over HTTP.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort } from '../../test/support/agent-process.js'
import { rejectsCode } from '../../test/support/throws-code.js'
import { KeaBackend } from '../agent/backends/kea-backend.js'
import { KeaControl } from './kea-control.js'
import { type KeaProcess, keaSkipReason, startKea } from './kea-process.js'

const skip = keaSkipReason()

describe('KeaControl with real Kea', { skip }, () => {
  let kea: KeaProcess
  let agent: ChildProcess
  let url: string

  before(async () => {
    kea = await startKea({ service: 'dhcp4', logSeverity: 'WARN' })
    const port = await freePort()
    const config = join(kea.dir, 'kea-ctrl-agent.json')
    await writeFile(
      config,
      JSON.stringify({
        'Control-agent': {
          'http-host': '127.0.0.1',
          'http-port': port,
          'control-sockets': { dhcp4: { 'socket-type': 'unix', 'socket-name': kea.socketPath } },
          loggers: [
            {
              name: 'kea-ctrl-agent',
              output_options: [{ output: join(kea.dir, 'ca.log') }],
              severity: 'WARN',
            },
          ],
        },
      }),
    )
    agent = spawn('kea-ctrl-agent', ['-c', config], {
      env: { ...process.env, KEA_PIDFILE_DIR: kea.dir, KEA_LOCKFILE_DIR: kea.dir },
      stdio: 'ignore',
    })
    url = `http://127.0.0.1:${port}/`
    const http = new KeaControl({ endpoint: { http: url }, service: 'dhcp4', timeoutMs: 1_000 })
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        await http.call('version-get')
        break
      } catch (e) {
        if (Date.now() > deadline) throw e
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  })

  after(async () => {
    agent.kill('SIGTERM')
    await kea.dispose()
  })

  it('sends a command over the socket and through the Control Agent alike', async () => {
    for (const endpoint of [{ socket: kea.socketPath }, { http: url }]) {
      const control = new KeaControl({ endpoint, service: 'dhcp4' })
      const config = await control.call<Record<string, unknown>>('config-get')
      assert.ok('Dhcp4' in config, control.where)
      const answer = await control.send('no-such-command')
      assert.equal(answer.result, 2, JSON.stringify(answer))
      await rejectsCode(
        control.call('no-such-command'),
        'CASM_ERR_BACKEND',
        /refused 'no-such-command'.*unsupported/,
      )
      // Result 3 (empty) is an error unless the caller says it is fine.
      await rejectsCode(
        control.call('lease4-get', { 'ip-address': '192.0.2.1' }),
        'CASM_ERR_BACKEND',
      )
      assert.equal(await control.call('lease4-get', { 'ip-address': '192.0.2.1' }, true), undefined)
    }
  })

  it('feeds Kea through the Control Agent', async () => {
    const backend = new KeaBackend({ dhcp4: { http: url } })
    await backend.start()
    await backend.install({ grant: 'gr_h', prefix: '100.64.20.0/28', state: 'active' })
    const { arguments: config } =
      await kea.command<Record<string, Record<string, unknown>>>('config-get')
    const nets = config!['Dhcp4']!['shared-networks'] as { subnet4: { subnet: string }[] }[]
    assert.deepEqual(
      nets[0]!.subnet4.map((s) => s.subnet),
      ['100.64.20.0/28'],
    )
    assert.deepEqual(await backend.usage(), [{ grant: 'gr_h', prefix: '100.64.20.0/28', used: 0 }])
    await backend.remove({ grant: 'gr_h', prefix: '100.64.20.0/28', state: 'active' })
    await backend.stop()
  })

  it('says what is wrong when nothing answers', async () => {
    const gone = new KeaControl({
      endpoint: { socket: join(kea.dir, 'nothing.sock') },
      service: 'dhcp4',
    })
    await rejectsCode(
      gone.call('config-get'),
      'CASM_ERR_BACKEND',
      /did not answer 'config-get'.*is it running/,
    )
    const port = await freePort()
    const nowhere = new KeaControl({
      endpoint: { http: `http://127.0.0.1:${port}/` },
      service: 'dhcp4',
    })
    await rejectsCode(
      nowhere.call('config-get'),
      'CASM_ERR_BACKEND',
      /127\.0\.0\.1:\d+\/ \(dhcp4\) did not answer/,
    )
  })
})
