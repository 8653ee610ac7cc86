import { createHmac } from 'node:crypto';
import type { SecretBox } from '@nova/platform';

/** HKDF info of the search-index subkey: changing it orphans every index entry. */
const INDEX_PURPOSE = 'nova/messaging/search-index/v1';
/** Most index terms kept per message. */
const MAX_TERMS = 256;
/** Words longer than this are not indexed (nobody searches for them; they only bloat the index). */
const MAX_WORD = 64;

/** The words of a text as search sees them: NFKC, lower case, runs of letters and digits, each once. */
export function words(text: string): string[] {
  const out = new Set<string>();
  for (const w of text.normalize('NFKC').toLowerCase().split(/[^\p{L}\p{N}\p{M}]+/u)) {
    if (w.length === 0 || w.length > MAX_WORD) continue;
    out.add(w);
    if (out.size >= MAX_TERMS) break;
  }
  return [...out];
}

export interface SealedBody {
  body_sealed: string;
  body_key_id: string;
  search_terms: string[];
}

/**
 * Message bodies at rest: AES-256-GCM under MESSAGING_ENCRYPTION_KEY, bound to the message id (a body
 * copied onto another row does not open), plus a blind search index (HMAC-SHA256 of each word under a
 * subkey of the same key). The index reveals which messages share a word, never the word itself without
 * the key. This is encryption at rest by the server, which holds the key: not end-to-end encryption.
 */
export class BodyCipher {
  private readonly indexKeys = new Map<string, Buffer>();

  constructor(readonly box: SecretBox) {
    for (const id of box.keyIds) this.indexKeys.set(id, box.subkey(id, INDEX_PURPOSE)!);
  }

  get currentKeyId(): string {
    return this.box.currentKeyId;
  }

  seal(messageId: string, text: string): SealedBody {
    const keyId = this.box.currentKeyId;
    return { body_sealed: this.box.seal(text, aad(messageId)), body_key_id: keyId, search_terms: this.terms(keyId, words(text)) };
  }

  open(messageId: string, sealed: string): string {
    return this.box.open(sealed, aad(messageId));
  }

  /** The query's words hashed under every key a row may have been sealed with (one set per key). */
  queryTerms(query: string): { keyId: string; terms: string[] }[] {
    const ws = words(query);
    if (ws.length === 0) return [];
    return this.box.keyIds.map((keyId) => ({ keyId, terms: this.terms(keyId, ws) }));
  }

  private terms(keyId: string, ws: string[]): string[] {
    const key = this.indexKeys.get(keyId)!;
    return ws.map((w) => createHmac('sha256', key).update(w).digest('base64url').slice(0, 22));
  }
}

const aad = (messageId: string) => `messaging/message/${messageId}`;
