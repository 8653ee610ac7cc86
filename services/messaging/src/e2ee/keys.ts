import { AppError, newId, type AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as eq from '../db/queries/e2ee.js';
import { deletedAmong } from '../db/queries/messages.js';
import type { RequestMeta } from '../domain/conversations.js';
import { displayableFingerprint, FINGERPRINT_ITERATIONS, safetyNumber, uuidBytes } from './fingerprint.js';
import { isEcPublicKey, xeddsaVerify } from './xeddsa.js';

/** Live devices one user may have (a primary and linked ones). */
export const MAX_DEVICES = 10;
/** One-time prekeys of each kind one upload may carry. */
export const MAX_PREKEYS_PER_UPLOAD = 100;
/** One-time prekeys of each kind one device may keep on the server (uploads are otherwise unbounded storage). */
export const MAX_ONE_TIME_PREKEYS = 1_000;
/** Largest serialized KEM public key accepted (libsignal's Kyber1024 key is 1 + 1568 bytes). */
export const MAX_KEM_KEY_BYTES = 4_096;
export const PRIMARY_DEVICE_ID = 1;
const MAX_DEVICE_ID = 127;

export interface DeviceView {
  device_id: number;
  registration_id: number;
  name: string | null;
  primary: boolean;
  current: boolean;
  has_keys: boolean;
  created_at: string;
}

function deviceView(d: eq.DeviceRow, sessionId: string): DeviceView {
  return { device_id: d.device_id, registration_id: d.registration_id, name: d.name, primary: d.device_id === PRIMARY_DEVICE_ID, current: d.session_id === sessionId, has_keys: d.signed_prekey !== null, created_at: d.created_at.toISOString() };
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Decodes a base64 field (strictly: re-encoding must give the same text). */
export function decodeBase64(value: string, field: string): Buffer {
  const buf = Buffer.from(value, 'base64');
  if (buf.toString('base64') !== value) throw new AppError('VALIDATION_FAILED', `${field} must be base64`, { details: { field } });
  return buf;
}

function ecKey(value: string, field: string): Buffer {
  const key = decodeBase64(value, field);
  if (!isEcPublicKey(key)) throw new AppError('VALIDATION_FAILED', `${field} must be a serialized Curve25519 public key (0x05 and 32 bytes)`, { details: { field } });
  return key;
}

function kemKey(value: string, field: string): Buffer {
  const key = decodeBase64(value, field);
  if (key.length < 2 || key.length > MAX_KEM_KEY_BYTES) throw new AppError('VALIDATION_FAILED', `${field} must be a serialized KEM public key (2-${MAX_KEM_KEY_BYTES} bytes)`, { details: { field } });
  return key;
}

/** The device this session registered: every device-scoped call finds the device this way, never from input. */
export async function currentDevice(ctx: AppContext, caller: AuthIdentity): Promise<eq.DeviceRow> {
  const d = await eq.deviceBySession(ctx.db, caller.sessionId);
  if (!d || d.user_id !== caller.userId) throw new AppError('PRECONDITION_FAILED', 'this session has no device: register one with POST /api/v1/devices', { details: { reason: 'no_device' } });
  return d;
}

export interface NewDevice {
  registration_id: number;
  /** Base64 of the account's identity public key (libsignal serialized). */
  identity_key: string;
  /** A primary device (device id 1) may bring a new identity key (a reinstall); a linked one must present the account's. */
  primary: boolean;
  name?: string | undefined;
}

/**
 * Registers the calling session as a device of its user. A primary registration takes device id 1: with
 * the account's identity key it needs device 1 to be free; with a different key it is a reinstall: the
 * account's identity key is replaced, every other device (they hold the old identity) is removed with its
 * keys and queue, and IdentityKeyChanged is emitted. A linked device takes the lowest free id from 2 and
 * must present the account's current identity key (it cannot publish usable prekeys without its private
 * half: every signature is verified on upload). At most MAX_DEVICES live devices; one device per session.
 */
export async function registerDevice(ctx: AppContext, caller: AuthIdentity, input: NewDevice, meta: RequestMeta): Promise<DeviceView> {
  const identityKey = ecKey(input.identity_key, 'identity_key');
  const name = input.name?.trim() || null;
  const row = await ctx.db.transaction().execute(async (tx) => {
    await eq.lockDeviceList(tx, caller.userId, false);
    if (await eq.deviceBySession(tx, caller.sessionId)) throw new AppError('CONFLICT', 'this session already has a device; remove it first', { details: { reason: 'session_has_device' } });
    const account = await eq.findAccount(tx, caller.userId);
    let live = await eq.liveDevices(tx, [caller.userId]);
    const sameKey = account !== undefined && Buffer.compare(account.identity_key, identityKey) === 0;
    let deviceId: number;
    if (input.primary) {
      if (account && !sameKey) {
        // A reinstall: the old identity's devices can no longer speak for the account.
        await eq.removeDevices(tx, live.map((d) => d.id), caller.userId);
        live = [];
        await eq.upsertAccount(tx, caller.userId, identityKey);
        await ctx.outbox.add(tx, {
          aggregate: 'identity_key',
          action: 'changed',
          type: 'IdentityKeyChanged',
          entityId: caller.userId,
          data: { user_id: caller.userId, identity_key: b64(identityKey), fingerprint: displayableFingerprint(identityKey, uuidBytes(caller.userId)), previous_fingerprint: displayableFingerprint(account.identity_key, uuidBytes(caller.userId)) },
          correlationId: meta.correlationId ?? null,
        });
      } else if (!account) {
        await eq.upsertAccount(tx, caller.userId, identityKey);
      }
      if (live.some((d) => d.device_id === PRIMARY_DEVICE_ID)) throw new AppError('CONFLICT', 'the account already has a primary device with this identity key; register as a linked device, or remove it first', { details: { reason: 'primary_exists' } });
      deviceId = PRIMARY_DEVICE_ID;
    } else {
      if (!account) throw new AppError('CONFLICT', 'register a primary device first: it sets the account identity key', { details: { reason: 'no_identity' } });
      if (!sameKey) throw new AppError('CONFLICT', "identity_key is not the account's identity key", { details: { reason: 'identity_mismatch' } });
      const used = new Set(live.map((d) => d.device_id));
      deviceId = 2;
      while (used.has(deviceId) && deviceId <= MAX_DEVICE_ID) deviceId++;
    }
    if (live.length >= MAX_DEVICES || deviceId > MAX_DEVICE_ID) throw new AppError('CONFLICT', `a user has at most ${MAX_DEVICES} devices`, { details: { reason: 'too_many_devices', max: MAX_DEVICES } });
    return eq.insertDevice(tx, { id: newId(), user_id: caller.userId, device_id: deviceId, session_id: caller.sessionId, registration_id: input.registration_id, name });
  });
  return deviceView(row, caller.sessionId);
}

export async function listDevices(ctx: AppContext, caller: AuthIdentity): Promise<DeviceView[]> {
  return (await eq.liveDevices(ctx.db, [caller.userId])).map((d) => deviceView(d, caller.sessionId));
}

/** Removes one of the caller's devices (any of them, the current one too): it stops receiving, its keys and queue are deleted. */
export async function removeDevice(ctx: AppContext, caller: AuthIdentity, deviceId: number, meta: RequestMeta): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    await eq.lockDeviceList(tx, caller.userId, false);
    const d = (await eq.liveDevices(tx, [caller.userId])).find((x) => x.device_id === deviceId);
    if (!d) throw new AppError('NOT_FOUND', 'device not found');
    await eq.removeDevices(tx, [d.id], caller.userId);
    await ctx.outbox.add(tx, { aggregate: 'device', action: 'removed', type: 'DeviceRemoved', entityId: d.id, data: { user_id: caller.userId, device_id: d.device_id }, correlationId: meta.correlationId ?? null });
  });
}

export interface SignedKey {
  key_id: number;
  public_key: string;
  signature: string;
}

export interface KeyUpload {
  signed_prekey?: SignedKey | undefined;
  kyber_last_resort?: SignedKey | undefined;
  one_time_prekeys?: { key_id: number; public_key: string }[] | undefined;
  one_time_kyber_prekeys?: SignedKey[] | undefined;
}

function verified(identityKey: Buffer, key: Buffer, signature: string, field: string): Buffer {
  const sig = decodeBase64(signature, `${field}.signature`);
  if (!xeddsaVerify(identityKey, key, sig)) throw new AppError('VALIDATION_FAILED', `${field}: the signature does not verify against the account's identity key`, { details: { field, reason: 'bad_signature' } });
  return sig;
}

/**
 * The calling device's key upload: the signed EC prekey and the signed Kyber last-resort prekey replace
 * the device's (both required on the first upload, together or not at all after); one-time EC and Kyber
 * prekeys (≤ MAX_PREKEYS_PER_UPLOAD each) are added. Every signature is verified (XEdDSA) against the
 * account's identity key over the serialized public key; one bad one refuses the whole upload.
 */
export async function uploadKeys(ctx: AppContext, caller: AuthIdentity, input: KeyUpload): Promise<{ ec: number; kyber: number }> {
  const device = await currentDevice(ctx, caller);
  const account = await eq.findAccount(ctx.db, caller.userId);
  if (!account) throw new AppError('PRECONDITION_FAILED', 'the account has no identity key', { details: { reason: 'no_identity' } });
  const ik = account.identity_key;
  if ((input.signed_prekey === undefined) !== (input.kyber_last_resort === undefined)) throw new AppError('VALIDATION_FAILED', 'give signed_prekey and kyber_last_resort together', { details: { field: input.signed_prekey ? 'kyber_last_resort' : 'signed_prekey' } });
  if (input.signed_prekey === undefined && device.signed_prekey === null) throw new AppError('VALIDATION_FAILED', 'the first upload needs signed_prekey and kyber_last_resort', { details: { field: 'signed_prekey' } });
  const ec = input.one_time_prekeys ?? [];
  const kyber = input.one_time_kyber_prekeys ?? [];
  if (ec.length > MAX_PREKEYS_PER_UPLOAD || kyber.length > MAX_PREKEYS_PER_UPLOAD) throw new AppError('VALIDATION_FAILED', `at most ${MAX_PREKEYS_PER_UPLOAD} one-time prekeys of each kind per upload`, { details: { field: ec.length > MAX_PREKEYS_PER_UPLOAD ? 'one_time_prekeys' : 'one_time_kyber_prekeys' } });
  let signed: Parameters<typeof eq.setSignedPrekeys>[2] | undefined;
  if (input.signed_prekey && input.kyber_last_resort) {
    const spk = ecKey(input.signed_prekey.public_key, 'signed_prekey.public_key');
    const kpk = kemKey(input.kyber_last_resort.public_key, 'kyber_last_resort.public_key');
    signed = {
      signed_prekey_id: input.signed_prekey.key_id,
      signed_prekey: spk,
      signed_prekey_signature: verified(ik, spk, input.signed_prekey.signature, 'signed_prekey'),
      kyber_last_resort_id: input.kyber_last_resort.key_id,
      kyber_last_resort: kpk,
      kyber_last_resort_signature: verified(ik, kpk, input.kyber_last_resort.signature, 'kyber_last_resort'),
    };
  }
  const rows = [
    ...ec.map((k, i) => ({ device: device.id, kind: 'ec' as const, key_id: k.key_id, public_key: ecKey(k.public_key, `one_time_prekeys[${i}].public_key`), signature: null })),
    ...kyber.map((k, i) => {
      const pk = kemKey(k.public_key, `one_time_kyber_prekeys[${i}].public_key`);
      return { device: device.id, kind: 'kyber' as const, key_id: k.key_id, public_key: pk, signature: verified(ik, pk, k.signature, `one_time_kyber_prekeys[${i}]`) };
    }),
  ];
  const ids = new Set(rows.map((r) => `${r.kind}:${r.key_id}`));
  if (ids.size !== rows.length) throw new AppError('VALIDATION_FAILED', 'one-time prekey ids must be unique per kind', { details: { field: 'one_time_prekeys' } });
  await ctx.db.transaction().execute(async (tx) => {
    // The device may have been removed meanwhile: nothing is written for a removed device. The shared
    // device-list lock (which removal and re-registration take exclusively) keeps it from being removed
    // until this commits, so a removal cannot miss the keys written here.
    await eq.lockDeviceList(tx, caller.userId, true);
    const still = await eq.lockLiveDevice(tx, device.id);
    if (!still || still.session_id !== caller.sessionId) throw new AppError('PRECONDITION_FAILED', 'this session has no device', { details: { reason: 'no_device' } });
    if (signed) await eq.setSignedPrekeys(tx, device.id, signed);
    await eq.addOneTimePrekeys(tx, rows);
    // Counted after the insert (an existing key id is overwritten, not added); over the cap, nothing is kept.
    const now = await eq.countOneTimePrekeys(tx, device.id);
    if (now.ec > MAX_ONE_TIME_PREKEYS || now.kyber > MAX_ONE_TIME_PREKEYS) {
      throw new AppError('VALIDATION_FAILED', `a device keeps at most ${MAX_ONE_TIME_PREKEYS} one-time prekeys of each kind; upload more when GET /api/v1/keys/count runs low`, {
        details: { field: now.ec > MAX_ONE_TIME_PREKEYS ? 'one_time_prekeys' : 'one_time_kyber_prekeys', reason: 'too_many_prekeys', max: MAX_ONE_TIME_PREKEYS },
      });
    }
  });
  return eq.countOneTimePrekeys(ctx.db, device.id);
}

export async function keyCounts(ctx: AppContext, caller: AuthIdentity): Promise<{ ec: number; kyber: number }> {
  return eq.countOneTimePrekeys(ctx.db, (await currentDevice(ctx, caller)).id);
}

export interface BundleView {
  device_id: number;
  registration_id: number;
  signed_prekey: SignedKey;
  prekey: { key_id: number; public_key: string } | null;
  kyber_prekey: SignedKey & { last_resort: boolean };
}

/**
 * Pre-key bundles of a user's devices that have uploaded keys (one device with `deviceId`), each claiming
 * one one-time EC prekey (none left: `prekey: null`) and one one-time Kyber prekey (none left: the
 * last-resort key, `last_resort: true`). Claims delete the keys; two concurrent fetches never share one.
 */
export async function fetchBundles(ctx: AppContext, userId: string, deviceId?: number): Promise<{ user_id: string; identity_key: string; devices: BundleView[] }> {
  const uid = userId.toLowerCase();
  const account = await eq.findAccount(ctx.db, uid);
  const devices = (await eq.liveDevices(ctx.db, [uid])).filter((d) => d.signed_prekey !== null && (deviceId === undefined || d.device_id === deviceId));
  if (!account || devices.length === 0) throw new AppError('NOT_FOUND', deviceId === undefined ? 'this user has no device with keys' : 'device not found');
  const out: BundleView[] = [];
  for (const d of devices) {
    const ec = await eq.claimOneTimePrekey(ctx.db, d.id, 'ec');
    const kyber = await eq.claimOneTimePrekey(ctx.db, d.id, 'kyber');
    out.push({
      device_id: d.device_id,
      registration_id: d.registration_id,
      signed_prekey: { key_id: d.signed_prekey_id!, public_key: b64(d.signed_prekey!), signature: b64(d.signed_prekey_signature!) },
      prekey: ec ? { key_id: ec.key_id, public_key: b64(ec.public_key) } : null,
      kyber_prekey: kyber
        ? { key_id: kyber.key_id, public_key: b64(kyber.public_key), signature: b64(kyber.signature!), last_resort: false }
        : { key_id: d.kyber_last_resort_id!, public_key: b64(d.kyber_last_resort!), signature: b64(d.kyber_last_resort_signature!), last_resort: true },
    });
  }
  ctx.metrics.bundlesServed.inc(out.length);
  return { user_id: uid, identity_key: b64(account.identity_key), devices: out };
}

/**
 * What a safety number needs: the user's identity key, its 30-digit half of a safety number (libsignal's
 * displayable fingerprint, version 2, 5200 iterations, the user id's 16 bytes as stable identifier) and,
 * when the caller has an identity key too, the 60-digit safety number of the two.
 */
export async function fingerprintOf(ctx: AppContext, caller: AuthIdentity, userId: string) {
  const uid = userId.toLowerCase();
  const [account, mine, deleted] = await Promise.all([eq.findAccount(ctx.db, uid), eq.findAccount(ctx.db, caller.userId), deletedAmong(ctx.db, [uid])]);
  // A deleted account's identity key is not served any more (its devices are gone; nothing can be sent to it).
  if (!account || deleted.has(uid)) throw new AppError('NOT_FOUND', 'this user has no identity key');
  const fingerprint = displayableFingerprint(account.identity_key, uuidBytes(uid));
  return {
    user_id: uid,
    identity_key: b64(account.identity_key),
    identity_changed_at: account.identity_changed_at.toISOString(),
    fingerprint,
    iterations: FINGERPRINT_ITERATIONS,
    safety_number: mine ? safetyNumber(fingerprint, displayableFingerprint(mine.identity_key, uuidBytes(caller.userId))) : null,
  };
}
