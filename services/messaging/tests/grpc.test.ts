import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, createBreaker, createGrpcClient, createMetrics, generateDevCertificates, newId, type ClientTlsOptions, type GrpcClient } from '@nova/platform';
import { messagingV1 } from '@nova/proto';
import { startMessagingService, type MessagingHarness } from './support.js';

function client(address: string, tls: ClientTlsOptions = { enabled: false }, appEnv: 'test' | 'production' = 'test'): GrpcClient<messagingV1.MessagingServiceClient> {
  return createGrpcClient(messagingV1.MessagingServiceClient, { target: address, appEnv, tls, breaker: createBreaker({ dependency: 'messaging', metrics: createMetrics({ defaultMetrics: false }) }) });
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as AppError & { grpcStatus?: number });

describe('nova.messaging.v1.MessagingService', () => {
  let h: MessagingHarness;
  let grpc: GrpcClient<messagingV1.MessagingServiceClient>;
  beforeAll(async () => {
    h = await startMessagingService();
    grpc = client(`127.0.0.1:${h.platform.grpcPort}`);
  });
  afterAll(async () => {
    grpc?.close();
    await h?.stop();
  });

  it('GetConversation and ListMembers: a conversation, its members with role, status and mute, never message text', async () => {
    const [alice, bob, carol] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const avatar = newId();
    const g = (await h.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'group', name: 'Trip', avatar_media_id: avatar, member_ids: [bob.id, carol.id] } })).body.id;
    for (const t of ['a', 'b', 'psst']) await h.api('POST', `/api/v1/conversations/${g}/messages`, { token: alice.token, body: { text: t } });
    await h.api('PATCH', `/api/v1/conversations/${g}/me`, { token: carol.token, body: { muted: true } });

    const conv = await grpc.call(grpc.stub.getConversation, { id: g });
    expect(conv).toMatchObject({ id: g, kind: 'group', mode: 'standard', name: 'Trip', avatar_media_id: avatar, last_seq: 3 });
    expect([...conv.member_ids].sort()).toEqual([alice.id, bob.id, carol.id].sort());
    expect(JSON.stringify(conv)).not.toContain('psst');
    const { members } = await grpc.call(grpc.stub.listMembers, { conversation_id: g });
    expect(members.map((m) => [m.user_id, m.role, m.status, m.muted]).sort()).toEqual(
      [
        [alice.id, 'owner', 'active', false],
        [bob.id, 'member', 'active', false],
        [carol.id, 'member', 'active', true],
      ].sort(),
    );

    const missing = await failure(grpc.call(grpc.stub.getConversation, { id: newId() }));
    expect(missing).toBeInstanceOf(AppError);
    expect(missing.code).toBe('NOT_FOUND');
    expect((await failure(grpc.call(grpc.stub.listMembers, { conversation_id: newId() }))).code).toBe('NOT_FOUND');
    expect((await failure(grpc.call(grpc.stub.listMembers, { conversation_id: 'x' }))).code).toBe('VALIDATION_FAILED');
  });

  it('SendSystemMessage posts a `system` message (no user sender) that members receive live and in history, idempotently', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = (await h.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'direct', user_id: bob.id } })).body.id;
    await h.api('POST', `/api/v1/conversations/${conv}/messages`, { token: alice.token, body: { text: 'watch my stream?' } });
    const b = await h.connect(bob);
    const req = { conversation_id: conv, text: 'alice invites you to a live stream', client_message_id: 'invite-1' };
    const [x, y] = await Promise.all([grpc.call(grpc.stub.sendSystemMessage, req), grpc.call(grpc.stub.sendSystemMessage, req)]);
    expect(x.message_id).toBe(y.message_id);
    expect(x.seq).toBe(2);
    expect([x.created, y.created].sort()).toEqual([false, true]);
    const frame = await b.next((f) => f.type === 'message' && f.message.id === x.message_id, 'the system message');
    // Without TLS (test) the caller cannot be identified; under mTLS it is the service's certificate identity.
    expect(frame.message).toMatchObject({ kind: 'system', sender_id: null, system_sender: 'unverified', text: 'alice invites you to a live stream', seq: 2 });
    const [latest] = (await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: alice.token })).body.items;
    expect(latest).toMatchObject({ kind: 'system', seq: 2 });
    const ev = (await h.outboxEvents('MessageCreated')).find((e) => e.data.message_id === x.message_id)!;
    expect(ev.data).toMatchObject({ message_kind: 'system', sender_id: null, system_sender: 'unverified' });
    expect([...ev.data.recipient_ids].sort()).toEqual([alice.id, bob.id].sort());
    expect((await failure(grpc.call(grpc.stub.sendSystemMessage, { conversation_id: newId(), text: 'x', client_message_id: '' }))).code).toBe('NOT_FOUND');
    expect((await failure(grpc.call(grpc.stub.sendSystemMessage, { conversation_id: conv, text: '', client_message_id: '' }))).code).toBe('VALIDATION_FAILED');
    b.close();
  });
});

describe('nova.messaging.v1.MessagingService under mTLS (APP_ENV=production)', () => {
  let h: MessagingHarness;
  let dir: string;
  const clients: GrpcClient<messagingV1.MessagingServiceClient>[] = [];
  const as = (service: string) => {
    const c = client(`localhost:${h.platform.grpcPort}`, { enabled: true, caCertPath: join(dir, 'ca.crt'), clientCertPath: join(dir, `${service}.crt`), clientKeyPath: join(dir, `${service}.key`) }, 'production');
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nova-messaging-certs-'));
    await generateDevCertificates(dir, { services: ['messaging', 'user', 'streaming', 'notification', 'feed'] });
    h = await startMessagingService({
      APP_ENV: 'production',
      GRPC_TLS_ENABLED: 'true',
      GRPC_TLS_CA_CERT_PATH: join(dir, 'ca.crt'),
      GRPC_TLS_SERVER_CERT_PATH: join(dir, 'server.crt'),
      GRPC_TLS_SERVER_KEY_PATH: join(dir, 'server.key'),
      GRPC_TLS_REQUIRE_CLIENT_CERT: 'true',
      GRPC_TLS_CLIENT_CERT_PATH: join(dir, 'messaging.crt'),
      GRPC_TLS_CLIENT_KEY_PATH: join(dir, 'messaging.key'),
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await h?.stop();
  });

  it('SendSystemMessage answers the services on its allow list, records their identity, and refuses the others', async () => {
    const [alice, bob] = [await h.newUser(), await h.newUser()];
    const conv = (await h.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'direct', user_id: bob.id } })).body.id;
    const streaming = as('streaming');
    const sent = await streaming.call(streaming.stub.sendSystemMessage, { conversation_id: conv, text: 'stream starting', client_message_id: '' });
    const [m] = (await h.api('GET', `/api/v1/conversations/${conv}/messages`, { token: bob.token })).body.items;
    expect(m).toMatchObject({ id: sent.message_id, kind: 'system', system_sender: 'streaming', sender_id: null });
    const notification = as('notification');
    expect((await notification.call(notification.stub.sendSystemMessage, { conversation_id: conv, text: 'hi', client_message_id: '' })).seq).toBe(2);

    const feed = as('feed');
    const refused = await failure(feed.call(feed.stub.sendSystemMessage, { conversation_id: conv, text: 'spam', client_message_id: '' }));
    expect(refused.code).toBe('FORBIDDEN');
    expect(refused.grpcStatus).toBe(GrpcStatus.PERMISSION_DENIED);
    // The read methods answer any verified service.
    expect((await feed.call(feed.stub.getConversation, { id: conv })).last_seq).toBe(2);
    expect((await feed.call(feed.stub.listMembers, { conversation_id: conv })).members).toHaveLength(2);
  });
});
