import type { Server } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

export type { ServingStatus };

/** Health name of the server as a whole (`grpc.health.v1.Health/Check` with `service: ""`). */
export const SERVER_HEALTH_NAME = '';

/**
 * The standard `grpc.health.v1.Health` service (Check, Watch, List) with statuses per name: `''` for the
 * whole server and one per Nova service (`nova.events.v1`, ...). Watchers are told of every change.
 */
export class GrpcHealth {
  private readonly impl: HealthImplementation;
  private readonly statuses = new Map<string, ServingStatus>();

  constructor(initial: Record<string, ServingStatus> = { [SERVER_HEALTH_NAME]: 'NOT_SERVING' }) {
    this.impl = new HealthImplementation();
    for (const [name, status] of Object.entries(initial)) this.set(name, status);
  }

  set(name: string, status: ServingStatus): void {
    this.statuses.set(name, status);
    this.impl.setStatus(name, status);
  }

  get(name: string): ServingStatus | undefined {
    return this.statuses.get(name);
  }

  /** Every known name, e.g. all NOT_SERVING at the start of a shutdown. */
  setAll(status: ServingStatus): void {
    for (const name of this.statuses.keys()) this.set(name, status);
  }

  names(): string[] {
    return [...this.statuses.keys()];
  }

  /** Registers the service on a grpc-js server, outside the Nova handler wrapping (no allow list, no metrics). */
  addTo(server: Server): void {
    this.impl.addToServer(server as unknown as Parameters<HealthImplementation['addToServer']>[0]);
  }
}
