import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificates, type DevCertificates } from './dev-certs.js';

describe('generateDevCertificates', () => {
  let dir: string;
  let certs: DevCertificates;
  let ca: X509Certificate;

  beforeAll(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'nova-certs-')), 'certs');
    certs = await generateDevCertificates(dir, { services: ['auth', 'feed'], hosts: ['nova.test', '10.1.2.3'] });
    ca = new X509Certificate(await readFile(certs.ca.cert));
  });

  afterAll(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('writes the CA, the server pair and one pair per service, keys readable by the owner only', async () => {
    const expected = ['ca', 'server', 'auth', 'feed'];
    expect(Object.keys(certs.clients)).toEqual(['auth', 'feed']);
    for (const name of expected) {
      const certPath = join(dir, `${name}.crt`);
      const keyPath = join(dir, `${name}.key`);
      expect((await readFile(certPath, 'utf8')).startsWith('-----BEGIN CERTIFICATE-----')).toBe(true);
      expect(createPrivateKey(await readFile(keyPath)).asymmetricKeyType).toBe('rsa');
      expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    }
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('makes a CA that signs the server and client certificates', async () => {
    expect(ca.ca).toBe(true);
    expect(ca.subject).toContain('CN=Nova Development CA');
    for (const path of [certs.server.cert, certs.clients.auth!.cert, certs.clients.feed!.cert]) {
      const cert = new X509Certificate(await readFile(path));
      expect(cert.ca).toBe(false);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
    }
  });

  it('names localhost, the loopback addresses and the extra hosts in the server certificate', async () => {
    const server = new X509Certificate(await readFile(certs.server.cert));
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('nova.test')).toBe('nova.test');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });

  it('gives each client certificate CN = service name, a .nova.internal SAN and client authentication', async () => {
    const feed = new X509Certificate(await readFile(certs.clients.feed!.cert));
    expect(feed.subject).toContain('CN=feed');
    expect(feed.subjectAltName).toBe('DNS:feed.nova.internal');
    expect(feed.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('refuses names that cannot be a file name or an identity', async () => {
    await expect(generateDevCertificates(dir, { services: ['../etc'] })).rejects.toThrow(/invalid service name/);
    await expect(generateDevCertificates(dir, { services: ['Auth'] })).rejects.toThrow(/invalid service name/);
    await expect(generateDevCertificates(dir, { services: ['ca'] })).rejects.toThrow(/reserved/);
  });
});
