import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = readonly [Address, number];

/** Named ranges accepted in the trusted proxy list, besides IPs and CIDRs. */
const NAMED_RANGES: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * Parses one address strictly (node:net rules: no `127.1`, no leading zeros), accepting the decorations
 * proxies add (`[v6]:port`, `v4:port`, `%zone`). IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes IPv4 so
 * both spellings of a dual-stack peer are one address.
 */
export function parseIp(raw: string | undefined): Address | undefined {
  if (raw === undefined) return undefined;
  let s = raw.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return undefined;
    s = s.slice(1, end);
  } else {
    const colon = s.indexOf(':');
    if (colon > 0 && colon === s.lastIndexOf(':') && s.includes('.')) s = s.slice(0, colon);
  }
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIP(s) === 0) return undefined;
  const addr = ipaddr.parse(s);
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

/** Canonical text of an address: dotted IPv4, or RFC 5952 (lower-case, compressed) IPv6. */
export function formatIp(addr: Address): string {
  return addr.kind() === 'ipv4' ? addr.toString() : (addr as ipaddr.IPv6).toRFC5952String();
}

/** Canonical form of an address string, or undefined when it is not an IP address. */
export function normalizeIp(raw: string | undefined): string | undefined {
  const addr = parseIp(raw);
  return addr ? formatIp(addr) : undefined;
}

function parseRange(entry: string): Range[] {
  const named = NAMED_RANGES[entry.toLowerCase()];
  if (named) return named.flatMap(parseRange);
  const slash = entry.indexOf('/');
  const ipPart = slash < 0 ? entry : entry.slice(0, slash);
  // Bare strict check here: a zone or port in a proxy list is a configuration mistake.
  if (isIP(ipPart) === 0) throw new Error(`invalid trusted proxy ${JSON.stringify(entry)}: not an IP address or CIDR`);
  let addr: Address = ipaddr.parse(ipPart);
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const prefix = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) throw new Error(`invalid trusted proxy ${JSON.stringify(entry)}: prefix length must be 0-${max}`);
    bits = Number(prefix);
  }
  // ::ffff:a.b.c.d/n with n >= 96 is an IPv4 range; candidates are normalised to IPv4 before matching.
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    bits -= 96;
  }
  return [[addr, bits]];
}

/** A set of proxy addresses and networks (IPv4 and IPv6 CIDRs, plus `loopback`, `linklocal`, `uniquelocal`). */
export class TrustedProxies {
  private readonly v4: Range[] = [];
  private readonly v6: Range[] = [];

  /** Throws on an entry that is not an IP, a CIDR or a known range name, so bad config fails at boot. */
  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '') continue;
      for (const range of parseRange(entry)) (range[0].kind() === 'ipv4' ? this.v4 : this.v6).push(range);
    }
  }

  get size(): number {
    return this.v4.length + this.v6.length;
  }

  has(addr: Address): boolean {
    const ranges = addr.kind() === 'ipv4' ? this.v4 : this.v6;
    return ranges.some(([net, bits]) => addr.match(net, bits));
  }
}

/** The parts of a request the resolver reads (a Fastify request or a raw IncomingMessage both fit). */
export interface RequestLike {
  readonly headers: IncomingHttpHeaders;
  readonly socket: { readonly remoteAddress?: string | undefined } | null | undefined;
}

/**
 * Finds the client IP of a request. `X-Forwarded-For` is believed only when the direct peer (the socket's
 * remote address) is a trusted proxy; it is then walked from the right, skipping trusted proxies, and the
 * first untrusted address is the client. Anything further left was written by the client and is ignored,
 * so a spoofed header cannot choose the rate limit key. An entry that is not an address stops the walk
 * at the last address a trusted hop vouched for.
 */
export class ClientIpResolver {
  readonly trusted: TrustedProxies;

  constructor(trustedProxies: readonly string[] | TrustedProxies = []) {
    this.trusted = trustedProxies instanceof TrustedProxies ? trustedProxies : new TrustedProxies(trustedProxies);
  }

  /** Client IP in canonical form; `unknown` when the peer address is missing (socket already closed). */
  resolve(peer: string | undefined, forwardedFor: string | readonly string[] | undefined): string {
    let client = parseIp(peer);
    if (!client) return 'unknown';
    if (forwardedFor === undefined || this.trusted.size === 0 || !this.trusted.has(client)) return formatIp(client);
    const hops = (typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor).flatMap((h) => h.split(','));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseIp(hops[i]);
      if (!hop) break;
      client = hop;
      if (!this.trusted.has(hop)) break;
    }
    return formatIp(client);
  }

  fromRequest(req: RequestLike): string {
    return this.resolve(req.socket?.remoteAddress, req.headers['x-forwarded-for']);
  }
}
