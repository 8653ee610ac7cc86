import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@nova/testing';
import { newId, sql } from '@nova/platform';
import { startMessagingService, type MessagingHarness, type TestUser } from './support.js';

/** Issue 7 rules: message requests, mute/archive, inbox last message, media, edit history, delete-for-me, deleted accounts, removal. */
describe('messaging rules', () => {
  let h: MessagingHarness;
  beforeAll(async () => {
    h = await startMessagingService();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const direct = (a: TestUser, b: TestUser) => h.api('POST', '/api/v1/conversations', { token: a.token, body: { type: 'direct', user_id: b.id } });
  const open = async (a: TestUser, b: TestUser) => (await direct(a, b)).body.id as string;
  const send = (u: TestUser, conv: string, body: Record<string, unknown>) => h.api('POST', `/api/v1/conversations/${conv}/messages`, { token: u.token, body });
  const inbox = async (u: TestUser, query = '') => (await h.api('GET', `/api/v1/conversations${query}`, { token: u.token })).body;

  it('message requests: a recipient whose setting does not admit the sender gets a request to accept or delete; nobody is notified as a normal conversation until accepted', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    await h.settings(bob, { who_can_message: 'nobody' });
    const [a, b] = [await h.connect(alice), await h.connect(bob)];
    const made = await direct(alice, bob);
    expect(made.status).toBe(201);
    expect(made.body.status).toBe('active');
    const conv = made.body.id as string;
    const first = await send(alice, conv, { text: 'hi, we met at the conference' });
    expect(first.status).toBe(201);
    await send(alice, conv, { text: 'second' });

    // Bob: a request frame, not the message; not in his inbox; listed as a request with the last message.
    await b.next((f) => f.type === 'message_request' && f.conversation_id === conv, 'message_request frame');
    await a.next((f) => f.type === 'message' && f.message.seq === 2, "alice's own copy");
    expect(b.frames.some((f) => f.type === 'message' || f.type === 'conversation_created')).toBe(false);
    expect((await inbox(bob)).items.map((c: any) => c.id)).not.toContain(conv);
    const requests = (await h.api('GET', '/api/v1/conversations/requests', { token: bob.token })).body;
    expect(requests.items).toHaveLength(1);
    expect(requests.items[0]).toMatchObject({ id: conv, status: 'request', peer_id: alice.id, last_message: { seq: 2, text: 'second', sender_id: alice.id } });
    // The outbox says it is a request: notification must not push it as a normal conversation.
    const events = (await h.outboxEvents('MessageCreated')).filter((e) => e.data.conversation_id === conv);
    expect(events.map((e) => [e.data.recipient_ids, e.data.offline_recipient_ids, e.data.request_recipient_ids])).toEqual([
      [[], [], [bob.id]],
      [[], [], [bob.id]],
    ]);
    // Bob may read the request to decide, not write to it, mark it read or type in it.
    expect((await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: bob.token })).body.items.map((m: any) => m.text)).toEqual(['second', 'hi, we met at the conference']);
    const refused = await send(bob, conv, { text: 'can I?' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details.reason).toBe('message_request');
    expect((await h.api('POST', `/api/v1/conversations/${conv}/read`, { token: bob.token, body: { seq: 2 } })).status).toBe(409);

    // Accepting makes it a normal conversation for both.
    const accepted = await h.api('POST', `/api/v1/conversations/requests/${conv}/accept`, { token: bob.token });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ status: 'active', unread_count: 2 });
    await a.next((f) => f.type === 'request_accepted' && f.user_id === bob.id, 'request_accepted');
    expect((await inbox(bob)).items.map((c: any) => c.id)).toContain(conv);
    expect((await h.api('GET', '/api/v1/conversations/requests', { token: bob.token })).body.items).toEqual([]);
    const third = (await send(alice, conv, { text: 'thanks' })).body;
    await b.next((f) => f.type === 'message' && f.message.id === third.id, 'a normal message after accepting');
    expect((await send(bob, conv, { text: 'sure' })).status).toBe(201);
    expect((await h.api('POST', `/api/v1/conversations/requests/${conv}/accept`, { token: bob.token })).status).toBe(404);
    a.close();
    b.close();
  });

  it('message requests: deleting one hides it from the recipient; a later message from the sender is a new request showing only what came after', async () => {
    const [alice, carol] = [await h.newUser(), await h.newUser()];
    await h.settings(carol, { who_can_message: 'followers' });
    const conv = await open(alice, carol);
    await send(alice, conv, { text: 'buy my course' });
    expect((await h.api('DELETE', `/api/v1/conversations/requests/${conv}`, { token: carol.token })).status).toBe(204);
    expect((await h.api('GET', '/api/v1/conversations/requests', { token: carol.token })).body.items).toEqual([]);
    expect((await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: carol.token })).status).toBe(404);
    // Alice is not told: her side is unchanged, she can write again.
    expect((await h.api('GET', `/api/v1/conversations/${conv}`, { token: alice.token })).status).toBe(200);
    await send(alice, conv, { text: 'really, a good course' });
    const again = (await h.api('GET', '/api/v1/conversations/requests', { token: carol.token })).body.items;
    expect(again.map((c: any) => c.id)).toEqual([conv]);
    expect((await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: carol.token })).body.items.map((m: any) => m.text)).toEqual(['really, a good course']);
    // A block forbids it entirely, request or not.
    await h.block(carol, alice);
    expect((await send(alice, conv, { text: 'hello?' })).status).toBe(403);
    const dave = await h.newUser();
    await h.block(dave, alice);
    expect((await direct(alice, dave)).status).toBe(403);
  });

  it('message requests: the sender cannot tell from the members\' positions that the recipient deleted the request', async () => {
    const [alice, carol] = [await h.newUser(), await h.newUser()];
    await h.settings(carol, { who_can_message: 'nobody' });
    const conv = await open(alice, carol);
    await send(alice, conv, { text: 'one' });
    await send(alice, conv, { text: 'two' });
    const carolSeen = async () => (await h.api('GET', `/api/v1/conversations/${conv}`, { token: alice.token })).body.members.find((m: any) => m.user_id === carol.id);
    const before = await carolSeen();
    expect(before).toMatchObject({ last_read_seq: 0, last_delivered_seq: 0 });
    expect((await h.api('DELETE', `/api/v1/conversations/requests/${conv}`, { token: carol.token })).status).toBe(204);
    expect(await carolSeen()).toEqual(before);
    await send(alice, conv, { text: 'three' });
    expect(await carolSeen()).toEqual(before);
  });

  it('inbox: ordered by last activity with unread counts and the last message; per-member mute and archive', async () => {
    const [alice, bob, carol] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const ab = await open(alice, bob);
    const ac = await open(alice, carol);
    await send(bob, ab, { text: 'from bob' });
    await send(carol, ac, { text: 'from carol' });
    await send(carol, ac, { text: 'carol again' });
    let list = await inbox(alice);
    expect(list.items.map((c: any) => [c.id, c.unread_count, c.last_message?.text])).toEqual([
      [ac, 2, 'carol again'],
      [ab, 1, 'from bob'],
    ]);
    // Mute: a flag of alice's only; MessageCreated names her as muted, not as someone to push to.
    const muted = await h.api('PATCH', `/api/v1/conversations/${ab}/me`, { token: alice.token, body: { muted: true } });
    expect(muted.body).toMatchObject({ muted: true, archived: false });
    expect((await h.api('GET', `/api/v1/conversations/${ab}`, { token: bob.token })).body.muted).toBe(false);
    const m = (await send(bob, ab, { text: 'muted one' })).body;
    const ev = (await h.outboxEvents('MessageCreated')).find((e) => e.data.message_id === m.id)!;
    expect(ev.data).toMatchObject({ recipient_ids: [alice.id], muted_recipient_ids: [alice.id], offline_recipient_ids: [] });
    // Archive: out of the default list, in ?archived=true; a new message does not bring it back.
    await h.api('PATCH', `/api/v1/conversations/${ac}/me`, { token: alice.token, body: { archived: true } });
    await send(carol, ac, { text: 'still archived' });
    list = await inbox(alice);
    expect(list.items.map((c: any) => c.id)).toEqual([ab]);
    expect((await inbox(alice, '?archived=true')).items.map((c: any) => [c.id, c.last_message.text])).toEqual([[ac, 'still archived']]);
    await h.api('PATCH', `/api/v1/conversations/${ac}/me`, { token: alice.token, body: { archived: false } });
    expect((await inbox(alice)).items.map((c: any) => c.id)).toEqual([ac, ab]);
    expect((await h.api('PATCH', `/api/v1/conversations/${ac}/me`, { token: alice.token, body: {} })).status).toBe(400);
  });

  it('MessageCreated goes through the outbox with the offline members, for push', async () => {
    const [alice, bob, carol] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const g = (await h.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'group', name: 'g', member_ids: [bob.id, carol.id] } })).body.id;
    const b = await h.connect(bob);
    await eventually(async () => {
      const m = (await send(alice, g, { text: `ping ${Math.random()}` })).body;
      const ev = (await h.outboxEvents('MessageCreated')).find((e) => e.data.message_id === m.id)!;
      return JSON.stringify(ev.data.offline_recipient_ids) === JSON.stringify([carol.id]);
    }, 'bob online, carol offline');
    const m = (await send(alice, g, { text: 'secret words' })).body;
    const ev = (await h.outboxEvents('MessageCreated')).find((e) => e.data.message_id === m.id)!;
    expect(ev).toMatchObject({ type: 'MessageCreated', source: 'messaging' });
    expect([...ev.data.recipient_ids].sort()).toEqual([bob.id, carol.id].sort());
    expect(JSON.stringify(ev)).not.toContain('secret words');
    b.close();
  });

  it('messages carry text (at most 8000 characters) and/or media ids; edits keep their history (24 h window); delete-for-me any time', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const media = [newId(), newId()];
    const photo = await send(alice, conv, { media_ids: media });
    expect(photo.status).toBe(201);
    expect(photo.body).toMatchObject({ text: null, media_ids: media });
    expect((await send(alice, conv, {})).status).toBe(400);
    expect((await send(alice, conv, { media_ids: Array.from({ length: 11 }, () => newId()) })).status).toBe(400);
    await send(alice, conv, { text: 'first draft', client_message_id: 'd-1' });
    for (const t of ['second draft', 'final']) expect((await h.api('PATCH', `/api/v1/conversations/${conv}/messages/2`, { token: alice.token, body: { text: t } })).status).toBe(200);
    const history = (await h.api('GET', `/api/v1/conversations/${conv}/messages/2/edits`, { token: bob.token })).body.items;
    expect(history.map((v: any) => [v.text, v.replaced_at === null])).toEqual([
      ['first draft', false],
      ['second draft', false],
      ['final', true],
    ]);
    // History is sealed at rest like bodies.
    const kept = await h.db.selectFrom('message_edits').select(['body_sealed']).execute();
    expect(JSON.stringify(kept)).not.toContain('draft');
    // 24 h: a message sent 25 h ago cannot be edited.
    await h.db.updateTable('messages').set({ created_at: new Date(Date.now() - 25 * 3600_000) }).where('conversation_id', '=', conv).where('seq', '=', '1').execute();
    const late = await h.api('PATCH', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token, body: { text: 'caption' } });
    expect(late.status).toBe(409);
    expect(late.body.error.details.reason).toBe('edit_window_passed');

    // Delete for me: gone from bob's history and inbox only, any time (even 25 h later), and his other devices hear of it.
    const b2 = await h.connect(bob);
    expect((await h.api('DELETE', `/api/v1/conversations/${conv}/messages/1?for=me`, { token: bob.token })).status).toBe(204);
    await b2.next((f) => f.type === 'message_hidden' && f.seq === 1, 'message_hidden');
    expect((await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: bob.token })).body.items.map((m: any) => m.seq)).toEqual([2]);
    expect((await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: alice.token })).body.items.map((m: any) => m.seq)).toEqual([2, 1]);
    expect((await h.api('DELETE', `/api/v1/conversations/${conv}/messages/2?for=me`, { token: bob.token })).status).toBe(204);
    expect((await inbox(bob)).items.find((c: any) => c.id === conv).last_message).toBeNull();
    b2.close();
  });

  it('recall: for everyone within 1 h, leaving a tombstone (text, media and edit history erased); after that only delete-for-me', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    await send(alice, conv, { text: 'oops', media_ids: [newId()] });
    await h.api('PATCH', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token, body: { text: 'oops!' } });
    await send(alice, conv, { text: 'old news' });
    expect((await h.api('DELETE', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token })).status).toBe(204);
    const [, tomb] = (await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: bob.token })).body.items;
    expect(tomb).toMatchObject({ seq: 1, recalled: true, text: null, media_ids: [] });
    expect((await h.api('GET', `/api/v1/conversations/${conv}/messages/1/edits`, { token: bob.token })).body.items).toEqual([{ text: null, media_ids: [], written_at: expect.any(String), replaced_at: null }]);
    const row = await h.db.selectFrom('messages').select(['deleted_at', 'deleted_by']).where('conversation_id', '=', conv).where('seq', '=', '1').executeTakeFirstOrThrow();
    expect(row.deleted_by).toBe(alice.id);
    await h.db.updateTable('messages').set({ created_at: new Date(Date.now() - 61 * 60_000) }).where('conversation_id', '=', conv).where('seq', '=', '2').execute();
    const late = await h.api('DELETE', `/api/v1/conversations/${conv}/messages/2`, { token: alice.token });
    expect(late.status).toBe(409);
    expect(late.body.error.details.reason).toBe('recall_window_passed');
    expect((await h.api('DELETE', `/api/v1/conversations/${conv}/messages/2?for=me`, { token: alice.token })).status).toBe(204);
  });

  it('a removed member sees nothing after removal: no frames, 404 on history, resume, search, read and send', async () => {
    const [owner, a, b] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const g = (await h.api('POST', '/api/v1/conversations', { token: owner.token, body: { type: 'group', name: 'club', member_ids: [a.id, b.id] } })).body.id;
    await send(owner, g, { text: 'before removal' });
    const bs = await h.connect(b);
    expect((await h.api('DELETE', `/api/v1/conversations/${g}/members/${b.id}`, { token: owner.token })).status).toBe(204);
    await bs.next((f) => f.type === 'member_left' && f.user_id === b.id, 'member_left');
    const after = (await send(owner, g, { text: 'after removal' })).body;
    await h.api('PUT', `/api/v1/conversations/${g}/messages/1/reactions/${encodeURIComponent('👍')}`, { token: a.token });
    await h.api('PATCH', `/api/v1/conversations/${g}/messages/1`, { token: owner.token, body: { text: 'edited after removal' } });
    // A socket of someone still in the group sees these, so b would have had them by now.
    const as = await h.connect(a);
    as.send({ type: 'resume', ref: 'r', conversations: [{ conversation_id: g, after_seq: 0 }] });
    await as.next((f) => f.type === 'resumed', 'resumed');
    await new Promise((r) => setTimeout(r, 300));
    expect(bs.frames.filter((f) => ['message', 'reaction', 'message_edited'].includes(f.type))).toEqual([]);
    for (const [method, path, body] of [
      ['GET', `/api/v1/conversations/${g}`, undefined],
      ['GET', `/api/v1/conversations/${g}/messages`, undefined],
      ['GET', `/api/v1/conversations/${g}/messages/2/edits`, undefined],
      ['GET', `/api/v1/conversations/search?q=removal&conversation_id=${g}`, undefined],
      ['POST', `/api/v1/conversations/${g}/messages`, { text: 'let me back' }],
      ['POST', `/api/v1/conversations/${g}/read`, { seq: 2 }],
      ['DELETE', `/api/v1/conversations/${g}/messages/1?for=me`, undefined],
    ] as const) {
      expect((await h.api(method, path, { token: b.token, ...(body ? { body } : {}) })).status, `${method} ${path}`).toBe(404);
    }
    expect((await h.api('GET', '/api/v1/conversations/search?q=removal', { token: b.token })).body.items).toEqual([]);
    bs.send({ type: 'resume', ref: 'x', conversations: [{ conversation_id: g, after_seq: 0 }] });
    expect(await bs.next((f) => f.type === 'error' && f.ref === 'x', 'resume refused')).toMatchObject({ code: 'NOT_FOUND' });
    expect(bs.frames.some((f) => f.type === 'message' && f.message?.id === after.id)).toBe(false);
    as.close();
    bs.close();
  });

  it('groups: up to 256 members by default; the last owner leaving hands ownership on', async () => {
    const [owner, admin, member] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const g = (await h.api('POST', '/api/v1/conversations', { token: owner.token, body: { type: 'group', name: 'big', member_ids: [admin.id, member.id] } })).body.id;
    // 3 + 254 = 257: one too many (refused on the size alone, before the ids are looked up).
    const tooMany = await h.api('POST', `/api/v1/conversations/${g}/members`, { token: owner.token, body: { user_ids: Array.from({ length: 254 }, () => newId()) } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details).toEqual({ field: 'user_ids', max: 256 });
    // 3 + 253 = 256 fits the size: these ids are then refused only because no such users exist.
    expect((await h.api('POST', `/api/v1/conversations/${g}/members`, { token: owner.token, body: { user_ids: Array.from({ length: 253 }, () => newId()) } })).status).toBe(404);
    const create = await h.api('POST', '/api/v1/conversations', { token: owner.token, body: { type: 'group', name: 'huge', member_ids: Array.from({ length: 256 }, () => newId()) } });
    expect(create.status).toBe(400);
    expect(create.body.error.details.max).toBe(256);
    await h.api('PATCH', `/api/v1/conversations/${g}/members/${admin.id}`, { token: owner.token, body: { role: 'admin' } });
    expect((await h.api('DELETE', `/api/v1/conversations/${g}/members/${owner.id}`, { token: owner.token })).status).toBe(204);
    const members = (await h.api('GET', `/api/v1/conversations/${g}`, { token: member.token })).body.members;
    expect(members.map((m: any) => [m.user_id, m.role]).sort()).toEqual([[admin.id, 'owner'], [member.id, 'member']].sort());
    expect((await h.api('DELETE', `/api/v1/conversations/${g}/members/${admin.id}`, { token: admin.token })).status).toBe(204);
    expect((await h.api('GET', `/api/v1/conversations/${g}`, { token: member.token })).body.members).toEqual([expect.objectContaining({ user_id: member.id, role: 'owner' })]);
  });

  it("UserDeleted: the account leaves its conversations and its past messages show a deleted account", async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    await send(bob, conv, { text: 'bye' });
    await h.publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: bob.id, data: { user_id: bob.id } });
    await eventually(async () => (await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: alice.token })).body.items[0]?.sender_deleted === true, 'sender shown as deleted');
    const [m] = (await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: alice.token })).body.items;
    expect(m).toMatchObject({ text: 'bye', sender_id: bob.id, sender_deleted: true });
    expect((await h.api('GET', `/api/v1/conversations/${conv}`, { token: alice.token })).body.members.map((x: any) => x.user_id)).toEqual([alice.id]);
    expect((await send(alice, conv, { text: 'hello?' })).status).toBe(403);
  });

  it('identity comes only from the verified token: a sender in the body is refused, identity headers are ignored', async () => {
    const [alice, bob, mallory] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    expect((await send(mallory, conv, { text: 'as alice', sender_id: alice.id })).status).toBe(400);
    const spoof = await h.api('POST', `/api/v1/conversations/${conv}/messages`, { token: mallory.token, body: { text: 'as alice' }, headers: { 'x-user-id': alice.id, 'x-nova-user-id': alice.id } });
    expect(spoof.status).toBe(404);
    expect((await h.api('POST', `/api/v1/conversations/${conv}/messages`, { body: { text: 'anonymous' }, headers: { 'x-user-id': alice.id } })).status).toBe(401);
    expect((await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: alice.token })).body.items).toEqual([]);
  });

  it('schema foreign keys are ON DELETE RESTRICT: a hard delete of something still referenced fails', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const m = (await send(alice, conv, { text: 'kept' })).body;
    await h.api('PUT', `/api/v1/conversations/${conv}/messages/1/reactions/${encodeURIComponent('👍')}`, { token: bob.token });
    await h.api('PATCH', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token, body: { text: 'kept!' } });
    await h.api('DELETE', `/api/v1/conversations/${conv}/messages/1?for=me`, { token: bob.token });
    const { rows } = await sql<{ t: string; rule: string }>`
      SELECT c.conrelid::regclass::text AS t, c.confdeltype AS rule FROM pg_constraint c
      WHERE c.contype = 'f' AND c.connamespace = 'messaging'::regnamespace`.execute(h.db);
    expect(rows.length).toBeGreaterThanOrEqual(6);
    expect(rows.filter((r) => r.rule !== 'r')).toEqual([]);
    await expect(sql`DELETE FROM messaging.messages WHERE id = ${m.id}`.execute(h.db)).rejects.toMatchObject({ code: '23503' });
    await expect(sql`DELETE FROM messaging.conversations WHERE id = ${conv}`.execute(h.db)).rejects.toMatchObject({ code: '23503' });
  });
});
