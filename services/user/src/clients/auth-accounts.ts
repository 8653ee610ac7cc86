import { authV1 } from '@nova/proto';
import { AppError, type GrpcClients } from '@nova/platform';

/** What the user service asks the auth service about an account. */
export interface Account {
  id: string;
  username: string;
  /** Null when the account has no email (some OAuth sign-ups). */
  email: string | null;
}

/** The auth service as the user service needs it (behind the context, so tests may replace it). */
export interface AuthAccounts {
  /**
   * The live account with this id, email included (auth's GetUserWithEmail, allowed to the user service only);
   * undefined when auth says it does not exist or was deleted. Rejects with an AppError when auth cannot be
   * asked (DEPENDENCY_UNAVAILABLE, CIRCUIT_OPEN, DEADLINE_EXCEEDED).
   */
  accountWithEmail(id: string): Promise<Account | undefined>;
}

/**
 * Over gRPC. The client is resolved on first use: under `nova up` the auth service's address is known only
 * once this process's gRPC port is bound.
 */
export function grpcAuthAccounts(grpc: GrpcClients): AuthAccounts {
  return {
    async accountWithEmail(id) {
      const client = grpc.get('auth', authV1.AuthServiceClient);
      try {
        const res = await client.call(client.stub.getUserWithEmail, { id });
        if (!res.user) return undefined;
        return { id: res.user.id, username: res.user.username, email: res.user.email ?? null };
      } catch (err) {
        if (err instanceof AppError && err.code === 'NOT_FOUND') return undefined;
        throw err;
      }
    },
  };
}
