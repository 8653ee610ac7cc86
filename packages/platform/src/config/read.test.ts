import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envSource, platformSpec, readConfig, v } from '../index.js';

describe('readConfig', () => {
  it('applies defaults and parses types', () => {
    const cfg = readConfig(platformSpec, envSource({ HTTP_PORT: '8181', GRPC_TLS_ENABLED: 'true', TRUSTED_PROXIES: '10.0.0.1, 10.0.0.0/8' }));
    expect(cfg.HTTP_PORT).toBe(8181);
    expect(cfg.GRPC_PORT).toBe(9090);
    expect(cfg.APP_ENV).toBe('development');
    expect(cfg.GRPC_TLS_ENABLED).toBe(true);
    expect(cfg.TRUSTED_PROXIES).toEqual(['10.0.0.1', '10.0.0.0/8']);
  });

  it('names every bad variable at once', () => {
    let caught: unknown;
    try {
      readConfig(platformSpec, envSource({ HTTP_PORT: 'eighty', APP_ENV: 'prod', REDIS_URL: 'http://x' }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const msg = (caught as Error).message;
    expect(msg).toContain('HTTP_PORT must be an integer');
    expect(msg).toContain('APP_ENV must be one of development, test, staging, production');
    expect(msg).toContain('REDIS_URL must use redis or rediss');
  });

  it('parses decimal numbers within bounds and refuses anything else', () => {
    const spec = { WEIGHT: v.number({ default: 0.3, min: 0, max: 1, doc: 'a weight' }) };
    expect(readConfig(spec, envSource({})).WEIGHT).toBe(0.3);
    expect(readConfig(spec, envSource({ WEIGHT: ' 0.45 ' })).WEIGHT).toBe(0.45);
    expect(() => readConfig(spec, envSource({ WEIGHT: 'heavy' }))).toThrow(/WEIGHT must be a number, got "heavy"/);
    expect(() => readConfig(spec, envSource({ WEIGHT: '1.5' }))).toThrow(/WEIGHT must be <= 1, got 1.5/);
    expect(() => readConfig(spec, envSource({ WEIGHT: 'Infinity' }))).toThrow(/must be a number/);
  });

  it('reports a missing required variable with its description', () => {
    const spec = { ADMIN_TOKEN: v.string({ required: true, secret: true, doc: 'token for admin endpoints' }) };
    expect(() => readConfig(spec, envSource({}))).toThrow(/ADMIN_TOKEN is required \(token for admin endpoints\)/);
  });

  it('reads secrets from NAME_FILE, with the environment taking precedence', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nova-cfg-'));
    const file = join(dir, 'token');
    writeFileSync(file, 's3cret-from-file\n');
    const spec = { ADMIN_TOKEN: v.string({ required: true, secret: true, doc: 'admin token' }) };
    expect(readConfig(spec, envSource({ ADMIN_TOKEN_FILE: file })).ADMIN_TOKEN).toBe('s3cret-from-file');
    expect(readConfig(spec, envSource({ ADMIN_TOKEN_FILE: file, ADMIN_TOKEN: 'env-wins' })).ADMIN_TOKEN).toBe('env-wins');
  });

  it('names the variable whose _FILE cannot be read', () => {
    const spec = { ADMIN_TOKEN: v.string({ required: true, doc: 'admin token' }) };
    expect(() => readConfig(spec, envSource({ ADMIN_TOKEN_FILE: '/nonexistent/nova' }))).toThrow(/ADMIN_TOKEN_FILE points at \/nonexistent\/nova/);
  });
});
