import { Fingerprint, IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client';
import { describe, expect, it } from 'vitest';
import { displayableFingerprint, safetyNumber, uuidBytes } from './fingerprint.js';
import { xeddsaVerify } from './xeddsa.js';

describe('xeddsaVerify (checked against libsignal-client)', () => {
  it('accepts libsignal signatures over EC and Kyber public keys and refuses any change to key, message or signature', () => {
    for (let i = 0; i < 20; i++) {
      const identity = IdentityKeyPair.generate();
      const ik = identity.publicKey.serialize();
      const spk = PrivateKey.generate().getPublicKey().serialize();
      const kyber = KEMKeyPair.generate().getPublicKey().serialize();
      for (const msg of [spk, kyber]) {
        const sig = identity.privateKey.sign(msg);
        expect(xeddsaVerify(ik, msg, sig)).toBe(true);
        const m2 = Uint8Array.from(msg);
        m2[5]! ^= 1;
        expect(xeddsaVerify(ik, m2, sig)).toBe(false);
        const s2 = Uint8Array.from(sig);
        s2[63]! ^= 0x80;
        expect(xeddsaVerify(ik, msg, s2)).toBe(false);
        expect(xeddsaVerify(PrivateKey.generate().getPublicKey().serialize(), msg, sig)).toBe(false);
      }
    }
  });

  it('refuses malformed keys and signatures without throwing', () => {
    const k = PrivateKey.generate();
    const sig = k.sign(new Uint8Array([1, 2, 3]));
    expect(xeddsaVerify(k.getPublicKey().serialize().slice(1), new Uint8Array([1, 2, 3]), sig)).toBe(false);
    expect(xeddsaVerify(k.getPublicKey().serialize(), new Uint8Array([1, 2, 3]), sig.slice(1))).toBe(false);
    const minusOne = new Uint8Array(33);
    minusOne[0] = 5;
    minusOne.set([0xec, ...Array(30).fill(0xff), 0x7f], 1);
    expect(xeddsaVerify(minusOne, new Uint8Array([1]), sig)).toBe(false);
  });
});

describe('displayableFingerprint', () => {
  it('matches libsignal’s safety number', () => {
    const a = IdentityKeyPair.generate().publicKey;
    const b = IdentityKeyPair.generate().publicKey;
    const ida = '0190a0b0-0000-7000-8000-000000000001';
    const idb = '0190a0b0-0000-7000-8000-000000000002';
    const theirs = Fingerprint.new(5200, 2, new Uint8Array(uuidBytes(ida)), a, new Uint8Array(uuidBytes(idb)), b).displayableFingerprint().toString();
    expect(safetyNumber(displayableFingerprint(a.serialize(), uuidBytes(ida)), displayableFingerprint(b.serialize(), uuidBytes(idb)))).toBe(theirs);
  });
});
