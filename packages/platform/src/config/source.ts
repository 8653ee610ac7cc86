import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Where configuration values come from, resolved once at boot:
 *  1. `NAME` in the environment;
 *  2. `NAME_FILE` in the environment: the file's content (trimmed), the usual way to mount secrets;
 *  3. when `NOVA_SECRETS_MANAGER_SECRET_ID` is set, a JSON object stored in AWS Secrets Manager whose
 *     keys are variable names (fetched once at boot).
 * The environment wins over the file, the file over Secrets Manager.
 */
export interface ConfigSource {
  get(name: string): string | undefined;
  /** Which of the three places a value came from (for `nova config` and error messages). */
  origin(name: string): 'env' | 'file' | 'secrets-manager' | undefined;
}

export class ConfigSourceError extends Error {}

export function envSource(env: Record<string, string | undefined>, remote: Record<string, string> = {}): ConfigSource {
  const fileCache = new Map<string, string>();
  const fromFile = (name: string): string | undefined => {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '') return undefined;
    if (!fileCache.has(name)) {
      try {
        fileCache.set(name, readFileSync(path, 'utf8').trim());
      } catch (err) {
        throw new ConfigSourceError(`${name}_FILE points at ${path}, which cannot be read (${(err as Error).message})`);
      }
    }
    return fileCache.get(name);
  };
  return {
    get(name) {
      const direct = env[name];
      if (direct !== undefined) return direct;
      return fromFile(name) ?? remote[name];
    },
    origin(name) {
      if (env[name] !== undefined) return 'env';
      if (fromFile(name) !== undefined) return 'file';
      if (remote[name] !== undefined) return 'secrets-manager';
      return undefined;
    },
  };
}

/** Builds the config source, fetching the Secrets Manager overlay when one is configured. */
export async function loadConfigSource(env: Record<string, string | undefined>): Promise<ConfigSource> {
  const secretId = env.NOVA_SECRETS_MANAGER_SECRET_ID;
  if (secretId === undefined || secretId === '') return envSource(env);
  // Static keys when the environment has them; otherwise the SDK's chain (web identity, instance role).
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
      : undefined;
  const client = new SecretsManagerClient({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(env.NOVA_SECRETS_MANAGER_ENDPOINT ? { endpoint: env.NOVA_SECRETS_MANAGER_ENDPOINT } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: 3,
  });
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const text = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ConfigSourceError(`secret ${secretId} is not a JSON object of VARIABLE: value pairs`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigSourceError(`secret ${secretId} is not a JSON object of VARIABLE: value pairs`);
    }
    const remote: Record<string, string> = {};
    for (const [k, val] of Object.entries(parsed)) remote[k] = typeof val === 'string' ? val : JSON.stringify(val);
    return envSource(env, remote);
  } catch (err) {
    if (err instanceof ConfigSourceError) throw err;
    throw new ConfigSourceError(
      `NOVA_SECRETS_MANAGER_SECRET_ID=${secretId} is set but the secret could not be read: ${(err as Error).name}: ${(err as Error).message}`,
    );
  } finally {
    client.destroy();
  }
}
