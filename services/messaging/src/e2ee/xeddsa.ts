import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';

/** The type byte libsignal puts before a Curve25519 public key (`DjbType`). */
export const DJB_TYPE = 0x05;
/** A serialized libsignal EC public key: the type byte and the 32-byte Montgomery u-coordinate. */
export const EC_PUBLIC_KEY_BYTES = 33;
export const SIGNATURE_BYTES = 64;

/** GF(2^255 − 19), the field both curve forms share. */
const Fp = ed25519.Point.Fp;

/** Whether `key` is a serialized libsignal Curve25519 public key (0x05 and 32 bytes). */
export function isEcPublicKey(key: Uint8Array): boolean {
  return key.length === EC_PUBLIC_KEY_BYTES && key[0] === DJB_TYPE;
}

/**
 * XEdDSA verification (Signal's "XEdDSA and VXEdDSA" specification, §2.3 / §5): the signer's Montgomery
 * public key u becomes the Edwards point with y = (u − 1) / (u + 1) and the sign bit carried in the top bit
 * of the signature's last byte; the signature, with that bit cleared, is then checked as a plain Ed25519
 * signature (strict RFC 8032 decoding, no ZIP-215 leniency). `publicKey` is libsignal's serialized form
 * (0x05 ‖ u); anything else, or u = −1 (no Edwards image), is false, never an exception.
 */
export function xeddsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isEcPublicKey(publicKey) || signature.length !== SIGNATURE_BYTES) return false;
  const uBytes = publicKey.slice(1);
  uBytes[31]! &= 0x7f;
  const u = Fp.create(bytesToNumberLE(uBytes));
  if (u === Fp.neg(Fp.ONE)) return false;
  const edPublic = Fp.toBytes(Fp.div(Fp.sub(u, Fp.ONE), Fp.add(u, Fp.ONE)));
  const sig = Uint8Array.from(signature);
  edPublic[31]! |= sig[63]! & 0x80;
  sig[63]! &= 0x7f;
  try {
    return ed25519.verify(sig, message, edPublic, { zip215: false });
  } catch {
    return false;
  }
}
