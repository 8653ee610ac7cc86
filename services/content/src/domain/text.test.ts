import { describe, expect, it } from 'vitest';
import { extractHashtags, extractMentions, normaliseTag } from './text.js';

describe('text extraction', () => {
  it('finds hashtags lower-cased, once, in any script, not inside words', () => {
    expect(extractHashtags('Hello #World and #world, #日本語 #a_1! mail#nope ##double #')).toEqual(['world', '日本語', 'a_1']);
    expect(extractHashtags(`#${'x'.repeat(101)}`)).toEqual([]);
    expect(extractHashtags(`#${'x'.repeat(100)}`)).toEqual(['x'.repeat(100)]);
  });

  it('finds @mentions of possible usernames, not emails', () => {
    expect(extractMentions('hi @Alice_1, @alice_1 and @bo; mail bob@example.com (@carol)')).toEqual(['alice_1', 'carol']);
    expect(extractMentions(`@${'a'.repeat(33)}`)).toEqual([]);
  });

  it('normalises a tag from a path', () => {
    expect(normaliseTag('#Cats')).toBe('cats');
    expect(normaliseTag('cats!')).toBeUndefined();
  });
});
