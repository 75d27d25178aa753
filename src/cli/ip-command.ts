/**
 * `casm ip`: address and prefix arithmetic from the shell — describe a prefix, address or range,
 * aggregate prefixes, split a prefix, turn a range into prefixes.
 *
 * @module
 */

import { Command } from 'commander'
import { AddressRange, Prefix, aggregatePrefixes, specialPurposeOf } from '../ip/index.js'
import { CasmError } from '../errors/casm-error.js'
import { type Output } from './output.js'

/** Facts about one prefix, as `casm ip info` prints them. */
export interface PrefixInfo {
  readonly prefix: string
  readonly family: string
  readonly length: number
  readonly first: string
  readonly last: string
  readonly size: string
  readonly special: readonly { prefix: string; name: string; rfc: string }[]
}

/** Describes `text` — a prefix, an address or a first-last range. */
export function describe(text: string): PrefixInfo[] {
  const range = AddressRange.parse(text)
  return range.toPrefixes().map((p) => ({
    prefix: p.toString(),
    family: p.family,
    length: p.length,
    first: p.firstAddress().toString(),
    last: p.lastAddress().toString(),
    size: p.size.toString(),
    special: specialPurposeOf(p).map((e) => ({
      prefix: e.prefix.toString(),
      name: e.name,
      rfc: e.rfc,
    })),
  }))
}

/** Builds the `ip` command group. */
export function ipCommand(out: Output): Command {
  const ip = new Command('ip').description('address and prefix arithmetic (no coordinator needed)')

  ip.command('info')
    .description('describe prefixes, addresses or first-last ranges: bounds, size, special purpose')
    .argument('<target...>', 'e.g. 100.64.0.0/10, 2001:db8::1, 192.0.2.5-192.0.2.20')
    .option('--json', 'print JSON')
    .action((targets: string[], opts: { json?: boolean }) => {
      const infos = targets.flatMap((t) => describe(t))
      if (opts.json === true) {
        out.json(infos)
        return
      }
      out.table(
        ['prefix', 'first', 'last', 'size', 'special purpose'],
        infos.map((i) => [
          i.prefix,
          i.first,
          i.last,
          i.size,
          i.special.map((s) => `${s.name} (${s.rfc})`).join('; '),
        ]),
      )
    })

  ip.command('aggregate')
    .description('merge prefixes into the fewest prefixes covering exactly the same space')
    .argument('<prefix...>', 'prefixes of one family')
    .option('--lenient', 'mask host bits instead of refusing them')
    .option('--json', 'print JSON')
    .action((texts: string[], opts: { json?: boolean; lenient?: boolean }) => {
      const prefixes = texts.map((t) => Prefix.parse(t, { lenient: opts.lenient === true }))
      const merged = aggregatePrefixes(prefixes).map(String)
      if (opts.json === true) {
        out.json(merged)
        return
      }
      out.lines(merged)
    })

  ip.command('split')
    .description('split a prefix into all its sub-prefixes of a given length')
    .argument('<prefix>', 'the prefix to split')
    .argument('<length>', 'length of the pieces')
    .option('--json', 'print JSON')
    .action((text: string, lengthText: string, opts: { json?: boolean }) => {
      if (!/^[0-9]{1,3}$/.test(lengthText)) {
        throw new CasmError('CASM_ERR_PREFIX_LENGTH', `'${lengthText}' is not a prefix length`)
      }
      const pieces = Prefix.parse(text).split(Number(lengthText)).map(String)
      if (opts.json === true) {
        out.json(pieces)
        return
      }
      out.lines(pieces)
    })

  return ip
}
