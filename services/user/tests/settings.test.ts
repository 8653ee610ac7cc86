import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTIFICATION_KEYS, PRIVACY_KEYS } from '../src/domain/settings.js';
import { startUserService, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

const allOn = (keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, true]));

describe('GET /api/v1/users/me/settings', () => {
  it('lists every known key with its default until changed', async () => {
    const me = await h.newUser();
    const res = await h.api('GET', '/api/v1/users/me/settings', { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      language: 'en',
      who_can_message: 'everyone',
      notifications: allOn(NOTIFICATION_KEYS),
      privacy: allOn(PRIVACY_KEYS),
      updated_at: expect.any(String),
    });
    expect(Object.keys(res.body.notifications).sort()).toEqual(
      ['comments', 'follow_request_accepted', 'follow_requests', 'likes', 'live_streams', 'mentions', 'messages', 'new_followers', 'reposts'],
    );
    expect(Object.keys(res.body.privacy).sort()).toEqual(['allow_mentions', 'allow_tagging', 'read_receipts', 'show_activity_status', 'show_in_suggestions']);
  });

  it('needs a token, and is only ever the caller\'s own', async () => {
    expect((await h.api('GET', '/api/v1/users/me/settings')).status).toBe(401);
    const other = await h.newUser();
    // There is no route to anyone else's settings: the id segment is not "me".
    expect((await h.api('GET', `/api/v1/users/${other.id}/settings`, { token: (await h.newUser()).token })).status).toBe(404);
  });
});

describe('PATCH /api/v1/users/me/settings', () => {
  it('merges preferences key by key, canonicalises the language, and records SettingsUpdated', async () => {
    const me = await h.newUser();
    const first = await h.api('PATCH', '/api/v1/users/me/settings', {
      token: me.token,
      headers: { 'x-correlation-id': 'corr-settings-1' },
      body: { notifications: { likes: false }, language: 'pt-br', who_can_message: 'followers' },
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ language: 'pt-BR', who_can_message: 'followers', notifications: { ...allOn(NOTIFICATION_KEYS), likes: false }, privacy: allOn(PRIVACY_KEYS) });

    const second = await h.api('PATCH', '/api/v1/users/me/settings', { token: me.token, body: { notifications: { comments: false, likes: false }, privacy: { read_receipts: false } } });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      language: 'pt-BR',
      who_can_message: 'followers',
      notifications: { ...allOn(NOTIFICATION_KEYS), likes: false, comments: false },
      privacy: { ...allOn(PRIVACY_KEYS), read_receipts: false },
    });
    expect((await h.api('GET', '/api/v1/users/me/settings', { token: me.token })).body).toEqual(second.body);

    const events = await h.outboxEvents('SettingsUpdated', me.id);
    expect(events).toHaveLength(2);
    expect(events[0]!.correlation_id).toBe('corr-settings-1');
    expect(events[0]!.data).toEqual({
      user_id: me.id,
      changed: ['language', 'who_can_message', 'notifications.likes'],
      settings: { language: 'pt-BR', who_can_message: 'followers', notifications: { ...allOn(NOTIFICATION_KEYS), likes: false }, privacy: allOn(PRIVACY_KEYS) },
    });
    expect(events[1]!.data.changed).toEqual(['notifications.comments', 'privacy.read_receipts']);

    // Turning a key back on, and setting what is already set.
    const third = await h.api('PATCH', '/api/v1/users/me/settings', { token: me.token, body: { notifications: { likes: true }, who_can_message: 'followers' } });
    expect(third.body.notifications.likes).toBe(true);
    expect((await h.outboxEvents('SettingsUpdated', me.id))[2]!.data.changed).toEqual(['notifications.likes']);
  });

  it('writes and emits nothing when nothing changes', async () => {
    const me = await h.newUser();
    const before = await h.api('GET', '/api/v1/users/me/settings', { token: me.token });
    const res = await h.api('PATCH', '/api/v1/users/me/settings', { token: me.token, body: { language: 'en', notifications: { likes: true } } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(before.body);
    expect(await h.outboxEvents('SettingsUpdated', me.id)).toHaveLength(0);
  });

  it('keeps both of two concurrent changes to different keys', async () => {
    const me = await h.newUser();
    const keys = ['likes', 'comments', 'mentions', 'reposts', 'messages'] as const;
    const results = await Promise.all(keys.map((k) => h.api('PATCH', '/api/v1/users/me/settings', { token: me.token, body: { notifications: { [k]: false } } })));
    for (const r of results) expect(r.status).toBe(200);
    const res = await h.api('GET', '/api/v1/users/me/settings', { token: me.token });
    for (const k of keys) expect(res.body.notifications[k], k).toBe(false);
    expect(res.body.notifications.new_followers).toBe(true);
    expect(await h.outboxEvents('SettingsUpdated', me.id)).toHaveLength(keys.length);
  });

  it('refuses unknown keys and invalid values with 400 VALIDATION_FAILED, changing nothing', async () => {
    const me = await h.newUser();
    const cases: Array<[unknown, string]> = [
      [{ notifications: { pokes: false } }, '/notifications'],
      [{ privacy: { show_email: true } }, '/privacy'],
      [{ notifications: { likes: 'sometimes' } }, '/notifications/likes'],
      [{ notifications: ['likes'] }, '/notifications'],
      [{ language: 'english!' }, '/language'],
      [{ language: 'x' }, '/language'],
      [{ language: `en-${'a'.repeat(40)}` }, '/language'],
      [{ who_can_message: 'friends' }, '/who_can_message'],
      [{ theme: 'dark' }, '/'],
      [{}, '/'],
    ];
    for (const [body, path] of cases) {
      const res = await h.api('PATCH', '/api/v1/users/me/settings', { token: me.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.issues[0].path, JSON.stringify(body)).toBe(path);
    }
    // Shaped like a tag, but not a valid one: refused by the domain rule rather than the schema.
    const invalidTag = await h.api('PATCH', '/api/v1/users/me/settings', { token: me.token, body: { language: 'en-US-US' } });
    expect(invalidTag.status).toBe(400);
    expect(invalidTag.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'language' } });
    expect(await h.outboxEvents('SettingsUpdated', me.id)).toHaveLength(0);
    expect((await h.api('GET', '/api/v1/users/me/settings', { token: me.token })).body).toMatchObject({ language: 'en', who_can_message: 'everyone', notifications: allOn(NOTIFICATION_KEYS) });
  });

  it('needs a token', async () => {
    expect((await h.api('PATCH', '/api/v1/users/me/settings', { body: { language: 'fr' } })).status).toBe(401);
  });
});
