import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '@nova/platform';
import { BodyCipher, words } from './body-crypto.js';

describe('message body encryption and blind index', () => {
  it('splits text into normalised words, each once', () => {
    expect(words('Hello, HELLO wörld! ２０２６ café-au-lait')).toEqual(['hello', 'wörld', '2026', 'café', 'au', 'lait']);
    expect(words('  ...  ')).toEqual([]);
  });

  it('seals a body that opens only for its own message id, and stores no plaintext word', () => {
    const cipher = new BodyCipher(new SecretBox(randomBytes(32)));
    const sealed = cipher.seal('m1', 'meet me at the harbour');
    expect(sealed.body_sealed).not.toContain('harbour');
    expect(sealed.search_terms.join(' ')).not.toContain('harbour');
    expect(sealed.search_terms).toHaveLength(5);
    expect(cipher.open('m1', sealed.body_sealed)).toBe('meet me at the harbour');
    expect(() => cipher.open('m2', sealed.body_sealed)).toThrow();
  });

  it('query terms match the terms of a sealed body under the key that sealed it, also after a rotation', () => {
    const oldKey = randomBytes(32);
    const before = new BodyCipher(new SecretBox(oldKey)).seal('m1', 'Harbour at noon');
    const rotated = new BodyCipher(new SecretBox(randomBytes(32), [oldKey]));
    const sets = rotated.queryTerms('HARBOUR noon');
    expect(sets).toHaveLength(2);
    const old = sets.find((s) => s.keyId === before.body_key_id)!;
    expect(old.terms.every((t) => before.search_terms.includes(t))).toBe(true);
    const current = sets.find((s) => s.keyId === rotated.currentKeyId)!;
    expect(current.terms.some((t) => before.search_terms.includes(t))).toBe(false);
  });
});
