import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Runs the real `casm` with `args`. */
function casm(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
  })
}

/** Runs `script` in `shell` and returns its output. */
function run(shell: string, script: string): string {
  const r = spawnSync(shell, ['-c', script], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return r.stdout
}

const hasZsh = spawnSync('zsh', ['--version']).status === 0

describe('casm completion', () => {
  const bash = casm('completion', 'bash')
  const zsh = casm('completion', 'zsh')

  it('prints scripts built from the whole command tree', () => {
    assert.equal(bash.status, 0, bash.stderr)
    assert.equal(zsh.status, 0, zsh.stderr)
    for (const word of ['agent', 'demo kea', '--kea-socket4', 'completion'])
      assert.ok(bash.stdout.includes(word), word)
  })

  it('completes subcommands and options in bash', () => {
    const script = bash.stdout
    const complete = (...words: string[]): string[] =>
      run(
        'bash',
        `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _casm; printf '%s\\n' "\${COMPREPLY[@]}"`,
      )
        .split('\n')
        .filter((l) => l !== '')
    assert.deepEqual(complete('casm', 'dem'), ['demo'])
    assert.deepEqual(complete('casm', 'demo', ''), ['kea', '--help'])
    assert.deepEqual(complete('casm', 'demo', 'kea', '--fam'), ['--family'])
    assert.deepEqual(complete('casm', 'agent', '--backend', 'kea', '--kea-socket'), [
      '--kea-socket4',
      '--kea-socket6',
    ])
  })

  it(
    'completes in zsh, with descriptions',
    {
      skip: hasZsh ? undefined : process.env['CI'] === 'true' ? undefined : 'zsh is not installed',
    },
    () => {
      const script = zsh.stdout
      assert.match(script, /^#compdef casm/)
      // The function without its trailing call, with _describe replaced by a printer.
      const body = script.replace(/_casm "\$@"\n$/, '')
      const out = run(
        'zsh',
        `${body}\n_describe() { print -l -- \${(P)4} }\n_files() {}\nwords=(casm demo ''); CURRENT=3; _casm\nwords=(casm agent --kea-s); CURRENT=3; _casm`,
      )
      assert.match(out, /^kea:a coordinator, Kea DHCP servers/m)
      assert.match(out, /^--kea-socket4:kea: the DHCPv4 server's control socket$/m)
    },
  )

  it('refuses an unknown shell with CASM_ERR_VALIDATION', () => {
    const r = casm('completion', 'fish')
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /CASM_ERR_VALIDATION.*use bash or zsh/)
  })
})
