import { describe, expect, it } from 'vitest';
import { ClientIpResolver, TrustedProxies, normalizeIp, parseIp } from './client-ip.js';

describe('ClientIpResolver', () => {
  const resolver = new ClientIpResolver(['10.0.0.0/8', '192.0.2.7', '2001:db8:ffff::/48', 'loopback']);

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(resolver.resolve('203.0.113.9', '1.2.3.4')).toBe('203.0.113.9');
    expect(resolver.resolve('2001:db8:1::5', '1.2.3.4')).toBe('2001:db8:1::5');
    expect(new ClientIpResolver().resolve('10.0.0.1', '1.2.3.4')).toBe('10.0.0.1');
  });

  it('takes the first untrusted address from the right when the peer is trusted', () => {
    expect(resolver.resolve('10.1.2.3', '198.51.100.4')).toBe('198.51.100.4');
    // Client-written entries left of the real client are ignored; chained trusted proxies are skipped.
    expect(resolver.resolve('10.1.2.3', '6.6.6.6, 198.51.100.4, 10.9.9.9, 192.0.2.7')).toBe('198.51.100.4');
    expect(resolver.resolve('192.0.2.7', ['6.6.6.6', '198.51.100.4, 10.0.0.5'])).toBe('198.51.100.4');
    expect(resolver.resolve('2001:db8:ffff::1', '2001:db8:2::9')).toBe('2001:db8:2::9');
  });

  it('matches IPv4-mapped IPv6 peers against IPv4 ranges and reports them as IPv4', () => {
    expect(resolver.resolve('::ffff:127.0.0.1', '198.51.100.4')).toBe('198.51.100.4');
    expect(resolver.resolve('::ffff:10.0.0.1', '::ffff:198.51.100.4')).toBe('198.51.100.4');
    expect(resolver.resolve('::ffff:203.0.113.9', '198.51.100.4')).toBe('203.0.113.9');
    expect(new ClientIpResolver(['::ffff:10.0.0.0/104']).resolve('10.2.3.4', '198.51.100.4')).toBe('198.51.100.4');
    expect(new ClientIpResolver(['::1']).resolve('::1', '198.51.100.4')).toBe('198.51.100.4');
  });

  it('stops at an entry that is not an address and keeps the last vouched-for hop', () => {
    expect(resolver.resolve('10.1.2.3', 'unknown')).toBe('10.1.2.3');
    expect(resolver.resolve('10.1.2.3', '198.51.100.4, garbage, 10.0.0.9')).toBe('10.0.0.9');
    expect(resolver.resolve('10.1.2.3', '')).toBe('10.1.2.3');
    // Every hop trusted: the left-most one is the client (an internal caller).
    expect(resolver.resolve('10.1.2.3', '10.0.0.8, 10.0.0.9')).toBe('10.0.0.8');
  });

  it('accepts the decorations proxies add (ports, brackets, zones) and canonicalises IPv6', () => {
    expect(resolver.resolve('10.1.2.3', '198.51.100.4:5123')).toBe('198.51.100.4');
    expect(resolver.resolve('10.1.2.3', '[2001:DB8:0:0::7]:443')).toBe('2001:db8::7');
    expect(normalizeIp('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeIp('127.1')).toBeUndefined();
    expect(normalizeIp('01.2.3.4')).toBeUndefined();
    expect(parseIp(undefined)).toBeUndefined();
    expect(resolver.resolve(undefined, '1.2.3.4')).toBe('unknown');
  });

  it('reads the socket peer and header from a request', () => {
    const req = { socket: { remoteAddress: '10.0.0.1' }, headers: { 'x-forwarded-for': '198.51.100.4' } };
    expect(resolver.fromRequest(req)).toBe('198.51.100.4');
    expect(resolver.fromRequest({ ...req, socket: { remoteAddress: '203.0.113.1' } })).toBe('203.0.113.1');
  });
});

describe('TrustedProxies', () => {
  it('refuses entries that are not addresses, CIDRs or known names', () => {
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(/prefix length must be 0-32/);
    expect(() => new TrustedProxies(['::/129'])).toThrow(/prefix length must be 0-128/);
    expect(() => new TrustedProxies(['proxy.internal'])).toThrow(/not an IP address or CIDR/);
    expect(() => new TrustedProxies(['10.0.0.0/8x'])).toThrow(/prefix length/);
    expect(new TrustedProxies([' 10.0.0.0/8 ', '', 'uniquelocal']).size).toBe(5);
  });

  it('matches IPv4 and IPv6 ranges by kind', () => {
    const t = new TrustedProxies(['172.16.0.0/12', 'fd00::/8']);
    expect(t.has(parseIp('172.31.255.255')!)).toBe(true);
    expect(t.has(parseIp('172.32.0.0')!)).toBe(false);
    expect(t.has(parseIp('fd12::1')!)).toBe(true);
    expect(t.has(parseIp('fe12::1')!)).toBe(false);
    expect(t.has(parseIp('::ffff:172.16.0.1')!)).toBe(true);
  });
});
