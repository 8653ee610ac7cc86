import type { PeerCertificate } from 'node:tls';

/** Internal DNS suffix: a SAN `DNS:<service>.nova.internal` identifies the caller as `<service>`. */
export const INTERNAL_DNS_SUFFIX = '.nova.internal';
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const ANY_EKU_OID = '2.5.29.37.0';

/** What the server handlers see of a call, enough to read the peer's certificate. */
export interface CallWithAuthContext {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate | undefined } | null;
}

/**
 * The identities of the caller, from the client certificate that the TLS layer verified against the CA:
 * the subject CN (`auth`, `feed`, ...) and, for each SAN `DNS:<name>.nova.internal`, `<name>`. Empty when
 * the call carried no verified certificate (plaintext, TLS without mTLS, or an unverified certificate —
 * grpc-js reports a certificate only when the socket is authorized). A certificate whose extended key usage
 * excludes client authentication identifies nobody.
 */
export function callerIdentities(call: CallWithAuthContext): string[] {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (!cert) return [];
  const eku = (cert as PeerCertificate & { ext_key_usage?: string[] }).ext_key_usage;
  if (eku && eku.length > 0 && !eku.includes(CLIENT_AUTH_OID) && !eku.includes(ANY_EKU_OID)) return [];

  const ids = new Set<string>();
  const cn: unknown = cert.subject?.CN;
  for (const name of Array.isArray(cn) ? cn : [cn]) if (typeof name === 'string' && name) ids.add(name);
  for (const dns of sanDnsNames(cert.subjectaltname)) {
    if (dns.endsWith(INTERNAL_DNS_SUFFIX)) {
      const name = dns.slice(0, -INTERNAL_DNS_SUFFIX.length);
      if (name && !name.includes('.')) ids.add(name);
    }
  }
  return [...ids];
}

/** The caller's primary identity (the CN, else the first SAN-derived one), if any. */
export function callerIdentity(call: CallWithAuthContext): string | undefined {
  return callerIdentities(call)[0];
}

function sanDnsNames(san: string | undefined): string[] {
  if (!san) return [];
  return san
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
}
