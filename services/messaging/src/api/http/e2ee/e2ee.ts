import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { ackEnvelopes, listEnvelopes, MAX_ACK, MAX_PAGE, MAX_SEND_ENVELOPES, sendEnvelopes } from '../../../e2ee/envelopes.js';
import { fetchBundles, fingerprintOf, keyCounts, listDevices, MAX_DEVICES, MAX_KEM_KEY_BYTES, MAX_ONE_TIME_PREKEYS, MAX_PREKEYS_PER_UPLOAD, registerDevice, removeDevice, uploadKeys } from '../../../e2ee/keys.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ConversationParams, ErrorBody, Uuid } from '../schemas.js';

const B64 = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9+/]*={0,2}$', description });
const KeyId = Type.Integer({ minimum: 0, maximum: 16_777_215 });
const DeviceId = Type.Integer({ minimum: 1, maximum: 127 });
const EcKey = B64(64, 'base64 of a serialized Curve25519 public key (0x05 ‖ 32 bytes)');
const Signature = B64(128, 'base64 of the 64-byte XEdDSA signature by the identity key over the serialized public key');
const KemKey = B64(Math.ceil(MAX_KEM_KEY_BYTES / 3) * 4, 'base64 of a serialized KEM (Kyber / ML-KEM) public key, type byte included');
const SignedEc = Type.Object({ key_id: KeyId, public_key: EcKey, signature: Signature }, { additionalProperties: false });
const SignedKem = Type.Object({ key_id: KeyId, public_key: KemKey, signature: Signature }, { additionalProperties: false });
const Counts = Type.Object({ ec: Type.Integer({ minimum: 0 }), kyber: Type.Integer({ minimum: 0 }) }, { description: 'one-time prekeys left on the server for the calling device' });
const Device = Type.Object({
  device_id: DeviceId,
  registration_id: Type.Integer(),
  name: Type.Union([Type.String(), Type.Null()]),
  primary: Type.Boolean(),
  current: Type.Boolean({ description: 'the device of the calling session' }),
  has_keys: Type.Boolean({ description: 'its signed prekeys are uploaded (others can fetch its bundle)' }),
  created_at: Type.String({ format: 'date-time' }),
});
const Envelope = Type.Object({
  id: Type.String({ description: 'server-assigned, increasing per queue: the only ordering the server gives' }),
  conversation_id: Uuid,
  sender_id: Uuid,
  sender_device_id: DeviceId,
  type: Type.Integer(),
  content: Type.String({ description: 'base64 ciphertext' }),
  server_timestamp: Type.String({ format: 'date-time' }),
});
const noDevice = 'A session without a device: 412 (`details.reason: no_device`).';

export function e2eeRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/devices',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Register the calling session as a device',
        description: `Binds the caller's session to a new device (the device is always found through the session, never named by the caller). \`primary: true\` takes device id 1 and sets the account's identity key; a primary with a *different* identity key than the account's is a reinstall: the identity key is replaced, every other device is removed (keys and queues deleted) and IdentityKeyChanged is emitted. A linked device (\`primary: false\`) takes the lowest free id from 2 and must present the account's identity key (409 \`identity_mismatch\`; \`no_identity\` before any primary). At most ${MAX_DEVICES} devices (409 \`too_many_devices\`); one per session (409 \`session_has_device\`).`,
        security: bearer,
        body: Type.Object(
          { registration_id: Type.Integer({ minimum: 1, maximum: 16_380 }), identity_key: EcKey, primary: Type.Boolean(), name: Type.Optional(Type.String({ maxLength: 64 })) },
          { additionalProperties: false },
        ),
        response: { 201: Device, 400: ErrorBody, 401: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => reply.code(201).send(await registerDevice(ctx, identity(req), req.body, requestMeta(req))),
  );

  app.get(
    '/api/v1/devices',
    { config: { auth: 'required' }, schema: { summary: "The caller's devices", security: bearer, response: { 200: Type.Object({ items: Type.Array(Device) }), 401: ErrorBody } } },
    async (req) => ({ items: await listDevices(ctx, identity(req)) }),
  );

  app.delete(
    '/api/v1/devices/:deviceId',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Remove one of your devices',
        description: 'Any of the caller\'s own devices (the current one too). It stops receiving at once: its queued envelopes and one-time prekeys are deleted, senders get it as `extra` (409) from then on. DeviceRemoved is emitted.',
        security: bearer,
        params: Type.Object({ deviceId: DeviceId }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await removeDevice(ctx, identity(req), req.params.deviceId, requestMeta(req));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/devices/me/envelopes',
    {
      config: { auth: 'required' },
      schema: {
        summary: "The calling device's queued envelopes",
        description: `Oldest first, at most ${MAX_PAGE} per page; \`cursor\` is the last envelope id seen (\`next_cursor\`). Envelopes stay until acknowledged (POST …/ack or a WebSocket \`envelope_ack\` frame), or MESSAGING_E2EE_ENVELOPE_TTL_DAYS (30) pass. ${noDevice}`,
        security: bearer,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 50 })), cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Envelope), next_cursor: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorBody, 401: ErrorBody, 412: ErrorBody },
      },
    },
    async (req) => listEnvelopes(ctx, identity(req), req.query.limit ?? 50, req.query.cursor),
  );

  app.post(
    '/api/v1/devices/me/envelopes/ack',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Acknowledge (delete) envelopes of the calling device',
        description: `Up to ${MAX_ACK} ids; ids that are not in the calling device's queue are ignored. ${noDevice}`,
        security: bearer,
        body: Type.Object({ ids: Type.Array(Type.String({ pattern: '^[0-9]{1,19}$' }), { minItems: 1, maxItems: MAX_ACK }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ deleted: Type.Integer({ minimum: 0 }) }), 400: ErrorBody, 401: ErrorBody, 412: ErrorBody },
      },
    },
    async (req) => ({ deleted: await ackEnvelopes(ctx, identity(req), req.body.ids) }),
  );

  app.put(
    '/api/v1/keys',
    {
      config: { auth: 'required' },
      schema: {
        summary: "Upload the calling device's prekeys",
        description: `\`signed_prekey\` (EC) and \`kyber_last_resort\` (signed Kyber / ML-KEM) replace the device's (required, together, on the first upload); \`one_time_prekeys\` (EC) and \`one_time_kyber_prekeys\` (signed), at most ${MAX_PREKEYS_PER_UPLOAD} of each, are added (an existing key id is overwritten); a device keeps at most ${MAX_ONE_TIME_PREKEYS} of each kind (more: 400 \`details.reason: too_many_prekeys\`, nothing stored). Every signature must verify (XEdDSA over Curve25519) against the account's identity key over the serialized public key: one bad signature refuses the whole upload (400 \`details.reason: bad_signature\`) and nothing is stored. Answers the one-time prekeys now left. ${noDevice}`,
        security: bearer,
        body: Type.Object(
          {
            signed_prekey: Type.Optional(SignedEc),
            kyber_last_resort: Type.Optional(SignedKem),
            one_time_prekeys: Type.Optional(Type.Array(Type.Object({ key_id: KeyId, public_key: EcKey }, { additionalProperties: false }), { maxItems: MAX_PREKEYS_PER_UPLOAD })),
            one_time_kyber_prekeys: Type.Optional(Type.Array(SignedKem, { maxItems: MAX_PREKEYS_PER_UPLOAD })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Counts, 400: ErrorBody, 401: ErrorBody, 412: ErrorBody },
      },
    },
    async (req) => uploadKeys(ctx, identity(req), req.body),
  );

  app.get(
    '/api/v1/keys/count',
    { config: { auth: 'required' }, schema: { summary: 'One-time prekeys left for the calling device', description: `Replenish when low. ${noDevice}`, security: bearer, response: { 200: Counts, 401: ErrorBody, 412: ErrorBody } } },
    async (req) => keyCounts(ctx, identity(req)),
  );

  const bundleDescription =
    "Pre-key bundles (PQXDH) of the user's devices that uploaded keys: identity key, and per device its registration id, signed EC prekey, one claimed one-time EC prekey (`null` when none are left), and one claimed one-time Kyber prekey or, when those ran out, the signed last-resort Kyber prekey (`last_resort: true`). Claimed keys are deleted at once: two concurrent fetches never get the same one. Rate limited per caller with the fail-closed `keys` preset (503 RATE_LIMITER_UNAVAILABLE when Redis cannot count).";
  const Bundle = Type.Object({
    user_id: Uuid,
    identity_key: Type.String(),
    devices: Type.Array(
      Type.Object({
        device_id: DeviceId,
        registration_id: Type.Integer(),
        signed_prekey: Type.Object({ key_id: Type.Integer(), public_key: Type.String(), signature: Type.String() }),
        prekey: Type.Union([Type.Object({ key_id: Type.Integer(), public_key: Type.String() }), Type.Null()]),
        kyber_prekey: Type.Object({ key_id: Type.Integer(), public_key: Type.String(), signature: Type.String(), last_resort: Type.Boolean() }),
      }),
    ),
  });
  app.get(
    '/api/v1/keys/:userId',
    {
      config: { auth: 'required', rateLimit: 'keys' },
      schema: { summary: "Fetch a user's pre-key bundles", description: bundleDescription, security: bearer, params: Type.Object({ userId: Uuid }, { additionalProperties: false }), response: { 200: Bundle, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 429: ErrorBody, 503: ErrorBody } },
    },
    async (req) => fetchBundles(ctx, req.params.userId),
  );
  app.get(
    '/api/v1/keys/:userId/:deviceId',
    {
      config: { auth: 'required', rateLimit: 'keys' },
      schema: { summary: "Fetch one device's pre-key bundle", description: bundleDescription, security: bearer, params: Type.Object({ userId: Uuid, deviceId: DeviceId }, { additionalProperties: false }), response: { 200: Bundle, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 429: ErrorBody, 503: ErrorBody } },
    },
    async (req) => fetchBundles(ctx, req.params.userId, req.params.deviceId),
  );

  app.get(
    '/api/v1/keys/:userId/fingerprint',
    {
      config: { auth: 'required' },
      schema: {
        summary: "A user's identity key and safety-number fingerprint",
        description:
          "`fingerprint`: the user's 30-digit half of a safety number, computed exactly as libsignal's displayable fingerprint (version 2): SHA-512 over 0x0000 ‖ identity key ‖ the user id's 16 bytes ‖ identity key, iterated 5200 times (SHA-512(previous ‖ identity key)), the first 30 bytes as six 5-byte big-endian numbers mod 100000. `safety_number`: the caller's and this user's halves, smaller first (60 digits; null when the caller has no identity key). Compare it out of band: it changes when either identity key changes (IdentityKeyChanged).",
        security: bearer,
        params: Type.Object({ userId: Uuid }, { additionalProperties: false }),
        response: {
          200: Type.Object({ user_id: Uuid, identity_key: Type.String(), identity_changed_at: Type.String({ format: 'date-time' }), fingerprint: Type.String(), iterations: Type.Integer(), safety_number: Type.Union([Type.String(), Type.Null()]) }),
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (req) => fingerprintOf(ctx, identity(req), req.params.userId),
  );

  app.post(
    '/api/v1/conversations/:id/envelopes',
    {
      config: { auth: 'required' },
      bodyLimit: ctx.config.MESSAGING_E2EE_MAX_SEND_MIB * 1024 * 1024,
      schema: {
        summary: 'Send an end-to-end-encrypted message (one envelope per device)',
        description: `For e2ee conversations (409 \`not_e2ee\` otherwise). One envelope per device of every member, the sender's other devices included and the sending device excluded, each naming the device (\`user_id\`, \`device_id\`) and the \`registration_id\` the sender's session has for it, with the libsignal message \`type\` and the base64 ciphertext (≤ MESSAGING_E2EE_MAX_ENVELOPE_KIB, 256 KiB: 413). The set must match the current devices: 409 \`device_mismatch\` with \`missing\` and \`extra\` devices; 410 \`stale_devices\` with \`stale\` ones (re-registered: new registration id). Nothing is queued unless all is right. Each device gets an \`envelope\` frame on its sockets and keeps the envelope queued until it acknowledges it. ${noDevice}`,
        security: bearer,
        params: ConversationParams,
        body: Type.Object(
          {
            envelopes: Type.Array(
              Type.Object(
                { user_id: Uuid, device_id: DeviceId, registration_id: Type.Integer({ minimum: 1, maximum: 16_380 }), type: Type.Integer({ minimum: 1, maximum: 255 }), content: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9+/]*={0,2}$' }) },
                { additionalProperties: false },
              ),
              { maxItems: MAX_SEND_ENVELOPES },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ server_timestamp: Type.String({ format: 'date-time' }), count: Type.Integer({ minimum: 0 }) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 410: ErrorBody, 412: ErrorBody, 413: ErrorBody },
      },
    },
    async (req, reply) => reply.code(201).send(await sendEnvelopes(ctx, identity(req), req.params.id, req.body.envelopes, requestMeta(req))),
  );
}
