import { createHash } from 'node:crypto';

/** Iterations of Signal's numeric fingerprint (libsignal `Fingerprint`, displayable version 2). */
export const FINGERPRINT_ITERATIONS = 5200;

/** The 16 bytes of a UUID: the stable identifier a fingerprint binds the key to. */
export function uuidBytes(id: string): Buffer {
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

/**
 * One party's half of a safety number, exactly as libsignal computes it: SHA-512 over
 * version (0x0000) ‖ identity key ‖ stable identifier ‖ identity key, then `iterations − 1` rounds of
 * SHA-512(previous ‖ identity key); the first 30 bytes, in six 5-byte big-endian chunks, each mod 100000,
 * written as five digits: 30 digits.
 */
export function displayableFingerprint(identityKey: Uint8Array, stableId: Uint8Array, iterations = FINGERPRINT_ITERATIONS): string {
  let buf = createHash('sha512').update(Buffer.from([0, 0])).update(identityKey).update(stableId).update(identityKey).digest();
  for (let i = 1; i < iterations; i++) buf = createHash('sha512').update(buf).update(identityKey).digest();
  let out = '';
  for (let i = 0; i < 30; i += 5) {
    const chunk = buf.readUIntBE(i, 5) % 100000;
    out += String(chunk).padStart(5, '0');
  }
  return out;
}

/** The 60-digit safety number of two parties: their two halves, the smaller first (the same on both sides). */
export function safetyNumber(a: string, b: string): string {
  return a <= b ? a + b : b + a;
}
