import type { DbOrTx } from '@nova/platform';
import type { AuthDb } from '../schema.js';

type Q = DbOrTx<AuthDb>;

export interface KeyRow {
  kid: string;
  public_jwk: Record<string, unknown>;
  private_key_enc: string;
  activates_at: Date;
}

export function liveKeys(db: Q): Promise<KeyRow[]> {
  return db.selectFrom('signing_keys').select(['kid', 'public_jwk', 'private_key_enc', 'activates_at']).where('retired_at', 'is', null).orderBy('activates_at', 'desc').execute();
}

export async function insertKey(db: Q, row: { kid: string; public_jwk: string; private_key_enc: string; activates_at: Date }): Promise<void> {
  await db.insertInto('signing_keys').values(row).execute();
}
