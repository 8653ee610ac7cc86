import { randomBytes } from 'node:crypto';
import { Fingerprint, IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client';
import { Redis } from 'ioredis';
import { sql } from '@nova/platform';
import { TEST_REDIS_URL, eventually } from '@nova/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertEnvelopes } from '../src/db/queries/e2ee.js';
import { MAX_SEND_ENVELOPES } from '../src/e2ee/envelopes.js';
import { SignalDevice } from './signal-client.js';
import { startMessagingService, type MessagingHarness, type TestUser } from './support.js';

/** The key server and the device queues, driven by real libsignal clients. */

let h: MessagingHarness;

beforeAll(async () => {
  h = await startMessagingService({ MESSAGING_E2EE_PURGE_INTERVAL_SECONDS: '1', MESSAGING_E2EE_MAX_ENVELOPE_KIB: '4' });
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const secret = (label: string) => `${label} ${randomBytes(8).toString('hex')}`;

async function e2ee(owner: TestUser, body: Record<string, unknown>): Promise<string> {
  const res = await h.api('POST', '/api/v1/conversations', { token: owner.token, body: { ...body, mode: 'e2ee' } });
  expect(res.status).toBe(201);
  return res.body.id;
}

describe('devices', () => {
  it('binds a device to the calling session: linked devices need the account identity key, at most 10, one per session', async () => {
    const u = await h.newUser();
    const primary = await SignalDevice.register(h, u.id, { connect: false });
    const again = await h.api('POST', '/api/v1/devices', { token: primary.token, body: { registration_id: 7, identity_key: b64(primary.identity.publicKey.serialize()), primary: false } });
    expect(again.status).toBe(409);
    expect(again.body.error.details.reason).toBe('session_has_device');
    const stranger = await h.api('POST', '/api/v1/devices', { token: await h.tokenFor(u.id), body: { registration_id: 7, identity_key: b64(IdentityKeyPair.generate().publicKey.serialize()), primary: false } });
    expect(stranger.body.error.details.reason).toBe('identity_mismatch');
    const linked: SignalDevice[] = [];
    for (let i = 0; i < 9; i++) linked.push(await SignalDevice.register(h, u.id, { identity: primary.identity, connect: false, oneTime: 0, kyber: 0 }));
    expect(linked.map((d) => d.deviceId)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const eleventh = await h.api('POST', '/api/v1/devices', { token: await h.tokenFor(u.id), body: { registration_id: 9, identity_key: b64(primary.identity.publicKey.serialize()), primary: false } });
    expect(eleventh.status).toBe(409);
    expect(eleventh.body.error.details.reason).toBe('too_many_devices');
    const list = await h.api('GET', '/api/v1/devices', { token: linked[0]!.token });
    expect(list.body.items).toHaveLength(10);
    expect(list.body.items.filter((d: { current: boolean }) => d.current).map((d: { device_id: number }) => d.device_id)).toEqual([2]);
    // A session without a device cannot act as one.
    const none = await h.api('GET', '/api/v1/keys/count', { token: await h.tokenFor(u.id) });
    expect(none.status).toBe(412);
    expect(none.body.error.details.reason).toBe('no_device');
  });
});

describe('key upload', () => {
  it('refuses a tampered signed prekey, a Kyber key signed by another identity, and keeps nothing of the refused upload', async () => {
    const u = await h.newUser();
    const d = await SignalDevice.register(h, u.id, { connect: false, oneTime: 2, kyber: 2 });
    const good = d.makeUpload(3, 3, true);
    const tampered = structuredClone(good) as any;
    const key = Buffer.from(tampered.signed_prekey.public_key, 'base64');
    key[10]! ^= 0x01;
    tampered.signed_prekey.public_key = key.toString('base64');
    const res = await h.api('PUT', '/api/v1/keys', { token: d.token, body: tampered });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toMatchObject({ field: 'signed_prekey', reason: 'bad_signature' });

    const forged = structuredClone(good) as any;
    const kp = KEMKeyPair.generate();
    forged.one_time_kyber_prekeys[1] = { key_id: 999, public_key: b64(kp.getPublicKey().serialize()), signature: b64(PrivateKey.generate().sign(kp.getPublicKey().serialize())) };
    const res2 = await h.api('PUT', '/api/v1/keys', { token: d.token, body: forged });
    expect(res2.status).toBe(400);
    expect(res2.body.error.details.field).toBe('one_time_kyber_prekeys[1]');
    // Nothing of either refused upload was stored: still the 2 + 2 of registration.
    expect((await h.api('GET', '/api/v1/keys/count', { token: d.token })).body).toEqual({ ec: 2, kyber: 2 });
    expect((await h.api('PUT', '/api/v1/keys', { token: d.token, body: good })).body).toEqual({ ec: 5, kyber: 5 });
    const tooMany = await h.api('PUT', '/api/v1/keys', { token: d.token, body: { one_time_prekeys: Array.from({ length: 101 }, (_, i) => ({ key_id: i, public_key: b64(PrivateKey.generate().getPublicKey().serialize()) })) } });
    expect(tooMany.status).toBe(400);
  });
});

describe('key upload limits', () => {
  const ecBatch = (from: number) => Array.from({ length: 100 }, (_, i) => ({ key_id: from + i, public_key: b64(PrivateKey.generate().getPublicKey().serialize()) }));

  it('caps the one-time prekeys a device keeps: uploads past MAX_ONE_TIME_PREKEYS are refused and store nothing', async () => {
    const u = await h.newUser();
    const d = await SignalDevice.register(h, u.id, { connect: false, oneTime: 0, kyber: 0 });
    for (let i = 0; i < 10; i++) expect((await h.api('PUT', '/api/v1/keys', { token: d.token, body: { one_time_prekeys: ecBatch(1_000 + i * 100) } })).status).toBe(200);
    const over = await h.api('PUT', '/api/v1/keys', { token: d.token, body: { one_time_prekeys: ecBatch(5_000) } });
    expect(over.status).toBe(400);
    expect(over.body.error.details).toMatchObject({ field: 'one_time_prekeys', reason: 'too_many_prekeys', max: 1_000 });
    expect((await h.api('GET', '/api/v1/keys/count', { token: d.token })).body).toEqual({ ec: 1_000, kyber: 0 });
    // Overwriting existing ids does not count twice.
    expect((await h.api('PUT', '/api/v1/keys', { token: d.token, body: { one_time_prekeys: ecBatch(1_000) } })).status).toBe(200);
  });

  it('an upload racing the removal of its device leaves no keys behind for the removed device', async () => {
    const u = await h.newUser();
    const primary = await SignalDevice.register(h, u.id, { connect: false, oneTime: 0, kyber: 0 });
    for (let round = 0; round < 8; round++) {
      const d = await SignalDevice.register(h, u.id, { identity: primary.identity, connect: false, oneTime: 0, kyber: 0 });
      await Promise.all([
        h.api('PUT', '/api/v1/keys', { token: d.token, body: { one_time_prekeys: ecBatch(0) } }),
        h.api('DELETE', `/api/v1/devices/${d.deviceId}`, { token: primary.token }),
      ]);
    }
    const { rows } = await sql<{ n: string }>`
      SELECT count(*) AS n FROM messaging.one_time_prekeys k JOIN messaging.devices d ON d.id = k.device
      WHERE d.user_id = ${u.id} AND d.removed_at IS NOT NULL`.execute(h.db);
    expect(Number(rows[0]!.n)).toBe(0);
  });
});

describe('bundles', () => {
  it('concurrent fetches never share a one-time key; exhaustion falls back to the last-resort Kyber key and the session still works', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const b1 = await SignalDevice.register(h, bob.id, { oneTime: 20, kyber: 20 });
    const fetchers = await Promise.all(Array.from({ length: 5 }, () => h.tokenFor(alice.id)));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => h.api('GET', `/api/v1/keys/${bob.id}`, { token: fetchers[i % 5] })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const ec = results.map((r) => r.body.devices[0].prekey.key_id);
    const kyber = results.map((r) => r.body.devices[0].kyber_prekey.key_id);
    expect(new Set(ec).size).toBe(20);
    expect(new Set(kyber).size).toBe(20);
    expect((await h.api('GET', '/api/v1/keys/count', { token: b1.token })).body).toEqual({ ec: 0, kyber: 0 });

    const exhausted = await h.api('GET', `/api/v1/keys/${bob.id}/1`, { token: alice.token });
    expect(exhausted.body.devices[0].prekey).toBeNull();
    expect(exhausted.body.devices[0].kyber_prekey.last_resort).toBe(true);

    // A PQXDH session on the last-resort key (and no one-time EC key) still carries messages both ways.
    const a1 = await SignalDevice.register(h, alice.id);
    const conv = await e2ee(alice, { type: 'direct', user_id: bob.id });
    const m = secret('over the last resort');
    await a1.send(conv, m, [alice.id, bob.id]);
    await b1.waitFor(m);
    expect(b1.kyberPreKeys.used.length).toBeGreaterThan(0);
    const back = secret('and back');
    await b1.send(conv, back, [alice.id, bob.id]);
    await a1.waitFor(back);
    a1.close();
    b1.close();
  });

  it('is rate limited per caller, and refused (503) when Redis cannot count: fail-closed', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    await SignalDevice.register(h, bob.id, { connect: false, oneTime: 0, kyber: 0 });
    const ok = await h.api('GET', `/api/v1/keys/${bob.id}`, { token: alice.token });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit-limit')).toBe('60');
    // Break Redis for this caller's counter only (a value of the wrong type: every command on it errors).
    const redis = new Redis(TEST_REDIS_URL);
    const key = `${h.env.redisKeyPrefix}rl:keys:u:${alice.id}`;
    await redis.del(key);
    await redis.set(key, 'not a sorted set');
    const refused = await h.api('GET', `/api/v1/keys/${bob.id}`, { token: alice.token });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('RATE_LIMITER_UNAVAILABLE');
    // The fail-open api preset still admits the same caller elsewhere.
    expect((await h.api('GET', '/api/v1/devices', { token: alice.token })).status).toBe(200);
    await redis.del(key);
    // Over the limit: 429.
    let last = 200;
    for (let i = 0; i < 61 && last === 200; i++) last = (await h.api('GET', `/api/v1/keys/${bob.id}`, { token: alice.token })).status;
    expect(last).toBe(429);
    redis.disconnect();
  });
});

describe('envelopes', () => {
  it('answers 409 with missing and extra devices, 410 for a re-registered device, and queues nothing for a refused send', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const a1 = await SignalDevice.register(h, alice.id, { connect: false });
    const b1 = await SignalDevice.register(h, bob.id, { connect: false });
    const b2 = await SignalDevice.register(h, bob.id, { identity: b1.identity, connect: false });
    const conv = await e2ee(alice, { type: 'direct', user_id: bob.id });
    await a1.startSessions(bob.id, 1);
    const partial = await h.api('POST', `/api/v1/conversations/${conv}/envelopes`, { token: a1.token, body: { envelopes: await a1.envelopesFor('x', [...a1.peers.values()]) } });
    expect(partial.status).toBe(409);
    expect(partial.body.error.details.missing).toEqual([{ user_id: bob.id, device_id: 2, registration_id: b2.registrationId }]);
    const extra = await h.api('POST', `/api/v1/conversations/${conv}/envelopes`, {
      token: a1.token,
      body: { envelopes: [...(await a1.envelopesFor('x', [...a1.peers.values()])), { user_id: bob.id, device_id: 2, registration_id: b2.registrationId, type: 3, content: 'AAAA' }, { user_id: alice.id, device_id: 5, registration_id: 1, type: 3, content: 'AAAA' }] },
    });
    expect(extra.status).toBe(409);
    expect(extra.body.error.details).toMatchObject({ missing: [], extra: [{ user_id: alice.id, device_id: 5 }] });

    // Bob reinstalls device 2: same device id, new registration id. Alice's session with it is stale.
    await a1.startSessions(bob.id, 2);
    await h.api('DELETE', '/api/v1/devices/2', { token: b1.token });
    const b2new = await SignalDevice.register(h, bob.id, { identity: b1.identity, connect: false });
    expect(b2new.deviceId).toBe(2);
    const stale = await h.api('POST', `/api/v1/conversations/${conv}/envelopes`, { token: a1.token, body: { envelopes: await a1.envelopesFor('x', [...a1.peers.values()]) } });
    expect(stale.status).toBe(410);
    expect(stale.body.error.details.stale).toEqual([{ user_id: bob.id, device_id: 2, registration_id: b2new.registrationId }]);
    expect(Number((await sql<{ n: string }>`SELECT count(*) AS n FROM messaging.envelopes WHERE conversation_id = ${conv}`.execute(h.db)).rows[0]!.n)).toBe(0);

    // The client restarts the stale session and the retry goes through; both of Bob's devices read it.
    const m = secret('after the reinstall');
    const sent = await a1.send(conv, m, [alice.id, bob.id]);
    expect(sent.attempts).toBe(2);
    expect(await b1.drainHttp()).toEqual([m]);
    expect(await b2new.drainHttp()).toEqual([m]);
  });

  it('a device added later receives what is sent after it registered; a removed device stops receiving and loses its queue', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const a1 = await SignalDevice.register(h, alice.id);
    const b1 = await SignalDevice.register(h, bob.id);
    const conv = await e2ee(alice, { type: 'direct', user_id: bob.id });
    const before = secret('before the new device');
    await a1.send(conv, before, [alice.id, bob.id]);
    await b1.waitFor(before);

    const b2 = await SignalDevice.register(h, bob.id, { identity: b1.identity });
    const after = secret('after the new device');
    const sent = await a1.send(conv, after, [alice.id, bob.id]);
    expect(sent.attempts).toBe(2);
    await b2.waitFor(after);
    await b1.waitFor(after);
    expect(b2.received.map((r) => r.plaintext)).toEqual([after]);

    // Bob removes device 2 (from device 1). Its queued envelope is deleted; senders learn it is gone.
    b2.close();
    const queued = secret('queued for device 2');
    await a1.send(conv, queued, [alice.id, bob.id]);
    await b1.waitFor(queued);
    expect((await h.api('DELETE', '/api/v1/devices/2', { token: b1.token })).status).toBe(204);
    expect((await h.api('GET', '/api/v1/devices/me/envelopes', { token: b2.token })).status).toBe(412);
    const gone = secret('after removal');
    const res = await a1.send(conv, gone, [alice.id, bob.id]);
    expect(res.attempts).toBe(2);
    await b1.waitFor(gone);
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM messaging.envelopes e JOIN messaging.devices d ON d.id = e.recipient_device WHERE d.removed_at IS NOT NULL`.execute(h.db);
    expect(Number(rows[0]!.n)).toBe(0);
    a1.close();
    b1.close();
  });

  it('keeps envelopes until acknowledged, only the own device may acknowledge, refuses oversize ones, and purges expired ones', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const a1 = await SignalDevice.register(h, alice.id, { connect: false });
    const b1 = await SignalDevice.register(h, bob.id, { connect: false });
    const conv = await e2ee(alice, { type: 'direct', user_id: bob.id });
    const m = secret('queued');
    await a1.send(conv, m, [alice.id, bob.id]);
    const page = await h.api('GET', '/api/v1/devices/me/envelopes', { token: b1.token });
    expect(page.body.items).toHaveLength(1);
    expect(Object.keys(page.body.items[0]).sort()).toEqual(['content', 'conversation_id', 'id', 'sender_device_id', 'sender_id', 'server_timestamp', 'type']);
    // Alice cannot acknowledge Bob's envelope: the device is her session's.
    expect((await h.api('POST', '/api/v1/devices/me/envelopes/ack', { token: a1.token, body: { ids: [page.body.items[0].id] } })).body.deleted).toBe(0);
    expect((await h.api('GET', '/api/v1/devices/me/envelopes', { token: b1.token })).body.items).toHaveLength(1);
    expect(await b1.drainHttp()).toEqual([m]);
    expect((await h.api('GET', '/api/v1/devices/me/envelopes', { token: b1.token })).body.items).toHaveLength(0);

    const big = await h.api('POST', `/api/v1/conversations/${conv}/envelopes`, { token: a1.token, body: { envelopes: [{ user_id: bob.id, device_id: 1, registration_id: b1.registrationId, type: 2, content: randomBytes(4 * 1024 + 1).toString('base64') }] } });
    expect(big.status).toBe(413);

    const old = secret('expires');
    await a1.send(conv, old, [alice.id, bob.id]);
    await sql`UPDATE messaging.envelopes SET created_at = now() - interval '31 days' WHERE conversation_id = ${conv}`.execute(h.db);
    expect((await h.api('GET', '/api/v1/devices/me/envelopes', { token: b1.token })).body.items).toHaveLength(0);
    await eventually(async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM messaging.envelopes WHERE conversation_id = ${conv}`.execute(h.db)).rows[0]!.n) === 0, 'the purge deleting the expired envelope');
  });
});

describe('delivery', () => {
  it("an envelope goes only to its device's sockets (found through the session), not to the user's other sessions", async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const a1 = await SignalDevice.register(h, alice.id, { connect: false });
    const b1 = await SignalDevice.register(h, bob.id);
    const otherSession = await h.connect(await h.tokenFor(bob.id));
    const conv = await e2ee(alice, { type: 'direct', user_id: bob.id });
    const m = secret('for device 1 only');
    await a1.send(conv, m, [alice.id, bob.id]);
    await b1.waitFor(m);
    otherSession.send({ type: 'ping', ref: 'p' });
    await otherSession.next((f) => f.type === 'pong', 'pong');
    expect(otherSession.frames.filter((f) => f.type === 'envelope')).toEqual([]);
    otherSession.close();
    b1.close();
  });
});

describe('account deletion', () => {
  it("UserDeleted removes the account's devices with their keys and queues, and its identity key is no longer served", async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const a1 = await SignalDevice.register(h, alice.id, { connect: false });
    await SignalDevice.register(h, bob.id, { connect: false });
    const conv = await e2ee(alice, { type: 'direct', user_id: bob.id });
    await a1.send(conv, secret('to a doomed account'), [alice.id, bob.id]);
    expect((await h.api('GET', `/api/v1/keys/${bob.id}/fingerprint`, { token: alice.token })).status).toBe(200);
    await h.publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: bob.id, data: { user_id: bob.id } });
    await eventually(async () => (await h.api('GET', `/api/v1/keys/${bob.id}`, { token: alice.token })).status === 404, 'bob has no bundle');
    // Nor is the deleted account's identity key served any more.
    expect((await h.api('GET', `/api/v1/keys/${bob.id}/fingerprint`, { token: alice.token })).status).toBe(404);
    const { rows } = await sql<{ n: string }>`SELECT (SELECT count(*) FROM messaging.envelopes e JOIN messaging.devices d ON d.id = e.recipient_device WHERE d.user_id = ${bob.id}) + (SELECT count(*) FROM messaging.one_time_prekeys k JOIN messaging.devices d ON d.id = k.device WHERE d.user_id = ${bob.id}) AS n`.execute(h.db);
    expect(Number(rows[0]!.n)).toBe(0);
  });
});

describe('identity', () => {
  it('a reinstall with a new identity key emits IdentityKeyChanged, removes the old devices, and changes the libsignal-compatible fingerprint', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const a1 = await SignalDevice.register(h, alice.id, { connect: false });
    const b1 = await SignalDevice.register(h, bob.id, { connect: false });
    await SignalDevice.register(h, bob.id, { identity: b1.identity, connect: false });
    const before = await h.api('GET', `/api/v1/keys/${bob.id}/fingerprint`, { token: a1.token });
    expect(before.status).toBe(200);
    const uuid = (id: string) => new Uint8Array(Buffer.from(id.replace(/-/g, ''), 'hex'));
    const expected = Fingerprint.new(5200, 2, uuid(alice.id), a1.identity.publicKey, uuid(bob.id), b1.identity.publicKey).displayableFingerprint().toString();
    expect(before.body.safety_number).toBe(expected);

    const reinstall = await SignalDevice.register(h, bob.id, { connect: false });
    expect(reinstall.deviceId).toBe(1);
    const after = await h.api('GET', `/api/v1/keys/${bob.id}/fingerprint`, { token: a1.token });
    expect(after.body.identity_key).toBe(b64(reinstall.identity.publicKey.serialize()));
    expect(after.body.safety_number).not.toBe(before.body.safety_number);
    const events = await h.outboxEvents('IdentityKeyChanged', bob.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ user_id: bob.id, identity_key: after.body.identity_key, fingerprint: after.body.fingerprint, previous_fingerprint: before.body.fingerprint });
    const devices = await h.api('GET', '/api/v1/devices', { token: reinstall.token });
    expect(devices.body.items.map((d: { device_id: number }) => d.device_id)).toEqual([1]);
  });
});

describe('envelope sends racing group changes', () => {
  it('a send racing a role change of its sender never deadlocks (no 5xx)', async () => {
    const [owner, member] = [await h.newUser(), await h.newUser()];
    const o = await SignalDevice.register(h, owner.id, { connect: false, oneTime: 0, kyber: 0 });
    const m = await SignalDevice.register(h, member.id, { connect: false, oneTime: 0, kyber: 0 });
    const conv = await e2ee(owner, { type: 'group', name: 'race', member_ids: [member.id] });
    const envelopes = [{ user_id: owner.id, device_id: o.deviceId, registration_id: o.registrationId, type: 2, content: b64(randomBytes(64)) }];
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const [sent, changed] = await Promise.all([
        h.api('POST', `/api/v1/conversations/${conv}/envelopes`, { token: m.token, body: { envelopes } }),
        h.api('PATCH', `/api/v1/conversations/${conv}/members/${member.id}`, { token: owner.token, body: { role: i % 2 === 0 ? 'admin' : 'member' } }),
      ]);
      statuses.push(sent.status, changed.status);
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});

describe('envelope queue writes', () => {
  it('queues a send of MAX_SEND_ENVELOPES envelopes (more bind parameters than one statement may carry)', async () => {
    const [owner, member] = [await h.newUser(), await h.newUser()];
    const o = await SignalDevice.register(h, owner.id, { connect: false, oneTime: 0, kyber: 0 });
    const conv = await e2ee(owner, { type: 'group', name: 'big', member_ids: [member.id] });
    const device = (await h.db.selectFrom('devices').select('id').where('user_id', '=', owner.id).where('removed_at', 'is', null).executeTakeFirstOrThrow()).id;
    const rows = Array.from({ length: MAX_SEND_ENVELOPES }, () => ({ recipient_device: device, sender_id: member.id, sender_device_id: 1, conversation_id: conv, type: 2, content: randomBytes(8) }));
    const inserted = await h.db.transaction().execute((tx) => insertEnvelopes(tx, rows, new Date()));
    expect(inserted).toHaveLength(MAX_SEND_ENVELOPES);
    expect(new Set(inserted.map((r) => r.recipient_device))).toEqual(new Set([device]));
    await h.db.deleteFrom('envelopes').where('recipient_device', '=', device).execute();
    expect(o.deviceId).toBe(1);
  });
});

describe('e2ee message requests', () => {
  it('a message after the recipient deleted the request reaches their devices as a new request, not nowhere', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    await h.settings(bob, { who_can_message: 'nobody' });
    const a = await SignalDevice.register(h, alice.id, { connect: false, oneTime: 0, kyber: 0 });
    const b = await SignalDevice.register(h, bob.id, { connect: false, oneTime: 0, kyber: 0 });
    const conv = await e2ee(alice, { type: 'direct', user_id: bob.id });
    const to = [{ user_id: bob.id, device_id: b.deviceId, registration_id: b.registrationId, type: 2, content: b64(randomBytes(32)) }];
    expect((await h.api('POST', `/api/v1/conversations/${conv}/envelopes`, { token: a.token, body: { envelopes: to } })).status).toBe(201);
    expect((await h.api('DELETE', `/api/v1/conversations/requests/${conv}`, { token: bob.token })).status).toBe(204);
    // Deleting the request deletes what it had queued for the recipient's devices.
    expect((await h.api('GET', '/api/v1/devices/me/envelopes', { token: b.token })).body.items).toEqual([]);
    const later = [{ ...to[0]!, content: b64(randomBytes(32)) }];
    const again = await h.api('POST', `/api/v1/conversations/${conv}/envelopes`, { token: a.token, body: { envelopes: later } });
    expect(again.status).toBe(201);
    expect(again.body.count).toBe(1);
    expect((await h.api('GET', '/api/v1/conversations/requests', { token: bob.token })).body.items.map((c: any) => c.id)).toEqual([conv]);
    expect((await h.api('GET', '/api/v1/devices/me/envelopes', { token: b.token })).body.items.at(-1).content).toBe(later[0]!.content);
  });
});
