import { messagingV1 } from '@nova/proto';
import { AppError, callerIdentity, isUuid, unary, type GrpcServiceRegistration } from '@nova/platform';
import type { AppContext } from '../../context.js';
import * as cq from '../../db/queries/conversations.js';
import { sendSystemMessage } from '../../domain/messages.js';

/** Services (mTLS identities) that may post system messages: stream invitations, notification notices. */
export const SYSTEM_MESSAGE_CALLERS = ['streaming', 'notification'] as const;

/**
 * Who a system message is recorded as sent by: the caller's certificate identity. Without TLS (development
 * and test only, where allow lists are not enforced) no caller can be identified: `unverified`.
 */
export const UNVERIFIED_CALLER = 'unverified';

/**
 * nova.messaging.v1.MessagingService: conversations and members for the other services (any verified
 * service), and system messages (the services on SYSTEM_MESSAGE_CALLERS only). It never serves message text.
 */
export function messagingGrpc(ctx: AppContext): GrpcServiceRegistration {
  const implementation: messagingV1.MessagingServiceServer = {
    getConversation: unary(async (req: messagingV1.GetConversationRequest) => {
      const conv = await cq.findConversation(ctx.db, uuid(req.id, 'id'));
      if (!conv) throw new AppError('NOT_FOUND', 'conversation not found');
      return {
        id: conv.id,
        kind: conv.kind,
        mode: conv.mode,
        ...(conv.name !== null ? { name: conv.name } : {}),
        ...(conv.avatar_media_id !== null ? { avatar_media_id: conv.avatar_media_id } : {}),
        member_ids: await cq.activeMemberIds(ctx.db, conv.id),
        last_seq: Number(conv.last_seq),
      };
    }),

    listMembers: unary(async (req: messagingV1.ListMembersRequest) => {
      const conv = await cq.findConversation(ctx.db, uuid(req.conversation_id, 'conversation_id'));
      if (!conv) throw new AppError('NOT_FOUND', 'conversation not found');
      const members = (await cq.activeMembers(ctx.db, conv.id)).filter((m) => m.status !== 'declined');
      return { members: members.map((m) => ({ user_id: m.user_id, role: m.role, status: m.status, muted: m.muted, joined_at: m.joined_at.toISOString() })) };
    }),

    sendSystemMessage: unary(async (req: messagingV1.SendSystemMessageRequest, call) => {
      const service = callerIdentity(call) ?? UNVERIFIED_CALLER;
      if (req.client_message_id.length > 100) throw new AppError('VALIDATION_FAILED', 'client_message_id has at most 100 characters', { details: { field: 'client_message_id' } });
      const { view, created } = await sendSystemMessage(
        ctx,
        service,
        uuid(req.conversation_id, 'conversation_id'),
        { text: req.text, client_message_id: req.client_message_id.length > 0 ? req.client_message_id : undefined },
        {},
      );
      return { message_id: view.id, seq: view.seq, created };
    }),
  };
  return { definition: messagingV1.MessagingServiceService, implementation, allow: { '*': ['*'], SendSystemMessage: SYSTEM_MESSAGE_CALLERS } };
}

function uuid(value: string, field: string): string {
  if (!isUuid(value)) throw new AppError('VALIDATION_FAILED', `${field} must be a UUID`, { details: { field } });
  return value.toLowerCase();
}
