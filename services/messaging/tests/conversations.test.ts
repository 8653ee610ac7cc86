import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@nova/platform';
import { startMessagingService, type MessagingHarness, type TestUser } from './support.js';

describe('conversations', () => {
  let h: MessagingHarness;
  beforeAll(async () => {
    h = await startMessagingService({ MESSAGING_MAX_GROUP_MEMBERS: '4' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const direct = (a: TestUser, b: TestUser | string) => h.api('POST', '/api/v1/conversations', { token: a.token, body: { type: 'direct', user_id: typeof b === 'string' ? b : b.id } });
  const group = (a: TestUser, members: TestUser[], name = 'Friends') => h.api('POST', '/api/v1/conversations', { token: a.token, body: { type: 'group', name, member_ids: members.map((m) => m.id) } });

  it('opens one direct conversation per pair: 201 the first time, 200 with the same conversation from either side', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const first = await direct(alice, bob);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ kind: 'direct', mode: 'standard', name: null, avatar_media_id: null, status: 'active', muted: false, archived: false, created_by: alice.id, role: 'member', last_seq: 0, unread_count: 0 });
    const again = await direct(bob, alice);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    // Two concurrent opens of a new pair make one conversation.
    const carol = await h.newUser();
    const [x, y] = await Promise.all([direct(carol, alice), direct(alice, carol)]);
    expect([x.status, y.status].sort()).toEqual([200, 201]);
    expect(x.body.id).toBe(y.body.id);
    const created = await h.outboxEvents('ConversationCreated');
    expect(created.filter((e) => e.data.conversation_id === first.body.id)).toHaveLength(1);
    expect(created.find((e) => e.data.conversation_id === first.body.id)!.data.member_ids.sort()).toEqual([alice.id, bob.id].sort());
  });

  it('refuses yourself (400), unknown users (404), unknown fields (400); a pair may have one standard and one e2ee direct conversation', async () => {
    const alice = await h.newUser();
    expect((await direct(alice, alice)).status).toBe(400);
    const unknown = await direct(alice, newId());
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    expect((await h.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'direct', user_id: newId(), name: 'x' } })).status).toBe(400);
    const bob = await h.newUser();
    const standard = await direct(alice, bob);
    const e2ee = await h.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'direct', user_id: bob.id, mode: 'e2ee' } });
    expect(e2ee.status).toBe(201);
    expect(e2ee.body.mode).toBe('e2ee');
    expect(e2ee.body.id).not.toBe(standard.body.id);
    const again = await h.api('POST', '/api/v1/conversations', { token: bob.token, body: { type: 'direct', user_id: alice.id, mode: 'e2ee' } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(e2ee.body.id);
    expect((await h.api('GET', '/api/v1/conversations')).status).toBe(401);
  });

  it("blocks forbid a direct conversation both ways; the recipient's who_can_message setting (nobody / followers) turns it into a message request", async () => {
    const [alice, bob, carol, dave, erin] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    await h.block(bob, alice);
    const blocked = await direct(alice, bob);
    expect(blocked.status).toBe(403);
    expect((await direct(bob, alice)).status).toBe(403);
    expect(await h.db.selectFrom('conversations').select('id').where('direct_key', 'in', [[alice.id, bob.id].sort().join(':')]).execute()).toEqual([]);

    await h.settings(carol, { who_can_message: 'nobody' });
    const nobody = await direct(alice, carol);
    expect(nobody.status).toBe(201);
    const carolSide = async () => (await h.db.selectFrom('members').select('status').where('conversation_id', '=', nobody.body.id).where('user_id', '=', carol.id).executeTakeFirstOrThrow()).status;
    expect(await carolSide()).toBe('request');

    await h.settings(dave, { who_can_message: 'followers' });
    const req = await direct(alice, dave);
    expect(req.status).toBe(201);
    expect((await h.db.selectFrom('members').select('status').where('conversation_id', '=', req.body.id).where('user_id', '=', dave.id).executeTakeFirstOrThrow()).status).toBe('request');
    // dave following alice does not make alice one of dave's followers; alice following dave does.
    await h.settings(erin, { who_can_message: 'followers' });
    await h.follow(erin, alice);
    const stillRequest = await direct(alice, erin);
    expect((await h.db.selectFrom('members').select('status').where('conversation_id', '=', stillRequest.body.id).where('user_id', '=', erin.id).executeTakeFirstOrThrow()).status).toBe('request');
    const frank = await h.newUser();
    await h.settings(frank, { who_can_message: 'followers' });
    await h.follow(alice, frank);
    const normal = await direct(alice, frank);
    expect(normal.status).toBe(201);
    expect((await h.db.selectFrom('members').select('status').where('conversation_id', '=', normal.body.id).where('user_id', '=', frank.id).executeTakeFirstOrThrow()).status).toBe('active');
  });

  it('creates a group with the caller as owner; every member must accept; the size is capped', async () => {
    const [owner, a, b, c, d] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    await h.settings(c, { who_can_message: 'nobody' });
    const refused = await group(owner, [a, c]);
    expect(refused.status).toBe(403);
    expect(refused.body.error.details.user_ids).toEqual([c.id]);
    expect((await group(owner, [a, b, d, c])).status).toBe(400);
    const made = await group(owner, [a, b]);
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ kind: 'group', name: 'Friends', role: 'owner' });
    const seen = await h.api('GET', `/api/v1/conversations/${made.body.id}`, { token: a.token });
    expect(seen.status).toBe(200);
    expect(seen.body.role).toBe('member');
    expect(seen.body.members.map((m: any) => [m.user_id, m.role]).sort()).toEqual([[owner.id, 'owner'], [a.id, 'member'], [b.id, 'member']].sort());
    // Anyone else gets the 404 of a conversation that does not exist.
    const stranger = await h.api('GET', `/api/v1/conversations/${made.body.id}`, { token: d.token });
    expect(stranger.status).toBe(404);
    expect((await h.api('GET', `/api/v1/conversations/${newId()}`, { token: d.token })).body.error.message).toBe(stranger.body.error.message);
  });

  it('renames, adds and removes members with the right roles; a new member does not see earlier history; ownership passes on', async () => {
    const [owner, a, b, c] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    const g = (await group(owner, [a])).body;
    expect((await h.api('PATCH', `/api/v1/conversations/${g.id}`, { token: a.token, body: { name: 'Mine' } })).status).toBe(403);
    const avatar = newId();
    const renamed = await h.api('PATCH', `/api/v1/conversations/${g.id}`, { token: owner.token, body: { name: '  Book club ', avatar_media_id: avatar } });
    expect(renamed.body).toMatchObject({ name: 'Book club', avatar_media_id: avatar });

    expect((await h.api('POST', `/api/v1/conversations/${g.id}/messages`, { token: owner.token, body: { text: 'before b joined' } })).status).toBe(201);
    expect((await h.api('POST', `/api/v1/conversations/${g.id}/members`, { token: a.token, body: { user_ids: [b.id] } })).status).toBe(403);
    const added = await h.api('POST', `/api/v1/conversations/${g.id}/members`, { token: owner.token, body: { user_ids: [b.id, a.id] } });
    expect(added.body).toEqual({ added: [b.id] });
    await h.api('POST', `/api/v1/conversations/${g.id}/messages`, { token: owner.token, body: { text: 'after b joined' } });
    const history = await h.api('GET', `/api/v1/conversations/${g.id}/messages`, { token: b.token });
    expect(history.body.items.map((m: any) => m.text)).toEqual(['after b joined']);
    expect((await h.api('GET', `/api/v1/conversations/${g.id}`, { token: b.token })).body.unread_count).toBe(1);

    // A member cannot remove others; the owner can; a removed member is out everywhere.
    expect((await h.api('DELETE', `/api/v1/conversations/${g.id}/members/${b.id}`, { token: a.token })).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/conversations/${g.id}/members/${b.id}`, { token: owner.token })).status).toBe(204);
    expect((await h.api('GET', `/api/v1/conversations/${g.id}/messages`, { token: b.token })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/conversations/${g.id}/messages`, { token: b.token, body: { text: 'still here?' } })).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/conversations/${g.id}/members/${c.id}`, { token: owner.token })).status).toBe(404);

    // The owner leaves: the remaining member becomes owner.
    expect((await h.api('DELETE', `/api/v1/conversations/${g.id}/members/${owner.id}`, { token: owner.token })).status).toBe(204);
    expect((await h.api('GET', `/api/v1/conversations/${g.id}`, { token: a.token })).body.role).toBe('owner');
    const left = await h.outboxEvents('MemberLeft');
    expect(left.filter((e) => e.data.conversation_id === g.id).map((e) => e.data.user_id)).toEqual([b.id, owner.id]);

    // A direct conversation cannot be left.
    const d = (await direct(a, c)).body;
    expect((await h.api('DELETE', `/api/v1/conversations/${d.id}/members/${a.id}`, { token: a.token })).status).toBe(400);
  });

  it('roles: the owner makes admins, who may manage members and recall any message; handing over ownership', async () => {
    const [owner, a, b, c] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    const g = (await group(owner, [a, b])).body.id;
    const role = (by: TestUser, who: TestUser, r: string) => h.api('PATCH', `/api/v1/conversations/${g}/members/${who.id}`, { token: by.token, body: { role: r } });
    expect((await role(a, b, 'admin')).status).toBe(403);
    expect((await role(owner, a, 'admin')).status).toBe(204);
    expect((await role(owner, owner, 'member')).status).toBe(400);
    expect((await role(owner, c, 'admin')).status).toBe(404);
    await h.api('POST', `/api/v1/conversations/${g}/messages`, { token: b.token, body: { text: 'spam' } });
    expect((await h.api('DELETE', `/api/v1/conversations/${g}/messages/1`, { token: a.token })).status).toBe(204);
    expect((await h.api('POST', `/api/v1/conversations/${g}/members`, { token: a.token, body: { user_ids: [c.id] } })).body).toEqual({ added: [c.id] });
    expect((await h.api('DELETE', `/api/v1/conversations/${g}/members/${owner.id}`, { token: a.token })).status).toBe(403);
    expect((await role(owner, b, 'owner')).status).toBe(204);
    const roles = Object.fromEntries((await h.api('GET', `/api/v1/conversations/${g}`, { token: c.token })).body.members.map((m: any) => [m.user_id, m.role]));
    expect(roles).toEqual({ [owner.id]: 'admin', [a.id]: 'admin', [b.id]: 'owner', [c.id]: 'member' });
    expect((await h.outboxEvents('MemberRoleChanged')).filter((e) => e.data.conversation_id === g).map((e) => e.data.role)).toEqual(['admin', 'owner']);
  });

  it('lists the inbox by latest activity with unread counts, page by page without gaps or repeats', async () => {
    const me = await h.newUser();
    const others = [await h.newUser(), await h.newUser(), await h.newUser()];
    const ids: string[] = [];
    for (const o of others) ids.push((await direct(me, o)).body.id);
    // The first conversation gets a new message from the other side: it moves to the top.
    await h.api('POST', `/api/v1/conversations/${ids[0]}/messages`, { token: others[0]!.token, body: { text: 'hi' } });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.api('GET', `/api/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: me.token });
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((c: any) => c.id));
      if (seen.length === 1) expect(page.body.items[0]).toMatchObject({ unread_count: 1, peer_id: others[0]!.id });
      cursor = page.body.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([ids[0], ids[2], ids[1]]);
    expect((await h.api('GET', '/api/v1/conversations?cursor=bm9wZQ', { token: me.token })).status).toBe(400);
  });

  it('UserDeleted takes the account out of its conversations; its group passes to another member', async () => {
    const [owner, a] = [await h.newUser(), await h.newUser()];
    const g = (await group(owner, [a])).body;
    await h.publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: owner.id, data: { user_id: owner.id } });
    await expect.poll(async () => (await h.api('GET', `/api/v1/conversations/${g.id}`, { token: a.token })).body.members?.length, { timeout: 10_000 }).toBe(1);
    expect((await h.api('GET', `/api/v1/conversations/${g.id}`, { token: a.token })).body.role).toBe('owner');
  });
});
