import type { Client, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { PlatformConfig } from '../config/platform.js';
import { createGrpcClient, type ClientConstructor, type GrpcClient } from '../grpc/client.js';
import { createGrpcServer, type GrpcServer } from '../grpc/server.js';
import { clientTlsFromConfig, serverTlsFromConfig } from '../grpc/tls.js';
import type { Logger } from '../logging/logger.js';
import type { PlatformMetrics } from '../metrics/metrics.js';
import { createBreakerRegistry } from '../resilience/index.js';
import { StartupError } from './dependencies.js';
import type { ServiceName } from './services.js';

/** A gRPC service a Nova service serves, with the callers allowed per method (mTLS identities). */
export interface GrpcServiceRegistration {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
  allow?: Readonly<Record<string, readonly string[]>>;
}

export interface GrpcClients {
  /** The client of `service` (one per service and constructor, created on first use). */
  get<C extends Client>(service: ServiceName, Ctor: ClientConstructor<C>): GrpcClient<C>;
}

export interface GrpcWiring {
  server: GrpcServer;
  clients: GrpcClients;
  tlsEnabled: boolean;
  /** The port this process's gRPC server bound: the default target of services running here. */
  setLocalPort(port: number, services: readonly ServiceName[]): void;
  shutdown(): Promise<void>;
}

/**
 * The process's gRPC server and its clients to other services. TLS rules are applied here, before anything
 * else starts: a staging or production process without TLS settings refuses to start and names them.
 */
export function createGrpcWiring(opts: { platform: PlatformConfig; logger: Logger; metrics: PlatformMetrics }): GrpcWiring {
  const { platform, logger, metrics } = opts;
  let server: GrpcServer;
  try {
    server = createGrpcServer({ appEnv: platform.APP_ENV, tls: serverTlsFromConfig(platform), logger, metrics, serviceLabel: 'nova' });
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  const breakers = createBreakerRegistry({ metrics, logger });
  const local = new Map<ServiceName, string>();
  const clients = new Map<string, GrpcClient<Client>>();

  const targetOf = (service: ServiceName): string => {
    const configured = platform[`GRPC_ADDR_${service.toUpperCase() as Uppercase<ServiceName>}`];
    if (typeof configured === 'string' && configured !== '') return configured;
    const here = local.get(service);
    if (here) return here;
    throw new StartupError(`the ${service} service does not run in this process: set GRPC_ADDR_${service.toUpperCase()} to its host:port`);
  };

  return {
    server,
    tlsEnabled: server.secure,
    clients: {
      get<C extends Client>(service: ServiceName, Ctor: ClientConstructor<C>): GrpcClient<C> {
        const key = `${service}:${Ctor.name}`;
        let client = clients.get(key);
        if (!client) {
          client = createGrpcClient(Ctor, {
            target: targetOf(service),
            appEnv: platform.APP_ENV,
            tls: clientTlsFromConfig(platform),
            deadlineMs: platform.GRPC_DEADLINE_MS,
            breaker: breakers.get(`grpc:${service}`),
          });
          clients.set(key, client);
        }
        return client as GrpcClient<C>;
      },
    },
    setLocalPort(port, services) {
      for (const s of services) local.set(s, `127.0.0.1:${port}`);
    },
    async shutdown() {
      await server.shutdown(10_000);
      for (const c of clients.values()) c.close();
    },
  };
}
