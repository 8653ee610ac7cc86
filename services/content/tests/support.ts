import type { EventEnvelope } from '@nova/platform';
import { startPlatform, type PlatformHarness, type TestEvent } from '@nova/testing';
import { userService } from '@nova/user';
import { contentService } from '../src/index.js';
import type { ContentDb } from '../src/db/schema.js';

export { freshIp, newUsername, type ApiResponse, type CallOptions, type TestUser } from '@nova/testing';

/**
 * The content service's integration-test harness: content runs together with the real user service (it asks
 * it who follows and blocks whom over gRPC, in-process) on the real PostgreSQL, Redis and NATS of a fresh
 * isolated environment (see @nova/testing's startPlatform).
 */
export interface ContentHarness extends PlatformHarness<ContentDb> {
  /** Publishes an event as the auth service would (e.g. UserDeleted); returns the envelope. */
  publishAuthEvent(e: TestEvent): Promise<EventEnvelope>;
}

/** Starts content + user in one process; `overrides` are raw env values. */
export async function startContentService(overrides: Record<string, string> = {}): Promise<ContentHarness> {
  const h = await startPlatform<ContentDb>({ services: [contentService, userService], overrides });
  return { ...h, publishAuthEvent: (e) => h.publishEvent('auth', e) };
}
