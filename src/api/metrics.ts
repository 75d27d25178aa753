/**
 * Prometheus metrics: HTTP traffic, the writer, the allocator caches, and per-pool address
 * gauges read at scrape time.
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Coordinator } from '../coordinator/coordinator.js'

/** The metrics of one server. */
export interface Metrics {
  readonly contentType: string
  observe(method: string, route: string, status: number, seconds: number): void
  render(): Promise<string>
}

/** Creates the registry for `coordinator`. */
export function createMetrics(coordinator: Coordinator): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'casm_process_' })
  const requests = new Counter({
    name: 'casm_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'casm_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  })
  const labels = ['tenant', 'pool', 'family'] as const
  const addresses = new Gauge({
    name: 'casm_pool_addresses',
    help: 'Addresses of a pool by state (total, used, free, reserved, excluded)',
    labelNames: [...labels, 'state'],
    registers: [registry],
  })
  const utilisation = new Gauge({
    name: 'casm_pool_utilisation_ratio',
    help: 'Used / total addresses of a pool',
    labelNames: labels,
    registers: [registry],
  })
  const fragmentation = new Gauge({
    name: 'casm_pool_fragmentation_ratio',
    help: 'Default-size units still possible / ideal (1 = unfragmented)',
    labelNames: labels,
    registers: [registry],
  })
  const writer = new Gauge({
    name: 'casm_writer',
    help: 'Writer counters: batches, operations, failed batches, last batch size',
    labelNames: ['counter'],
    registers: [registry],
  })
  const cache = new Gauge({
    name: 'casm_allocator_cache',
    help: 'Allocator cache: pools cached, full rebuilds, incremental refreshes',
    labelNames: ['counter'],
    registers: [registry],
  })
  const loopMessages = new Gauge({
    name: 'casm_loop_messages_total',
    help: 'Device messages answered, by type (first answers; resends are not counted)',
    labelNames: ['type'],
    registers: [registry],
  })
  const loopDecisions = new Gauge({
    name: 'casm_loop_decisions_total',
    help: 'Decisions the policy engine applied on reports, by kind',
    labelNames: ['kind'],
    registers: [registry],
  })
  const alerts = new Gauge({
    name: 'casm_alerts_open',
    help: 'Open alerts by kind (pool-exhausted, device-silent, grant-failures, move-failed)',
    labelNames: ['kind'],
    registers: [registry],
  })
  const leaseUploads = new Gauge({
    name: 'casm_lease_uploads_total',
    help: 'Lease uploads stored (lease replay; they write no event)',
    registers: [registry],
  })
  const leaseUploadLeases = new Gauge({
    name: 'casm_lease_upload_leases_total',
    help: 'Leases carried by the lease uploads stored',
    registers: [registry],
  })
  const streams = new Gauge({
    name: 'casm_agent_streams',
    help: 'Device streams open on this coordinator',
    registers: [registry],
  })

  return {
    contentType: registry.contentType,
    observe(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) })
      duration.observe({ method, route }, seconds)
    },
    async render() {
      addresses.reset()
      utilisation.reset()
      fragmentation.reset()
      for (const { pool, usage } of await coordinator.allPoolUsage()) {
        const l = { tenant: pool.tenantId, pool: pool.name, family: pool.family }
        for (const state of [
          'total',
          'used',
          'free',
          'reserved',
          'excluded',
          'allocated',
        ] as const) {
          addresses.set({ ...l, state }, Number(usage[state]))
        }
        utilisation.set(l, usage.utilisation)
        fragmentation.set(l, usage.fragmentation.ratio)
      }
      const s = coordinator.writerStats
      writer.set({ counter: 'batches' }, s.batches)
      writer.set({ counter: 'operations' }, s.operations)
      writer.set({ counter: 'failed_batches' }, s.failedBatches)
      writer.set({ counter: 'last_batch_size' }, s.lastBatchSize)
      cache.set({ counter: 'pools' }, coordinator.cache.size)
      cache.set({ counter: 'rebuilds' }, coordinator.cache.rebuilds)
      cache.set({ counter: 'refreshes' }, coordinator.cache.refreshes)
      loopMessages.reset()
      for (const [type, n] of coordinator.loopStats.messages) loopMessages.set({ type }, n)
      loopDecisions.reset()
      for (const [kind, n] of coordinator.loopStats.decisions) loopDecisions.set({ kind }, n)
      alerts.reset()
      const open = new Map<string, number>()
      for (const a of await coordinator.reader.listAlerts(undefined, true, 100_000))
        open.set(a.kind, (open.get(a.kind) ?? 0) + 1)
      for (const [kind, n] of open) alerts.set({ kind }, n)
      leaseUploads.set(coordinator.leaseStats.uploads)
      leaseUploadLeases.set(coordinator.leaseStats.leases)
      streams.set(coordinator.streams.size)
      return registry.metrics()
    },
  }
}
