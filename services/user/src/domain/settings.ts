import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import type { WhoCanMessage } from '../db/schema.js';
import * as sq from '../db/queries/settings.js';
import { ensureOwnProfile } from './profiles.js';

/**
 * The notification categories a user can switch off. The notification service reads them (SettingsUpdated
 * events carry the full set); every key is on until its owner turns it off.
 */
export const NOTIFICATION_KEYS = [
  'likes',
  'comments',
  'mentions',
  'reposts',
  'new_followers',
  'follow_requests',
  'follow_request_accepted',
  'messages',
  'live_streams',
] as const;

/** Privacy switches; every key is on until its owner turns it off. */
export const PRIVACY_KEYS = [
  /** Others see when I was last active (messaging presence). */
  'show_activity_status',
  /** Senders see when I have read their messages. */
  'read_receipts',
  /** Others may tag me in their posts. */
  'allow_tagging',
  /** Others may @mention me. */
  'allow_mentions',
  /** I may be suggested to others (GET /users/me/suggestions honours it). */
  'show_in_suggestions',
] as const;

export const WHO_CAN_MESSAGE = ['everyone', 'followers', 'nobody'] as const satisfies readonly WhoCanMessage[];

export type NotificationKey = (typeof NOTIFICATION_KEYS)[number];
export type PrivacyKey = (typeof PRIVACY_KEYS)[number];

export const DEFAULT_LANGUAGE = 'en';
/** A BCP 47 language tag as people write them: `en`, `pt-BR`, `zh-Hant-TW`, `es-419`. */
export const LANGUAGE_PATTERN = '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$';
export const LANGUAGE_MAX_LENGTH = 35;

export interface SettingsView {
  language: string;
  who_can_message: WhoCanMessage;
  notifications: Record<NotificationKey, boolean>;
  privacy: Record<PrivacyKey, boolean>;
  updated_at: string | null;
}

export interface SettingsPatch {
  language?: string;
  who_can_message?: WhoCanMessage;
  notifications?: Partial<Record<NotificationKey, boolean>>;
  privacy?: Partial<Record<PrivacyKey, boolean>>;
}

/** Known keys with their stored value, or the default (on). Keys no longer known are dropped. */
function effective<K extends string>(keys: readonly K[], stored: Record<string, unknown> | null | undefined): Record<K, boolean> {
  const out = {} as Record<K, boolean>;
  for (const k of keys) out[k] = typeof stored?.[k] === 'boolean' ? (stored[k] as boolean) : true;
  return out;
}

function toView(row: sq.SettingsRow | undefined): SettingsView {
  return {
    language: row?.language ?? DEFAULT_LANGUAGE,
    who_can_message: row?.who_can_message ?? 'everyone',
    notifications: effective(NOTIFICATION_KEYS, row?.notifications),
    privacy: effective(PRIVACY_KEYS, row?.privacy),
    updated_at: row ? row.updated_at.toISOString() : null,
  };
}

/** The effective settings of many users at once (defaults for those without a stored row); no profile check. */
export async function settingsOf(ctx: AppContext, userIds: readonly string[]): Promise<Map<string, SettingsView>> {
  const rows = new Map((await sq.findSettingsOf(ctx.db, userIds)).map((r) => [r.user_id, r]));
  return new Map(userIds.map((id) => [id, toView(rows.get(id))]));
}

export async function getSettings(ctx: AppContext, userId: string): Promise<SettingsView> {
  await ensureOwnProfile(ctx, userId);
  return toView(await sq.findSettings(ctx.db, userId));
}

/** Canonical casing of a language tag (`pt-br` → `pt-BR`); VALIDATION_FAILED when it is not one. */
export function canonicalLanguage(tag: string): string {
  if (tag.length > LANGUAGE_MAX_LENGTH || !new RegExp(LANGUAGE_PATTERN).test(tag)) {
    throw new AppError('VALIDATION_FAILED', 'language must be a BCP 47 language tag such as "en" or "pt-BR"', { details: { field: 'language' } });
  }
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? tag;
  } catch {
    throw new AppError('VALIDATION_FAILED', 'language must be a BCP 47 language tag such as "en" or "pt-BR"', { details: { field: 'language' } });
  }
}

function onlyKnown<K extends string>(keys: readonly K[], field: string, patch: Record<string, unknown> | undefined): Partial<Record<K, boolean>> | undefined {
  if (patch === undefined) return undefined;
  const out: Partial<Record<K, boolean>> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (!(keys as readonly string[]).includes(k)) throw new AppError('VALIDATION_FAILED', `unknown ${field} key "${k}"`, { details: { field: `${field}.${k}` } });
    if (typeof v !== 'boolean') throw new AppError('VALIDATION_FAILED', `${field}.${k} must be true or false`, { details: { field: `${field}.${k}` } });
    out[k as K] = v;
  }
  return out;
}

/**
 * Changes some settings; the objects are merged key by key in one statement, so two clients changing
 * different keys at once both win. A change that alters nothing emits nothing; otherwise one
 * `SettingsUpdated` event (same transaction) carries the full effective settings and what changed, so
 * consumers (messaging: who may message; notification: categories) can simply replace their copy.
 */
export async function updateSettings(ctx: AppContext, userId: string, patch: SettingsPatch, meta: { correlationId?: string | null } = {}): Promise<SettingsView> {
  const language = patch.language === undefined ? undefined : canonicalLanguage(patch.language);
  if (patch.who_can_message !== undefined && !(WHO_CAN_MESSAGE as readonly string[]).includes(patch.who_can_message)) {
    throw new AppError('VALIDATION_FAILED', `who_can_message must be one of ${WHO_CAN_MESSAGE.join(', ')}`, { details: { field: 'who_can_message' } });
  }
  const notifications = onlyKnown(NOTIFICATION_KEYS, 'notifications', patch.notifications);
  const privacy = onlyKnown(PRIVACY_KEYS, 'privacy', patch.privacy);
  await ensureOwnProfile(ctx, userId);

  return ctx.db.transaction().execute(async (tx) => {
    const before = toView(await sq.lockSettings(tx, userId));
    const row = await sq.upsertSettings(tx, userId, {
      ...(language !== undefined ? { language } : {}),
      ...(patch.who_can_message !== undefined ? { who_can_message: patch.who_can_message } : {}),
      ...(notifications ? { notifications } : {}),
      ...(privacy ? { privacy } : {}),
    });
    const after = toView(row);
    const changed = diff(before, after);
    if (changed.length === 0) return before;
    const view = { ...after, updated_at: (await sq.touchSettings(tx, userId)).toISOString() };
    await ctx.outbox.add(tx, {
      aggregate: 'settings',
      action: 'updated',
      type: 'SettingsUpdated',
      entityId: userId,
      data: { user_id: userId, changed, settings: { language: view.language, who_can_message: view.who_can_message, notifications: view.notifications, privacy: view.privacy } },
      correlationId: meta.correlationId ?? null,
    });
    return view;
  });
}

/** Names of what differs: `language`, `who_can_message`, `notifications.likes`, ... */
function diff(a: SettingsView, b: SettingsView): string[] {
  const out: string[] = [];
  if (a.language !== b.language) out.push('language');
  if (a.who_can_message !== b.who_can_message) out.push('who_can_message');
  for (const k of NOTIFICATION_KEYS) if (a.notifications[k] !== b.notifications[k]) out.push(`notifications.${k}`);
  for (const k of PRIVACY_KEYS) if (a.privacy[k] !== b.privacy[k]) out.push(`privacy.${k}`);
  return out;
}
