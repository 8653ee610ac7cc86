import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The platform's metrics, with the names fixed by the design brief (§7). One instance per process
 * registry; every service labels its series with `service`. Labels are low-cardinality: route templates,
 * never raw paths or user ids.
 */
export class PlatformMetrics {
  readonly httpRequests: Counter<'service' | 'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'service' | 'method' | 'route' | 'status'>;
  readonly grpcRequests: Counter<'service' | 'method' | 'code'>;
  readonly grpcDuration: Histogram<'service' | 'method' | 'code'>;
  readonly dbPoolConnections: Gauge<'service' | 'state'>;
  readonly dbPoolAcquireDuration: Histogram<'service'>;
  readonly dbPoolConnectionErrors: Counter<'service' | 'error_type'>;
  readonly rateLimitRequests: Counter<'preset' | 'outcome'>;
  readonly rateLimitRejections: Counter<'preset' | 'reason'>;
  readonly circuitBreakerState: Gauge<'dependency'>;
  readonly circuitBreakerFailures: Counter<'dependency'>;
  readonly outboxPending: Gauge<'service'>;
  readonly outboxOldestAge: Gauge<'service'>;
  readonly outboxPublished: Counter<'service'>;
  readonly outboxPublishFailures: Counter<'service'>;
  readonly eventsConsumed: Counter<'consumer' | 'outcome'>;
  readonly eventsDeadLettered: Counter<'consumer'>;
  private readonly poolCollectors = new Map<string, () => { total: number; idle: number; waiting: number }>();

  constructor(readonly registry: Registry) {
    const r = [registry];
    this.httpRequests = new Counter({ name: 'http_requests_total', help: 'HTTP requests', labelNames: ['service', 'method', 'route', 'status'], registers: r });
    this.httpDuration = new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['service', 'method', 'route', 'status'], buckets: LATENCY_BUCKETS, registers: r });
    this.grpcRequests = new Counter({ name: 'grpc_requests_total', help: 'gRPC requests served', labelNames: ['service', 'method', 'code'], registers: r });
    this.grpcDuration = new Histogram({ name: 'grpc_request_duration_seconds', help: 'gRPC request duration', labelNames: ['service', 'method', 'code'], buckets: LATENCY_BUCKETS, registers: r });
    const collectors = this.poolCollectors;
    this.dbPoolConnections = new Gauge({
      name: 'db_pool_connections',
      help: 'Database pool connections by state (total, idle, active, waiting)',
      labelNames: ['service', 'state'],
      registers: r,
      collect() {
        for (const [service, read] of collectors) {
          const s = read();
          this.set({ service, state: 'total' }, s.total);
          this.set({ service, state: 'idle' }, s.idle);
          this.set({ service, state: 'active' }, s.total - s.idle);
          this.set({ service, state: 'waiting' }, s.waiting);
        }
      },
    });
    this.dbPoolAcquireDuration = new Histogram({ name: 'db_pool_acquire_duration_seconds', help: 'Time to acquire a pooled connection', labelNames: ['service'], buckets: LATENCY_BUCKETS, registers: r });
    this.dbPoolConnectionErrors = new Counter({ name: 'db_pool_connection_errors_total', help: 'Pool connection errors', labelNames: ['service', 'error_type'], registers: r });
    this.rateLimitRequests = new Counter({ name: 'rate_limit_requests_total', help: 'Rate limiter decisions', labelNames: ['preset', 'outcome'], registers: r });
    this.rateLimitRejections = new Counter({ name: 'rate_limit_rejections_total', help: 'Requests rejected by the rate limiter', labelNames: ['preset', 'reason'], registers: r });
    this.circuitBreakerState = new Gauge({ name: 'circuit_breaker_state', help: 'Circuit state: 0 closed, 1 open, 2 half-open', labelNames: ['dependency'], registers: r });
    this.circuitBreakerFailures = new Counter({ name: 'circuit_breaker_failures_total', help: 'Failures counted by circuit breakers', labelNames: ['dependency'], registers: r });
    this.outboxPending = new Gauge({ name: 'outbox_pending_events', help: 'Outbox rows not yet published', labelNames: ['service'], registers: r });
    this.outboxOldestAge = new Gauge({ name: 'outbox_oldest_pending_age_seconds', help: 'Age of the oldest unpublished outbox row', labelNames: ['service'], registers: r });
    this.outboxPublished = new Counter({ name: 'outbox_published_total', help: 'Outbox rows published to JetStream', labelNames: ['service'], registers: r });
    this.outboxPublishFailures = new Counter({ name: 'outbox_publish_failures_total', help: 'Failed attempts to publish outbox rows', labelNames: ['service'], registers: r });
    this.eventsConsumed = new Counter({ name: 'events_consumed_total', help: 'Events handled by consumers', labelNames: ['consumer', 'outcome'], registers: r });
    this.eventsDeadLettered = new Counter({ name: 'events_dead_lettered_total', help: 'Events moved to the dead-letter stream', labelNames: ['consumer'], registers: r });
  }

  /** Registers a pool whose sizes are read at scrape time. */
  trackPool(service: string, read: () => { total: number; idle: number; waiting: number }): void {
    this.poolCollectors.set(service, read);
  }

  untrackPool(service: string): void {
    this.poolCollectors.delete(service);
  }
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): PlatformMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return new PlatformMetrics(registry);
}
