import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigSource, platformSpec, readConfig } from '../index.js';

/** A local stand-in for AWS Secrets Manager speaking its JSON 1.1 protocol (X-Amz-Target: secretsmanager.GetSecretValue). */
let server: Server;
let endpoint: string;
const requests: { target: string | undefined; body: { SecretId?: string }; auth: string | undefined }[] = [];
const secrets: Record<string, string> = {
  'nova/prod': JSON.stringify({ DATABASE_URL: 'postgres://nova:from-sm@db.internal:5432/nova', LOG_LEVEL: 'warn' }),
  'nova/not-json': 'hunter2',
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = JSON.parse((await readBody(req)) || '{}') as { SecretId?: string };
    requests.push({ target: req.headers['x-amz-target'] as string | undefined, body, auth: req.headers.authorization });
    const secret = body.SecretId ? secrets[body.SecretId] : undefined;
    res.setHeader('content-type', 'application/x-amz-json-1.1');
    if (secret === undefined) {
      res.statusCode = 400;
      res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
      return;
    }
    res.end(JSON.stringify({ ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${body.SecretId}`, Name: body.SecretId, SecretString: secret, VersionId: 'v1' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const aws = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

describe('AWS Secrets Manager overlay', () => {
  it('reads variables from the secret, signed with SigV4, with the environment still winning', async () => {
    const source = await loadConfigSource({ ...aws, NOVA_SECRETS_MANAGER_SECRET_ID: 'nova/prod', NOVA_SECRETS_MANAGER_ENDPOINT: endpoint, LOG_LEVEL: 'debug' });
    const cfg = readConfig(platformSpec, source);
    expect(cfg.DATABASE_URL).toBe('postgres://nova:from-sm@db.internal:5432/nova');
    expect(cfg.LOG_LEVEL).toBe('debug');
    expect(source.origin('DATABASE_URL')).toBe('secrets-manager');
    const last = requests.at(-1)!;
    expect(last.target).toBe('secretsmanager.GetSecretValue');
    expect(last.body.SecretId).toBe('nova/prod');
    expect(last.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/);
  });

  it('fails boot with a clear message for a missing or malformed secret', async () => {
    await expect(loadConfigSource({ ...aws, NOVA_SECRETS_MANAGER_SECRET_ID: 'nova/nope', NOVA_SECRETS_MANAGER_ENDPOINT: endpoint })).rejects.toThrow(
      /NOVA_SECRETS_MANAGER_SECRET_ID=nova\/nope is set but the secret could not be read: ResourceNotFoundException/,
    );
    const err = await loadConfigSource({ ...aws, NOVA_SECRETS_MANAGER_SECRET_ID: 'nova/not-json', NOVA_SECRETS_MANAGER_ENDPOINT: endpoint }).catch((e: Error) => e);
    expect((err as Error).message).toContain('is not a JSON object');
    expect((err as Error).message).not.toContain('hunter2');
  });
});
