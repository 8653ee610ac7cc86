import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, sql } from '@nova/platform';
import { eventually } from '@nova/testing';
import { startUserService, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

const postCount = async (id: string) => (await h.api('GET', `/api/v1/users/${id}`)).body.post_count as number;
const handled = async (eventId: string) => (await sql`SELECT 1 FROM users.handled_events WHERE event_id = ${eventId}`.execute(h.db)).rows.length > 0;

describe("content's post events", () => {
  it('keep post_count: created adds, deleted removes, other post events change nothing', async () => {
    const author = await h.newUser();
    const posts = [newId(), newId(), newId()];
    for (const id of posts) {
      await h.publishEvent('content', { aggregate: 'post', action: 'created', type: 'PostCreated', entityId: id, data: { post_id: id, author_id: author.id } });
    }
    await eventually(async () => (await postCount(author.id)) === 3, 'three posts counted');
    const liked = await h.publishEvent('content', { aggregate: 'post', action: 'liked', type: 'PostLiked', entityId: posts[0]!, data: { post_id: posts[0], author_id: author.id } });
    const deleted = await h.publishEvent('content', { aggregate: 'post', action: 'deleted', type: 'PostDeleted', entityId: posts[1]!, data: { post_id: posts[1], author_id: author.id } });
    await eventually(async () => (await handled(liked.id)) && (await handled(deleted.id)), 'both events handled');
    expect(await postCount(author.id)).toBe(2);
  });

  it('waits for a profile that does not exist yet instead of losing the count', async () => {
    const early = newId();
    const username = `early_${early.slice(-8)}`;
    await h.publishEvent('content', { aggregate: 'post', action: 'created', type: 'PostCreated', entityId: newId(), data: { post_id: newId(), author_id: early } });
    await new Promise((r) => setTimeout(r, 300));
    await h.publishAuthEvent({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: early, data: { user_id: early, username } });
    await eventually(async () => (await h.api('GET', `/api/v1/users/${early}`)).body.post_count === 1, 'the early post counted once the profile exists', 15_000);
  });
});
