import {
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KEMPublicKey,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  SessionRecord,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@signalapp/libsignal-client';
import type { MessagingHarness, TestSocket } from './support.js';

/**
 * FOR TESTS: a real Signal-protocol client (libsignal-client, AGPL, a dev dependency only) talking to the
 * messaging service over HTTP and WebSocket: its own session (token) is its device; in-memory stores.
 */

const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

class Sessions extends SessionStore {
  readonly map = new Map<string, SessionRecord>();
  async saveSession(name: ProtocolAddress, record: SessionRecord) {
    this.map.set(name.toString(), SessionRecord.deserialize(record.serialize()));
  }
  async getSession(name: ProtocolAddress) {
    return this.map.get(name.toString()) ?? null;
  }
  async getExistingSessions(addresses: ProtocolAddress[]) {
    return addresses.map((a) => {
      const s = this.map.get(a.toString());
      if (!s) throw new Error(`no session for ${a.toString()}`);
      return s;
    });
  }
}

class Identities extends IdentityKeyStore {
  readonly known = new Map<string, PublicKey>();
  constructor(
    private readonly pair: IdentityKeyPair,
    private readonly registrationId: number,
  ) {
    super();
  }
  async getIdentityKey() {
    return this.pair.privateKey;
  }
  async getLocalRegistrationId() {
    return this.registrationId;
  }
  async saveIdentity(name: ProtocolAddress, key: PublicKey) {
    const prev = this.known.get(name.name());
    this.known.set(name.name(), key);
    return prev && !prev.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(name: ProtocolAddress, key: PublicKey) {
    const prev = this.known.get(name.name());
    return !prev || prev.equals(key);
  }
  async getIdentity(name: ProtocolAddress) {
    return this.known.get(name.name()) ?? null;
  }
}

class PreKeys extends PreKeyStore {
  readonly map = new Map<number, PreKeyRecord>();
  async savePreKey(id: number, record: PreKeyRecord) {
    this.map.set(id, record);
  }
  async getPreKey(id: number) {
    const r = this.map.get(id);
    if (!r) throw new Error(`no prekey ${id}`);
    return r;
  }
  async removePreKey(id: number) {
    this.map.delete(id);
  }
}

class SignedPreKeys extends SignedPreKeyStore {
  readonly map = new Map<number, SignedPreKeyRecord>();
  async saveSignedPreKey(id: number, record: SignedPreKeyRecord) {
    this.map.set(id, record);
  }
  async getSignedPreKey(id: number) {
    const r = this.map.get(id);
    if (!r) throw new Error(`no signed prekey ${id}`);
    return r;
  }
}

class KyberPreKeys extends KyberPreKeyStore {
  readonly map = new Map<number, KyberPreKeyRecord>();
  readonly used: number[] = [];
  async saveKyberPreKey(id: number, record: KyberPreKeyRecord) {
    this.map.set(id, record);
  }
  async getKyberPreKey(id: number) {
    const r = this.map.get(id);
    if (!r) throw new Error(`no kyber prekey ${id}`);
    return r;
  }
  async markKyberPreKeyUsed(id: number) {
    this.used.push(id);
  }
}

export interface Received {
  conversationId: string;
  senderId: string;
  senderDeviceId: number;
  plaintext: string;
}

export interface DeviceAddress {
  user_id: string;
  device_id: number;
  registration_id: number;
}

export class SignalDevice {
  readonly sessions = new Sessions();
  readonly identities: Identities;
  readonly preKeys = new PreKeys();
  readonly signedPreKeys = new SignedPreKeys();
  readonly kyberPreKeys = new KyberPreKeys();
  deviceId = 0;
  /** Peer devices this client believes in, with the registration id its session has. */
  readonly peers = new Map<string, DeviceAddress>();
  readonly received: Received[] = [];
  socket: TestSocket | undefined;
  private nextKeyId = 1;
  private pump = Promise.resolve();

  private constructor(
    readonly h: MessagingHarness,
    readonly userId: string,
    readonly token: string,
    readonly identity: IdentityKeyPair,
    readonly registrationId: number,
  ) {
    this.identities = new Identities(identity, registrationId);
  }

  /** A new session of `userId` registered as a device (primary with a fresh identity unless one is given), keys uploaded. */
  static async register(h: MessagingHarness, userId: string, opts: { identity?: IdentityKeyPair; primary?: boolean; oneTime?: number; kyber?: number; connect?: boolean } = {}): Promise<SignalDevice> {
    const token = await h.tokenFor(userId);
    const identity = opts.identity ?? IdentityKeyPair.generate();
    const registrationId = 1 + Math.floor(Math.random() * 16_000);
    const d = new SignalDevice(h, userId, token, identity, registrationId);
    const res = await h.api('POST', '/api/v1/devices', { token, body: { registration_id: registrationId, identity_key: b64(identity.publicKey.serialize()), primary: opts.primary ?? !opts.identity } });
    if (res.status !== 201) throw new Error(`register device: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    d.deviceId = res.body.device_id;
    await d.uploadKeys(opts.oneTime ?? 5, opts.kyber ?? 5, true);
    if (opts.connect ?? true) await d.connect();
    return d;
  }

  get address() {
    return ProtocolAddress.new(this.userId, this.deviceId);
  }

  /** The key upload body: a signed prekey and a last-resort Kyber key (when `signed`), and one-time keys. */
  makeUpload(oneTime: number, kyber: number, signed: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    const ts = Date.now();
    if (signed) {
      const id = this.nextKeyId++;
      const priv = PrivateKey.generate();
      const sig = this.identity.privateKey.sign(priv.getPublicKey().serialize());
      void this.signedPreKeys.saveSignedPreKey(id, SignedPreKeyRecord.new(id, ts, priv.getPublicKey(), priv, sig));
      body.signed_prekey = { key_id: id, public_key: b64(priv.getPublicKey().serialize()), signature: b64(sig) };
      const kid = this.nextKeyId++;
      const kp = KEMKeyPair.generate();
      const ksig = this.identity.privateKey.sign(kp.getPublicKey().serialize());
      void this.kyberPreKeys.saveKyberPreKey(kid, KyberPreKeyRecord.new(kid, ts, kp, ksig));
      body.kyber_last_resort = { key_id: kid, public_key: b64(kp.getPublicKey().serialize()), signature: b64(ksig) };
    }
    body.one_time_prekeys = Array.from({ length: oneTime }, () => {
      const id = this.nextKeyId++;
      const priv = PrivateKey.generate();
      void this.preKeys.savePreKey(id, PreKeyRecord.new(id, priv.getPublicKey(), priv));
      return { key_id: id, public_key: b64(priv.getPublicKey().serialize()) };
    });
    body.one_time_kyber_prekeys = Array.from({ length: kyber }, () => {
      const id = this.nextKeyId++;
      const kp = KEMKeyPair.generate();
      const sig = this.identity.privateKey.sign(kp.getPublicKey().serialize());
      void this.kyberPreKeys.saveKyberPreKey(id, KyberPreKeyRecord.new(id, ts, kp, sig));
      return { key_id: id, public_key: b64(kp.getPublicKey().serialize()), signature: b64(sig) };
    });
    return body;
  }

  async uploadKeys(oneTime: number, kyber: number, signed = false) {
    const res = await this.h.api('PUT', '/api/v1/keys', { token: this.token, body: this.makeUpload(oneTime, kyber, signed) });
    if (res.status !== 200) throw new Error(`upload keys: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { ec: number; kyber: number };
  }

  async connect() {
    this.socket = await this.h.connect(this.token);
    this.socket.ws.on('message', (data) => {
      const f = JSON.parse(String(data));
      if (f.type === 'envelope') this.pump = this.pump.then(() => this.accept(f.envelope));
    });
  }

  /** Fetches bundles of a user's devices (or one) and starts a PQXDH session with each. */
  async startSessions(userId: string, deviceId?: number) {
    const res = await this.h.api('GET', `/api/v1/keys/${userId}${deviceId ? `/${deviceId}` : ''}`, { token: this.token });
    if (res.status !== 200) throw new Error(`fetch bundle: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    const ik = PublicKey.deserialize(bytes(res.body.identity_key));
    for (const d of res.body.devices) {
      if (userId === this.userId && d.device_id === this.deviceId) continue;
      const bundle = PreKeyBundle.new(
        d.registration_id,
        d.device_id,
        d.prekey ? d.prekey.key_id : null,
        d.prekey ? PublicKey.deserialize(bytes(d.prekey.public_key)) : null,
        d.signed_prekey.key_id,
        PublicKey.deserialize(bytes(d.signed_prekey.public_key)),
        bytes(d.signed_prekey.signature),
        ik,
        d.kyber_prekey.key_id,
        KEMPublicKey.deserialize(bytes(d.kyber_prekey.public_key)),
        bytes(d.kyber_prekey.signature),
      );
      await processPreKeyBundle(bundle, ProtocolAddress.new(userId, d.device_id), this.address, this.sessions, this.identities);
      this.peers.set(`${userId}.${d.device_id}`, { user_id: userId, device_id: d.device_id, registration_id: d.registration_id });
    }
    return res.body;
  }

  /** Encrypts `plaintext` for every device it knows of among `targets`. */
  async envelopesFor(plaintext: string, targets: DeviceAddress[]) {
    const out = [];
    for (const t of targets) {
      const msg = await signalEncrypt(new Uint8Array(Buffer.from(plaintext, 'utf8')), ProtocolAddress.new(t.user_id, t.device_id), this.address, this.sessions, this.identities);
      out.push({ user_id: t.user_id, device_id: t.device_id, registration_id: t.registration_id, type: msg.type(), content: b64(msg.serialize()) });
    }
    return out;
  }

  /**
   * Sends a message as a real client does: encrypt for the devices it knows; on 409 start sessions with
   * the missing devices and forget the extra ones, on 410 restart the stale ones; retry.
   */
  async send(conversationId: string, plaintext: string, members: string[]): Promise<{ attempts: number; status: number }> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const targets = [...this.peers.values()].filter((p) => members.includes(p.user_id));
      const envelopes = await this.envelopesFor(plaintext, targets);
      const res = await this.h.api('POST', `/api/v1/conversations/${conversationId}/envelopes`, { token: this.token, body: { envelopes } });
      if (res.status === 201) return { attempts: attempt, status: 201 };
      if (res.status === 409 && res.body.error?.details?.reason === 'device_mismatch') {
        for (const e of res.body.error.details.extra) this.peers.delete(`${e.user_id}.${e.device_id}`);
        for (const m of res.body.error.details.missing) await this.startSessions(m.user_id, m.device_id);
        continue;
      }
      if (res.status === 410) {
        for (const s of res.body.error.details.stale) await this.startSessions(s.user_id, s.device_id);
        continue;
      }
      throw new Error(`send: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    }
    throw new Error('send: too many attempts');
  }

  /** Decrypts one envelope (PreKey or Whisper message) and records the plaintext. */
  async decrypt(e: { id: string; conversation_id: string; sender_id: string; sender_device_id: number; type: number; content: string }): Promise<string> {
    const from = ProtocolAddress.new(e.sender_id, e.sender_device_id);
    const body = bytes(e.content);
    const plain =
      e.type === 3
        ? await signalDecryptPreKey(PreKeySignalMessage.deserialize(body), from, this.address, this.sessions, this.identities, this.preKeys, this.signedPreKeys, this.kyberPreKeys)
        : await signalDecrypt(SignalMessage.deserialize(body), from, this.address, this.sessions, this.identities);
    const text = Buffer.from(plain).toString('utf8');
    // A session the peer started: this client can answer over it without fetching a bundle.
    const session = await this.sessions.getSession(from);
    if (session && !this.peers.has(`${e.sender_id}.${e.sender_device_id}`)) this.peers.set(`${e.sender_id}.${e.sender_device_id}`, { user_id: e.sender_id, device_id: e.sender_device_id, registration_id: session.remoteRegistrationId() });
    this.received.push({ conversationId: e.conversation_id, senderId: e.sender_id, senderDeviceId: e.sender_device_id, plaintext: text });
    return text;
  }

  private async accept(e: Parameters<SignalDevice['decrypt']>[0]) {
    await this.decrypt(e);
    this.socket?.send({ type: 'envelope_ack', ids: [e.id] });
  }

  /** Waits until a plaintext was received (over the WebSocket). */
  async waitFor(plaintext: string, timeoutMs = 10_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.pump;
      const r = this.received.find((x) => x.plaintext === plaintext);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`device ${this.userId}.${this.deviceId} did not receive ${JSON.stringify(plaintext)}; got ${JSON.stringify(this.received.map((x) => x.plaintext))}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  /** Reads the queue over HTTP, decrypts and acknowledges everything in it. */
  async drainHttp(): Promise<string[]> {
    const texts: string[] = [];
    for (;;) {
      const res = await this.h.api('GET', '/api/v1/devices/me/envelopes?limit=100', { token: this.token });
      if (res.status !== 200) throw new Error(`envelopes: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      if (res.body.items.length === 0) return texts;
      for (const e of res.body.items) texts.push(await this.decrypt(e));
      const ack = await this.h.api('POST', '/api/v1/devices/me/envelopes/ack', { token: this.token, body: { ids: res.body.items.map((e: { id: string }) => e.id) } });
      if (ack.status !== 200) throw new Error(`ack: HTTP ${ack.status}`);
    }
  }

  close() {
    this.socket?.close();
  }
}
