import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, createBreaker, createGrpcClient, createMetrics, newId, type GrpcClient } from '@nova/platform';
import { messagingV1 } from '@nova/proto';
import { startMessagingService, type MessagingHarness } from './support.js';

describe('nova.messaging.v1.MessagingService', () => {
  let h: MessagingHarness;
  let grpc: GrpcClient<messagingV1.MessagingServiceClient>;
  beforeAll(async () => {
    h = await startMessagingService();
    grpc = createGrpcClient(messagingV1.MessagingServiceClient, {
      target: `127.0.0.1:${h.platform.grpcPort}`,
      appEnv: 'test',
      tls: { enabled: false },
      breaker: createBreaker({ dependency: 'messaging', metrics: createMetrics({ defaultMetrics: false }) }),
    });
  });
  afterAll(async () => {
    grpc?.close();
    await h?.stop();
  });

  it('gives a conversation with its members, membership, and unread counts, never message text', async () => {
    const [alice, bob, carol] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const g = (await h.api('POST', '/api/v1/conversations', { token: alice.token, body: { type: 'group', title: 'Trip', member_ids: [bob.id, carol.id] } })).body.id;
    const d = (await h.api('POST', '/api/v1/conversations', { token: bob.token, body: { type: 'direct', user_id: alice.id } })).body.id;
    for (const t of ['a', 'b', 'c']) await h.api('POST', `/api/v1/conversations/${g}/messages`, { token: alice.token, body: { text: t } });
    await h.api('POST', `/api/v1/conversations/${d}/messages`, { token: alice.token, body: { text: 'psst' } });
    await h.api('POST', `/api/v1/conversations/${g}/read`, { token: bob.token, body: { seq: 1 } });

    const conv = await grpc.call(grpc.stub.getConversation, { id: g });
    expect(conv).toMatchObject({ id: g, kind: 'group', mode: 'standard', title: 'Trip', last_seq: 3 });
    expect([...conv.member_ids].sort()).toEqual([alice.id, bob.id, carol.id].sort());
    expect(JSON.stringify(conv)).not.toContain('psst');
    expect(await grpc.call(grpc.stub.isMember, { conversation_id: d, user_id: carol.id })).toEqual({ member: false });
    expect(await grpc.call(grpc.stub.isMember, { conversation_id: d, user_id: bob.id })).toEqual({ member: true });
    expect(await grpc.call(grpc.stub.getUnreadSummary, { user_id: bob.id })).toEqual({ unread_messages: 3, unread_conversations: 2 });
    expect(await grpc.call(grpc.stub.getUnreadSummary, { user_id: alice.id })).toEqual({ unread_messages: 0, unread_conversations: 0 });

    const missing = await grpc.call(grpc.stub.getConversation, { id: newId() }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AppError);
    expect((missing as AppError).code).toBe('NOT_FOUND');
    const bad = await grpc.call(grpc.stub.isMember, { conversation_id: 'x', user_id: bob.id }).catch((e: unknown) => e);
    expect((bad as AppError).code).toBe('VALIDATION_FAILED');
  });
});
