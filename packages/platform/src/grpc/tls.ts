import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import type { AppEnv } from '../config/platform.js';
import { ConfigError } from '../config/read.js';

export interface ServerTlsOptions {
  /** GRPC_TLS_ENABLED */
  enabled: boolean;
  /** GRPC_TLS_CA_CERT_PATH: the CA that signs client certificates (required for mTLS, and in staging/production). */
  caCertPath?: string | undefined;
  /** GRPC_TLS_SERVER_CERT_PATH */
  serverCertPath?: string | undefined;
  /** GRPC_TLS_SERVER_KEY_PATH */
  serverKeyPath?: string | undefined;
  /** GRPC_TLS_REQUIRE_CLIENT_CERT: mTLS, refuse callers without a certificate signed by the CA. */
  requireClientCert: boolean;
}

export interface ClientTlsOptions {
  /** GRPC_TLS_ENABLED */
  enabled: boolean;
  /** GRPC_TLS_CA_CERT_PATH: the CA that signs server certificates (system roots when absent, development only). */
  caCertPath?: string | undefined;
  /** GRPC_TLS_CLIENT_CERT_PATH: this caller's certificate, presented for mTLS. */
  clientCertPath?: string | undefined;
  /** GRPC_TLS_CLIENT_KEY_PATH */
  clientKeyPath?: string | undefined;
  /** GRPC_TLS_DOMAIN_NAME: the name expected in the server certificate when it differs from the target host. */
  domainName?: string | undefined;
}

/** The GRPC_TLS_* variables of the platform config (structurally, so any config carrying them fits). */
export interface GrpcTlsConfig {
  GRPC_TLS_ENABLED: boolean;
  GRPC_TLS_CA_CERT_PATH?: string | undefined;
  GRPC_TLS_SERVER_CERT_PATH?: string | undefined;
  GRPC_TLS_SERVER_KEY_PATH?: string | undefined;
  GRPC_TLS_REQUIRE_CLIENT_CERT: boolean;
  GRPC_TLS_CLIENT_CERT_PATH?: string | undefined;
  GRPC_TLS_CLIENT_KEY_PATH?: string | undefined;
  GRPC_TLS_DOMAIN_NAME?: string | undefined;
}

export function serverTlsFromConfig(config: GrpcTlsConfig): ServerTlsOptions {
  return {
    enabled: config.GRPC_TLS_ENABLED,
    caCertPath: config.GRPC_TLS_CA_CERT_PATH,
    serverCertPath: config.GRPC_TLS_SERVER_CERT_PATH,
    serverKeyPath: config.GRPC_TLS_SERVER_KEY_PATH,
    requireClientCert: config.GRPC_TLS_REQUIRE_CLIENT_CERT,
  };
}

export function clientTlsFromConfig(config: GrpcTlsConfig): ClientTlsOptions {
  return {
    enabled: config.GRPC_TLS_ENABLED,
    caCertPath: config.GRPC_TLS_CA_CERT_PATH,
    clientCertPath: config.GRPC_TLS_CLIENT_CERT_PATH,
    clientKeyPath: config.GRPC_TLS_CLIENT_KEY_PATH,
    domainName: config.GRPC_TLS_DOMAIN_NAME,
  };
}

/** Plaintext gRPC is for development and test only; staging and production refuse to start without TLS. */
export function tlsMandatory(appEnv: AppEnv): boolean {
  return appEnv === 'staging' || appEnv === 'production';
}

/**
 * Server credentials for `appEnv`, reading the PEM files. Throws a ConfigError naming every variable to set
 * when the settings are not enough (TLS off in staging/production, a missing path, unreadable or
 * mismatched files).
 */
export function serverCredentials(appEnv: AppEnv, tls: ServerTlsOptions): ServerCredentials {
  const problems: string[] = [];
  const mandatory = tlsMandatory(appEnv);
  if (!tls.enabled) {
    if (mandatory) {
      problems.push(`GRPC_TLS_ENABLED: must be true when APP_ENV=${appEnv} (plaintext gRPC is allowed only in development and test)`);
      requirePaths(problems, `when APP_ENV=${appEnv}`, [
        ['GRPC_TLS_SERVER_CERT_PATH', tls.serverCertPath],
        ['GRPC_TLS_SERVER_KEY_PATH', tls.serverKeyPath],
        ['GRPC_TLS_CA_CERT_PATH', tls.caCertPath],
      ]);
    } else if (tls.requireClientCert) {
      problems.push('GRPC_TLS_ENABLED: must be true when GRPC_TLS_REQUIRE_CLIENT_CERT=true (client certificates need TLS)');
    }
    if (problems.length) throw new ConfigError(problems);
    return ServerCredentials.createInsecure();
  }

  requirePaths(problems, 'when GRPC_TLS_ENABLED=true', [
    ['GRPC_TLS_SERVER_CERT_PATH', tls.serverCertPath],
    ['GRPC_TLS_SERVER_KEY_PATH', tls.serverKeyPath],
  ]);
  if (mandatory) requirePaths(problems, `when APP_ENV=${appEnv}`, [['GRPC_TLS_CA_CERT_PATH', tls.caCertPath]]);
  else if (tls.requireClientCert) requirePaths(problems, 'when GRPC_TLS_REQUIRE_CLIENT_CERT=true', [['GRPC_TLS_CA_CERT_PATH', tls.caCertPath]]);
  if (problems.length) throw new ConfigError(problems);

  const cert = readPem(problems, 'GRPC_TLS_SERVER_CERT_PATH', tls.serverCertPath);
  const key = readPem(problems, 'GRPC_TLS_SERVER_KEY_PATH', tls.serverKeyPath);
  const ca = tls.caCertPath ? readPem(problems, 'GRPC_TLS_CA_CERT_PATH', tls.caCertPath) : null;
  if (problems.length || !cert || !key) throw new ConfigError(problems);
  checkPair(['GRPC_TLS_SERVER_CERT_PATH', 'GRPC_TLS_SERVER_KEY_PATH', 'GRPC_TLS_CA_CERT_PATH'], cert, key, ca);
  return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], tls.requireClientCert);
}

/** Channel credentials for `appEnv`, with the same rule as {@link serverCredentials}. */
export function channelCredentials(appEnv: AppEnv, tls: ClientTlsOptions): ChannelCredentials {
  const problems: string[] = [];
  const mandatory = tlsMandatory(appEnv);
  if (!tls.enabled) {
    if (mandatory) {
      problems.push(`GRPC_TLS_ENABLED: must be true when APP_ENV=${appEnv} (plaintext gRPC is allowed only in development and test)`);
      requirePaths(problems, `when APP_ENV=${appEnv}`, [['GRPC_TLS_CA_CERT_PATH', tls.caCertPath]]);
      throw new ConfigError(problems);
    }
    return ChannelCredentials.createInsecure();
  }

  if (mandatory) requirePaths(problems, `when APP_ENV=${appEnv}`, [['GRPC_TLS_CA_CERT_PATH', tls.caCertPath]]);
  if (tls.clientCertPath && !tls.clientKeyPath) problems.push('GRPC_TLS_CLIENT_KEY_PATH: required when GRPC_TLS_CLIENT_CERT_PATH is set');
  if (tls.clientKeyPath && !tls.clientCertPath) problems.push('GRPC_TLS_CLIENT_CERT_PATH: required when GRPC_TLS_CLIENT_KEY_PATH is set');
  if (problems.length) throw new ConfigError(problems);

  const ca = tls.caCertPath ? readPem(problems, 'GRPC_TLS_CA_CERT_PATH', tls.caCertPath) : null;
  const cert = tls.clientCertPath ? readPem(problems, 'GRPC_TLS_CLIENT_CERT_PATH', tls.clientCertPath) : null;
  const key = tls.clientKeyPath ? readPem(problems, 'GRPC_TLS_CLIENT_KEY_PATH', tls.clientKeyPath) : null;
  if (problems.length) throw new ConfigError(problems);
  if (cert && key) checkPair(['GRPC_TLS_CLIENT_CERT_PATH', 'GRPC_TLS_CLIENT_KEY_PATH', 'GRPC_TLS_CA_CERT_PATH'], cert, key, ca);
  return ChannelCredentials.createSsl(ca, key, cert);
}

function requirePaths(problems: string[], when: string, vars: Array<[string, string | undefined]>): void {
  for (const [name, value] of vars) if (!value) problems.push(`${name}: required ${when}`);
}

function readPem(problems: string[], name: string, path: string | undefined): Buffer | null {
  if (!path) return null;
  try {
    return readFileSync(path);
  } catch (err) {
    problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return null;
  }
}

/** Fails at start-up, naming the variables, when a certificate and key do not parse or do not match. */
function checkPair(names: [cert: string, key: string, ca: string], cert: Buffer, key: Buffer, ca: Buffer | null): void {
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (err) {
    throw new ConfigError([`${names[0]}, ${names[1]}${ca ? `, ${names[2]}` : ''}: unusable certificate, key or CA (${(err as Error).message})`]);
  }
}
