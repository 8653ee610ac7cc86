import { Counter, Gauge, type Registry } from 'prom-client';
import type { PlatformMetrics } from '@nova/platform';

/** The messaging service's own metrics (low-cardinality labels only). */
export interface MessagingMetrics {
  /** `messaging_messages_sent_total{kind}`: messages committed, by conversation kind. */
  messagesSent: Counter<'kind'>;
  /** `messaging_ws_frames_sent_total`: frames handed to sockets on this instance. */
  framesSent: Counter;
  /** `messaging_ws_closes_total{code}`: sockets this server closed, by close code. */
  closes: Counter<'code'>;
  /** `messaging_fanout_publish_failures_total`: frames that could not be published to the other instances. */
  publishFailures: Counter;
  /** `messaging_e2ee_bundles_served_total`: device pre-key bundles handed out (each claims one-time prekeys). */
  bundlesServed: Counter;
  /** `messaging_e2ee_envelopes_total`: envelopes queued for devices. */
  envelopesQueued: Counter;
}

/** Registers the metrics once per registry; `connections` feeds `messaging_ws_connections` at scrape time. */
export function messagingMetrics(platform: PlatformMetrics, connections: () => number): MessagingMetrics {
  const registry: Registry = platform.registry;
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
  if (!registry.getSingleMetric('messaging_ws_connections')) {
    new Gauge({
      name: 'messaging_ws_connections',
      help: 'Open WebSocket connections on this instance',
      registers: [registry],
      collect() {
        this.set(connections());
      },
    });
  }
  return {
    messagesSent: counter('messaging_messages_sent_total', 'Messages sent, by conversation kind', ['kind']),
    framesSent: counter('messaging_ws_frames_sent_total', 'Frames handed to WebSockets on this instance'),
    closes: counter('messaging_ws_closes_total', 'WebSockets closed by the server, by close code', ['code']),
    publishFailures: counter('messaging_fanout_publish_failures_total', 'Frames that could not be published to the other instances (clients catch up by seq)'),
    bundlesServed: counter('messaging_e2ee_bundles_served_total', 'Device pre-key bundles handed out'),
    envelopesQueued: counter('messaging_e2ee_envelopes_total', 'End-to-end-encrypted envelopes queued for devices'),
  };
}
