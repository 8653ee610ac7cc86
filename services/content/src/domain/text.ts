/** Hashtags and @mentions in a post's text. */

/** `#` then 1-100 letters, digits or underscores; stored lower-cased. */
const HASHTAG = /(?<![\p{L}\p{N}_#])#([\p{L}\p{N}_]{1,100})(?![\p{L}\p{N}_])/gu;
/** `@` then a username as auth issues them (3-32 of [A-Za-z0-9_]), not inside a word or an email address. */
const MENTION = /(?<![A-Za-z0-9_@.])@([A-Za-z0-9_]{3,32})(?![A-Za-z0-9_])/g;

/** The most hashtags and mentions one post keeps (the first ones in the text). */
export const MAX_HASHTAGS = 30;
export const MAX_MENTIONS = 50;

/** The distinct hashtags of `text`, lower-cased, in order of first appearance. */
export function extractHashtags(text: string): string[] {
  const tags = new Set<string>();
  for (const m of text.matchAll(HASHTAG)) {
    tags.add(m[1]!.normalize('NFC').toLowerCase());
    if (tags.size >= MAX_HASHTAGS) break;
  }
  return [...tags];
}

/** The distinct usernames @mentioned in `text`, lower-cased, in order of first appearance. */
export function extractMentions(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(MENTION)) {
    names.add(m[1]!.toLowerCase());
    if (names.size >= MAX_MENTIONS) break;
  }
  return [...names];
}

/** A hashtag as a path segment names it (`#` optional), normalised like stored tags; undefined if it is none. */
export function normaliseTag(raw: string): string | undefined {
  const tag = raw.startsWith('#') ? raw.slice(1) : raw;
  return /^[\p{L}\p{N}_]{1,100}$/u.test(tag) ? tag.normalize('NFC').toLowerCase() : undefined;
}
