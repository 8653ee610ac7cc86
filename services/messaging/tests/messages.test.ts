import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox, sql } from '@nova/platform';
import { startMessagingService, type MessagingHarness, type TestUser } from './support.js';

describe('messages', () => {
  let h: MessagingHarness;
  beforeAll(async () => {
    h = await startMessagingService({ MESSAGING_EDIT_WINDOW_SECONDS: '600' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const open = async (a: TestUser, b: TestUser) => (await h.api('POST', '/api/v1/conversations', { token: a.token, body: { type: 'direct', user_id: b.id } })).body.id as string;
  const send = (u: TestUser, conv: string, body: Record<string, unknown>) => h.api('POST', `/api/v1/conversations/${conv}/messages`, { token: u.token, body });

  it('sends and lists messages newest first or after a position; non-members get 404 everywhere', async () => {
    const [alice, bob, eve] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const first = await send(alice, conv, { text: 'hello bob' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ conversation_id: conv, seq: 1, sender_id: alice.id, kind: 'user', sender_deleted: false, system_sender: null, text: 'hello bob', media_ids: [], client_message_id: null, recalled: false, edited_at: null, reply_to_seq: null, reactions: [] });
    const reply = await send(bob, conv, { text: 'hi alice', reply_to: 1 });
    expect(reply.body).toMatchObject({ seq: 2, reply_to_seq: 1 });
    await send(alice, conv, { text: 'third' });

    const newest = await h.api('GET', `/api/v1/conversations/${conv}/messages?limit=2`, { token: bob.token });
    expect(newest.body.items.map((m: any) => m.seq)).toEqual([3, 2]);
    expect(newest.body.has_more).toBe(true);
    const older = await h.api('GET', `/api/v1/conversations/${conv}/messages?limit=2&before_seq=2`, { token: bob.token });
    expect(older.body).toMatchObject({ has_more: false });
    expect(older.body.items.map((m: any) => m.text)).toEqual(['hello bob']);
    const after = await h.api('GET', `/api/v1/conversations/${conv}/messages?after_seq=1`, { token: alice.token });
    expect(after.body.items.map((m: any) => m.seq)).toEqual([2, 3]);
    expect((await h.api('GET', `/api/v1/conversations/${conv}/messages?after_seq=1&before_seq=3`, { token: alice.token })).status).toBe(400);
    expect((await send(alice, conv, { text: 'x', reply_to: 99 })).status).toBe(404);
    expect((await send(alice, conv, { text: '   ' })).status).toBe(400);
    expect((await send(alice, conv, { text: 'x'.repeat(8001) })).status).toBe(400);
    expect((await send(alice, conv, { text: 'x'.repeat(8000) })).status).toBe(201);

    for (const [method, path, body] of [
      ['GET', `/api/v1/conversations/${conv}/messages`, undefined],
      ['POST', `/api/v1/conversations/${conv}/messages`, { text: 'let me in' }],
      ['PATCH', `/api/v1/conversations/${conv}/messages/1`, { text: 'mine now' }],
      ['DELETE', `/api/v1/conversations/${conv}/messages/1`, undefined],
      ['PUT', `/api/v1/conversations/${conv}/messages/1/reactions/${encodeURIComponent('👍')}`, undefined],
      ['POST', `/api/v1/conversations/${conv}/read`, { seq: 1 }],
      ['GET', `/api/v1/conversations/search?q=hello&conversation_id=${conv}`, undefined],
    ] as const) {
      const res = await h.api(method, path, { token: eve.token, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
  });

  it('numbers messages 1..n without gaps or repeats under concurrent senders', async () => {
    const [a, b, c] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const g = (await h.api('POST', '/api/v1/conversations', { token: a.token, body: { type: 'group', name: 'race', member_ids: [b.id, c.id] } })).body.id;
    const sends = [a, b, c].flatMap((u) => Array.from({ length: 15 }, (_, i) => send(u, g, { text: `${u.username} ${i}` })));
    const results = await Promise.all(sends);
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(results.map((r) => r.body.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
    const rows = await h.db.selectFrom('messages').select('seq').where('conversation_id', '=', g).orderBy('seq').execute();
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
    const events = (await h.outboxEvents('MessageCreated')).filter((e) => e.data.conversation_id === g);
    expect(events).toHaveLength(45);
    // Events never carry the text.
    expect(JSON.stringify(events)).not.toContain(a.username);
  });

  it('a client_message_id makes a retry return the first message, also when both arrive at once', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const [x, y] = await Promise.all([send(alice, conv, { text: 'once', client_message_id: 'c-1' }), send(alice, conv, { text: 'once', client_message_id: 'c-1' })]);
    expect([x.status, y.status].sort()).toEqual([200, 201]);
    expect(x.body.id).toBe(y.body.id);
    const z = await send(alice, conv, { text: 'different body, same id', client_message_id: 'c-1' });
    expect(z.status).toBe(200);
    expect(z.body).toMatchObject({ id: x.body.id, text: 'once', client_message_id: 'c-1' });
    // Bob may use the same client_message_id for his own message.
    expect((await send(bob, conv, { text: 'mine', client_message_id: 'c-1' })).status).toBe(201);
    const next = await send(alice, conv, { text: 'next' });
    expect(next.body.seq).toBe(3);
  });

  it('stores bodies encrypted (AES-256-GCM, key id per row) and search terms as keyed hashes, never the text', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const sent = (await send(alice, conv, { text: 'the treasure is under the old lighthouse' })).body;
    const row = await h.db.selectFrom('messages').selectAll().where('id', '=', sent.id).executeTakeFirstOrThrow();
    expect(row.body_sealed).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(row.body_key_id).toBe(row.body_sealed!.split('.')[1]);
    const { rows } = await sql<{ dump: string }>`SELECT row_to_json(m)::text AS dump FROM messaging.messages m WHERE id = ${sent.id}`.execute(h.db);
    expect(rows[0]!.dump).not.toMatch(/treasure|lighthouse/);
    expect(row.search_terms.length).toBe(6);
  });

  it('searches whole words in the caller\'s own conversations only, newest first, page by page', async () => {
    const [alice, bob, carol] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const ab = await open(alice, bob);
    const bc = await open(bob, carol);
    await send(alice, ab, { text: 'Pizza tonight?' });
    await send(bob, ab, { text: 'pizza, sure. Margherita!' });
    await send(bob, bc, { text: 'pizza with alice tonight' });
    await send(alice, ab, { text: 'pizzas are great' });
    const found = await h.api('GET', `/api/v1/conversations/search?q=${encodeURIComponent('PIZZA')}&limit=1`, { token: alice.token });
    expect(found.status).toBe(200);
    expect(found.body.items.map((m: any) => m.text)).toEqual(['pizza, sure. Margherita!']);
    const rest = await h.api('GET', `/api/v1/conversations/search?q=pizza&limit=5&cursor=${found.body.next_cursor}`, { token: alice.token });
    expect(rest.body.items.map((m: any) => m.text)).toEqual(['Pizza tonight?']);
    expect(rest.body.next_cursor).toBeNull();
    expect((await h.api('GET', '/api/v1/conversations/search?q=pizza%20tonight', { token: bob.token })).body.items.map((m: any) => m.conversation_id).sort()).toEqual([ab, bc].sort());
    expect((await h.api('GET', `/api/v1/conversations/search?q=pizza&conversation_id=${bc}`, { token: carol.token })).body.items).toHaveLength(1);
    expect((await h.api('GET', '/api/v1/conversations/search?q=%20!!%20', { token: bob.token })).status).toBe(400);
  });

  it('search runs on PostgreSQL full text: a GIN-indexed tsvector of the keyed word hashes, queried with tsquery; hidden messages and e2ee conversations excluded', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    const sent = (await send(alice, conv, { text: 'Lighthouse keeper, lighthouse!' })).body;
    await send(alice, conv, { text: 'the lighthouse again' });
    const { rows } = await sql<{ v: string; t: string[] }>`SELECT search_vector::text AS v, search_terms AS t FROM messaging.messages WHERE id = ${sent.id}`.execute(h.db);
    // Two distinct words, two lexemes: the hashes, never the words.
    expect(rows[0]!.v.split(' ').sort()).toEqual(rows[0]!.t.map((x) => `'${x}'`).sort());
    expect(rows[0]!.v).not.toMatch(/lighthouse|keeper/i);
    const { rows: idx } = await sql<{ def: string }>`SELECT indexdef AS def FROM pg_indexes WHERE schemaname = 'messaging' AND indexname = 'messages_search_idx'`.execute(h.db);
    expect(idx[0]!.def).toMatch(/USING gin \(search_vector\)/);
    const plan = await h.db.transaction().execute(async (tx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(tx);
      const term = rows[0]!.t[0]!;
      const { rows: p } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN SELECT id FROM messaging.messages WHERE deleted_at IS NULL AND search_vector @@ ${`'${term}'`}::tsquery`.execute(tx);
      return p.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('messages_search_idx');
    const search = async (q: string) => (await h.api('GET', `/api/v1/conversations/search?q=${encodeURIComponent(q)}`, { token: bob.token })).body.items.map((m: any) => m.text);
    expect(await search('lighthouse KEEPER')).toEqual(['Lighthouse keeper, lighthouse!']);
    expect(await search('lighthouse')).toHaveLength(2);
    await h.api('DELETE', `/api/v1/conversations/${conv}/messages/2?for=me`, { token: bob.token });
    expect(await search('lighthouse')).toEqual(['Lighthouse keeper, lighthouse!']);
    await h.db.updateTable('conversations').set({ mode: 'e2ee' }).where('id', '=', conv).execute();
    expect(await search('lighthouse')).toEqual([]);
  });

  it('edits: sender only, keeps the seq, marks edited_at; recall erases text and search terms, leaving a tombstone', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    await send(alice, conv, { text: 'meet at noon' });
    expect((await h.api('PATCH', `/api/v1/conversations/${conv}/messages/1`, { token: bob.token, body: { text: 'hacked' } })).status).toBe(403);
    const edited = await h.api('PATCH', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token, body: { text: 'meet at one' } });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ seq: 1, text: 'meet at one' });
    expect(edited.body.edited_at).not.toBeNull();
    expect((await h.api('GET', `/api/v1/conversations/search?q=noon&conversation_id=${conv}`, { token: bob.token })).body.items).toEqual([]);
    expect((await h.api('GET', `/api/v1/conversations/search?q=one&conversation_id=${conv}`, { token: bob.token })).body.items).toHaveLength(1);

    expect((await h.api('DELETE', `/api/v1/conversations/${conv}/messages/1`, { token: bob.token })).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token })).status).toBe(204);
    const list = await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: bob.token });
    expect(list.body.items).toEqual([expect.objectContaining({ seq: 1, text: null, recalled: true })]);
    expect((await h.api('GET', `/api/v1/conversations/search?q=one&conversation_id=${conv}`, { token: bob.token })).body.items).toEqual([]);
    const row = await h.db.selectFrom('messages').selectAll().where('conversation_id', '=', conv).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ body_sealed: null, body_key_id: null, search_terms: [], deleted_by: alice.id });
    expect((await h.api('PATCH', `/api/v1/conversations/${conv}/messages/1`, { token: alice.token, body: { text: 'back' } })).status).toBe(409);
    expect((await h.outboxEvents('MessageRecalled')).filter((e) => e.data.conversation_id === conv)).toHaveLength(1);
  });

  it('reactions: one emoji per member per message — add, change, remove; idempotent; shown per emoji with who reacted', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    await send(alice, conv, { text: 'news' });
    const path = (e: string) => `/api/v1/conversations/${conv}/messages/1/reactions/${encodeURIComponent(e)}`;
    const reactions = async () => (await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: alice.token })).body.items[0].reactions;
    expect((await h.api('PUT', path('👍'), { token: bob.token })).status).toBe(204);
    expect((await h.api('PUT', path('👍'), { token: bob.token })).status).toBe(204);
    expect((await h.api('PUT', path('👍'), { token: alice.token })).status).toBe(204);
    for (const bad of ['a', '👍👍', '1', 'ok👍']) expect((await h.api('PUT', path(bad), { token: bob.token })).status, bad).toBe(400);
    expect(await reactions()).toEqual([{ emoji: '👍', count: 2, user_ids: [bob.id, alice.id] }]);
    // Change: alice's one reaction becomes the flag; she no longer counts for 👍.
    expect((await h.api('PUT', path('🏳️‍🌈'), { token: alice.token })).status).toBe(204);
    expect(await reactions()).toEqual([
      { emoji: '👍', count: 1, user_ids: [bob.id] },
      { emoji: '🏳️‍🌈', count: 1, user_ids: [alice.id] },
    ]);
    // Removing an emoji that is not yours changes nothing; removing yours takes it away.
    expect((await h.api('DELETE', path('👍'), { token: alice.token })).status).toBe(204);
    expect((await h.api('DELETE', path('👍'), { token: bob.token })).status).toBe(204);
    expect((await h.api('DELETE', path('👍'), { token: bob.token })).status).toBe(204);
    expect(await reactions()).toEqual([{ emoji: '🏳️‍🌈', count: 1, user_ids: [alice.id] }]);
    expect(await h.db.selectFrom('reactions').select('user_id').execute().then((r) => r.filter((x) => x.user_id === alice.id).length)).toBe(1);
  });

  it('read positions: unread counts, never backwards or past the end; hidden from others when read receipts are off', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    for (const t of ['1', '2', '3']) await send(alice, conv, { text: t });
    expect((await h.api('GET', `/api/v1/conversations/${conv}`, { token: bob.token })).body.unread_count).toBe(3);
    expect((await h.api('POST', `/api/v1/conversations/${conv}/read`, { token: bob.token, body: { seq: 2 } })).body).toEqual({ last_read_seq: 2, last_delivered_seq: 2 });
    expect((await h.api('POST', `/api/v1/conversations/${conv}/read`, { token: bob.token, body: { seq: 1 } })).body.last_read_seq).toBe(2);
    expect((await h.api('POST', `/api/v1/conversations/${conv}/read`, { token: bob.token, body: { seq: 99 } })).body.last_read_seq).toBe(3);
    expect((await h.api('GET', `/api/v1/conversations/${conv}`, { token: bob.token })).body.unread_count).toBe(0);
    const members = async () => (await h.api('GET', `/api/v1/conversations/${conv}`, { token: alice.token })).body.members.find((m: any) => m.user_id === bob.id);
    expect(await members()).toMatchObject({ last_read_seq: 3, last_delivered_seq: 3 });
    await h.settings(bob, { privacy: { read_receipts: false } });
    expect(await members()).toMatchObject({ last_read_seq: null, last_delivered_seq: 3 });
    expect((await h.api('GET', `/api/v1/conversations/${conv}`, { token: bob.token })).body.members.find((m: any) => m.user_id === bob.id).last_read_seq).toBe(3);
  });

  it('an e2ee conversation refuses server-readable messages (409 e2ee_conversation: send envelopes), not silently', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = await open(alice, bob);
    await h.db.updateTable('conversations').set({ mode: 'e2ee' }).where('id', '=', conv).execute();
    const res = await send(alice, conv, { text: 'plain text into an e2ee conversation' });
    expect(res.status).toBe(409);
    expect(res.body.error.details.reason).toBe('e2ee_conversation');
    expect(await h.db.selectFrom('messages').select('id').where('conversation_id', '=', conv).execute()).toEqual([]);
    expect((await h.api('GET', `/api/v1/conversations/${conv}`, { token: bob.token })).body.mode).toBe('e2ee');
  });

  it('blocked users cannot message (a block stops a direct conversation both ways); a later setting change does not close an existing conversation', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const ab = await open(alice, bob);
    await send(bob, ab, { text: 'hey' });
    await h.settings(bob, { who_can_message: 'nobody' });
    expect((await send(alice, ab, { text: 'replying is fine' })).status).toBe(201);
    await h.block(alice, bob);
    const refused = await send(alice, ab, { text: 'blocked' });
    expect(refused.status).toBe(403);
    expect((await send(bob, ab, { text: 'blocked too' })).status).toBe(403);
    // Reading the history stays possible.
    expect((await h.api('GET', `/api/v1/conversations/${ab}/messages`, { token: alice.token })).status).toBe(200);
  });
});

describe('message key rotation', () => {
  it('reads bodies sealed with the previous key and re-seals them under the new one in the background', async () => {
    const oldKey = Buffer.alloc(32, 7).toString('base64');
    const first = await startMessagingService({ MESSAGING_ENCRYPTION_KEY: oldKey });
    let alice: TestUser, bob: TestUser, conv: string;
    try {
      [alice, bob] = [await first.newUser(), await first.newUser()];
      conv = (await first.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'direct', user_id: bob.id } })).body.id;
      for (const t of ['alpha secret', 'beta draft']) await first.api('POST', `/api/v1/conversations/${conv}/messages`, { token: alice.token, body: { text: t } });
      // An edit keeps the replaced version, sealed too: it must be re-sealed with the bodies.
      await first.api('PATCH', `/api/v1/conversations/${conv}/messages/2`, { token: alice.token, body: { text: 'beta secret' } });
      const oldId = new SecretBox(Buffer.from(oldKey, 'base64')).currentKeyId;
      const sealedWith = async () => [...new Set((await first.db.selectFrom('messages').select('body_key_id').where('conversation_id', '=', conv).execute()).map((r) => r.body_key_id))];
      expect(await sealedWith()).toEqual([oldId]);
      // The same database, Redis and NATS, restarted with a new key and the old one as previous.
      await first.platform.stop();
      const { runServices } = await import('@nova/platform');
      const { messagingService } = await import('../src/index.js');
      const { userService } = await import('@nova/user');
      const newKey = Buffer.alloc(32, 9).toString('base64');
      const second = await runServices({
        services: [messagingService, userService],
        env: first.env.env({ AUTH_JWKS_URL: first.issuer.jwksUrl, GRPC_ADDR_AUTH: '127.0.0.1:9', MESSAGING_ENCRYPTION_KEY: newKey, MESSAGING_ENCRYPTION_KEY_PREVIOUS: oldKey }),
      });
      try {
        const res = await fetch(`http://127.0.0.1:${second.httpPort}/api/v1/conversations/${conv}/messages?after_seq=0`, { headers: { authorization: `Bearer ${bob.token}` } });
        expect(((await res.json()) as any).items.map((m: any) => m.text)).toEqual(['alpha secret', 'beta secret']);
        const newId = new SecretBox(Buffer.from(newKey, 'base64')).currentKeyId;
        await expect.poll(sealedWith, { timeout: 15_000 }).toEqual([newId]);
        const editsSealedWith = async () => [...new Set((await first.db.selectFrom('message_edits').select('body_key_id').execute()).map((r) => r.body_key_id))];
        await expect.poll(editsSealedWith, { timeout: 15_000 }).toEqual([newId]);
        const history = await fetch(`http://127.0.0.1:${second.httpPort}/api/v1/conversations/${conv}/messages/2/edits`, { headers: { authorization: `Bearer ${bob.token}` } });
        expect(((await history.json()) as any).items.map((v: any) => v.text)).toEqual(['beta draft', 'beta secret']);
        const search = await fetch(`http://127.0.0.1:${second.httpPort}/api/v1/conversations/search?q=secret`, { headers: { authorization: `Bearer ${bob.token}` } });
        expect(((await search.json()) as any).items).toHaveLength(2);
      } finally {
        await second.stop();
      }
      // Started with a key that sealed nothing: reading fails loudly, and the answer leaks nothing.
      const third = await runServices({
        services: [messagingService, userService],
        env: first.env.env({ AUTH_JWKS_URL: first.issuer.jwksUrl, GRPC_ADDR_AUTH: '127.0.0.1:9', MESSAGING_ENCRYPTION_KEY: Buffer.alloc(32, 11).toString('base64') }),
      });
      try {
        const res = await fetch(`http://127.0.0.1:${third.httpPort}/api/v1/conversations/${conv}/messages`, { headers: { authorization: `Bearer ${bob.token}` } });
        expect(res.status).toBe(500);
        const body = (await res.json()) as any;
        expect(body.error).toMatchObject({ code: 'INTERNAL', message: 'internal error' });
        expect(JSON.stringify(body)).not.toMatch(/key|sealed|secret/i);
      } finally {
        await third.stop();
      }
    } finally {
      await first.stop();
    }
  });
});
