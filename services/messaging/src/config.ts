import { v } from '@nova/platform';

/** The messaging service's own variables. */
export const messagingConfig = {
  MESSAGING_ENCRYPTION_KEY: v.optionalString({ secret: true, minLength: 44, doc: 'base64 of 32 random bytes: encrypts message bodies at rest (AES-256-GCM; required outside development/test; `openssl rand -base64 32`). This is encryption at rest, not end-to-end encryption' }),
  MESSAGING_ENCRYPTION_KEY_PREVIOUS: v.optionalString({ secret: true, minLength: 44, doc: 'the key before a rotation of MESSAGING_ENCRYPTION_KEY, still accepted for reading (and searching) while every replica re-seals old bodies under the new key in the background (docs/OPERATIONS.md)' }),
  MESSAGING_MAX_GROUP_MEMBERS: v.int({ default: 256, min: 2, max: 10_000, doc: 'most members of a group conversation (the product limit is 256; the benchmark raises it to hold 1,001 members)' }),
  MESSAGING_EDIT_WINDOW_SECONDS: v.int({ default: 86_400, min: 0, doc: 'how long after sending a message its sender may edit it (every earlier version is kept: GET …/messages/:seq/edits)' }),
  MESSAGING_RECALL_WINDOW_SECONDS: v.int({ default: 3_600, min: 0, doc: 'how long after sending a message its sender may recall (delete for everyone) it; group owners and admins may remove any message at any time' }),
  MESSAGING_RECEIPT_FANOUT_MAX_MEMBERS: v.int({ default: 32, min: 2, max: 10_000, doc: 'conversations up to this many members get delivery/read receipts and presence changes pushed over WebSocket; larger groups expose them through GET /api/v1/conversations/:id and …/presence only' }),
  MESSAGING_WS_MAX_CONNECTIONS_PER_USER: v.int({ default: 10, min: 1, max: 1_000, doc: 'WebSocket connections one user may hold on one instance; the oldest is closed (4008) when a new one exceeds it' }),
  MESSAGING_WS_HEARTBEAT_SECONDS: v.int({ default: 30, min: 5, max: 300, doc: 'interval of WebSocket pings; a connection that misses one pong is terminated' }),
  MESSAGING_WS_MAX_BUFFERED_KIB: v.int({ default: 1_024, min: 64, max: 65_536, doc: 'outgoing bytes a WebSocket may have queued before it is closed as a slow consumer (1013)' }),
  MESSAGING_WS_RESUME_MAX_MESSAGES: v.int({ default: 200, min: 1, max: 5_000, doc: 'messages a `resume` frame replays per conversation; beyond that the client pages over HTTP' }),
  MESSAGING_E2EE_MAX_ENVELOPE_KIB: v.int({ default: 256, min: 1, max: 4_096, doc: 'largest ciphertext of one end-to-end-encrypted envelope (decoded bytes); a bigger one is refused with 413' }),
  MESSAGING_E2EE_ENVELOPE_TTL_DAYS: v.int({ default: 30, min: 1, max: 365, doc: 'days an unacknowledged envelope waits in a device queue before the purge deletes it (it is no longer delivered after that either)' }),
  MESSAGING_E2EE_PURGE_INTERVAL_SECONDS: v.int({ default: 3_600, min: 1, max: 86_400, doc: 'how often each instance deletes expired envelopes' }),
  MESSAGING_E2EE_MAX_SEND_MIB: v.int({ default: 16, min: 1, max: 256, doc: 'largest request body of POST …/envelopes (every recipient device’s envelope of one message)' }),
};
