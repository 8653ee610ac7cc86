import { messagingV1 } from '@nova/proto';
import { AppError, isUuid, unary, type GrpcServiceRegistration } from '@nova/platform';
import type { AppContext } from '../../context.js';
import * as cq from '../../db/queries/conversations.js';

/**
 * nova.messaging.v1.MessagingService: conversations and unread counts for the other services (any verified
 * service). It never serves message text.
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
        ...(conv.title !== null ? { title: conv.title } : {}),
        member_ids: await cq.activeMemberIds(ctx.db, conv.id),
        last_seq: Number(conv.last_seq),
      };
    }),

    isMember: unary(async (req: messagingV1.IsMemberRequest) => {
      const convId = uuid(req.conversation_id, 'conversation_id');
      const member = await cq.findMember(ctx.db, convId, uuid(req.user_id, 'user_id'));
      return { member: member !== undefined && (await cq.findConversation(ctx.db, convId)) !== undefined };
    }),

    getUnreadSummary: unary(async (req: messagingV1.GetUnreadSummaryRequest) => {
      const s = await cq.unreadSummary(ctx.db, uuid(req.user_id, 'user_id'));
      return { unread_messages: s.messages, unread_conversations: s.conversations };
    }),
  };
  return { definition: messagingV1.MessagingServiceService, implementation, allow: { '*': ['*'] } };
}

function uuid(value: string, field: string): string {
  if (!isUuid(value)) throw new AppError('VALIDATION_FAILED', `${field} must be a UUID`, { details: { field } });
  return value.toLowerCase();
}
