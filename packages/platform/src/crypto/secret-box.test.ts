import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  it('opens what it sealed, only with the same context', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('hello', 'row-1');
    expect(sealed.split('.')[1]).toBe(box.currentKeyId);
    expect(box.open(sealed, 'row-1')).toBe('hello');
    expect(() => box.open(sealed, 'row-2')).toThrow();
  });

  it('opens values of a previous key after a rotation, and seals with the new one', () => {
    const oldKey = randomBytes(32);
    const before = new SecretBox(oldKey).seal('kept', 'ctx');
    const rotated = new SecretBox(randomBytes(32), [oldKey]);
    expect(rotated.open(before, 'ctx')).toBe('kept');
    expect(rotated.seal('new', 'ctx').split('.')[1]).toBe(rotated.currentKeyId);
    expect(rotated.keyIds).toHaveLength(2);
    expect(() => new SecretBox(randomBytes(32)).open(before, 'ctx')).toThrow(/key is unknown/);
  });

  it('derives a stable subkey per key and purpose', () => {
    const key = randomBytes(32);
    const a = new SecretBox(key);
    const b = new SecretBox(key);
    expect(a.subkey(a.currentKeyId, 'x')!.equals(b.subkey(b.currentKeyId, 'x')!)).toBe(true);
    expect(a.subkey(a.currentKeyId, 'x')!.equals(a.subkey(a.currentKeyId, 'y')!)).toBe(false);
    expect(a.subkey('00000000', 'x')).toBeUndefined();
  });
});
