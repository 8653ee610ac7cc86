import { generateKeyPair, randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { INTERNAL_DNS_SUFFIX } from './identity.js';

export interface DevCertificateOptions {
  /** One client certificate per name, CN = the name (the identity allow lists check). */
  services: readonly string[];
  /** Extra names or IPs for the server certificate, besides localhost, 127.0.0.1 and ::1. */
  hosts?: readonly string[];
  /** Validity of the server and client certificates (default 825 days; the CA gets ten years). */
  validDays?: number;
}

export interface PemPair {
  cert: string;
  key: string;
}

export interface DevCertificates {
  dir: string;
  ca: PemPair;
  server: PemPair;
  /** By service name. */
  clients: Record<string, PemPair>;
}

const SERVICE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ORG = 'Nova (development)';
const DAY_MS = 86_400_000;
const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * Writes a development PKI into `dir` (created 0700 if missing), replacing what is there:
 * `ca.crt`/`ca.key` (a fresh CA), `server.crt`/`server.key` (SAN localhost, 127.0.0.1, ::1 and `hosts`;
 * server authentication) and `<service>.crt`/`<service>.key` for each service (CN = service,
 * SAN `<service>.nova.internal`; client authentication). PEM, RSA-2048 with SHA-256, keys mode 0600.
 * Returns the paths. Never use these outside development and tests.
 */
export async function generateDevCertificates(dir: string, opts: DevCertificateOptions): Promise<DevCertificates> {
  const services = [...new Set(opts.services)];
  for (const s of services) {
    if (!SERVICE_NAME.test(s)) throw new Error(`invalid service name for a certificate: "${s}" (lowercase letters, digits and dashes)`);
    if (s === 'ca' || s === 'server') throw new Error(`"${s}" is reserved for the ${s} certificate`);
  }
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', ...(opts.hosts ?? [])])];
  const validDays = opts.validDays ?? 825;
  if (!Number.isInteger(validDays) || validDays < 1) throw new RangeError(`validDays must be a positive integer, got ${validDays}`);

  const [caKey, serverKey, ...clientKeys] = await Promise.all([newKey(), newKey(), ...services.map(() => newKey())]);
  const now = Date.now();

  const ca = forge.pki.createCertificate();
  fill(ca, caKey!, now, 3_650);
  const caSubject = [
    { name: 'commonName', value: 'Nova Development CA' },
    { name: 'organizationName', value: ORG },
  ];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKey!.forge, forge.md.sha256.create());
  const caKeyId = ca.generateSubjectKeyIdentifier().getBytes();

  const issue = (key: Key, cn: string, altNames: AltName[], usage: { serverAuth?: boolean; clientAuth?: boolean }) => {
    const cert = forge.pki.createCertificate();
    fill(cert, key, now, validDays);
    cert.setSubject([
      { name: 'commonName', value: cn },
      { name: 'organizationName', value: ORG },
    ]);
    cert.setIssuer(ca.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', ...usage },
      { name: 'subjectAltName', altNames },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId },
    ]);
    cert.sign(caKey!.forge, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  };

  const serverAltNames: AltName[] = hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  const serverCert = issue(serverKey!, 'nova-server', serverAltNames, { serverAuth: true });

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const result: DevCertificates = {
    dir,
    ca: await writePair(dir, 'ca', forge.pki.certificateToPem(ca), caKey!.pem),
    server: await writePair(dir, 'server', serverCert, serverKey!.pem),
    clients: {},
  };
  for (const [i, service] of services.entries()) {
    const key = clientKeys[i]!;
    const cert = issue(key, service, [{ type: 2, value: `${service}${INTERNAL_DNS_SUFFIX}` }], { clientAuth: true });
    result.clients[service] = await writePair(dir, service, cert, key.pem);
  }
  return result;
}

interface Key {
  pem: string;
  forge: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
}

type AltName = { type: 2; value: string } | { type: 7; ip: string };

/** RSA keys from Node's native generator (forge's pure-JS one is slow), read back into forge for signing. */
async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    pem: privateKey,
    forge: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
  };
}

function fill(cert: forge.pki.Certificate, key: Key, now: number, days: number): void {
  cert.publicKey = key.publicKey;
  // A positive 128-bit serial: clear the top bit so the DER integer is not read as negative.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now - 60 * 60 * 1_000); // tolerate clock skew
  cert.validity.notAfter = new Date(now + days * DAY_MS);
}

async function writePair(dir: string, name: string, cert: string, key: string): Promise<PemPair> {
  const paths = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await writeFile(paths.key, key, { mode: 0o600 });
  await chmod(paths.key, 0o600); // writeFile keeps the mode of an existing file
  await writeFile(paths.cert, cert, { mode: 0o644 });
  return paths;
}
