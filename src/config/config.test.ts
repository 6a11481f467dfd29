import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, resolveMasterSecret } from './config.js';

describe('loadConfig', () => {
  it('has defaults that run a local server', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, databaseUrl: undefined, publicUrl: 'http://localhost:3000', logLevel: 'info', bodyLimit: 10 * 1024 * 1024 });
    expect(config.dataDir.endsWith('.mailtrail')).toBe(true);
  });
  it('lets flags win over the environment', () => {
    expect(loadConfig({ PORT: '4000' }, { port: '5000' }).port).toBe(5000);
  });
  it.each([
    [{ PORT: 'abc' }, /PORT must be a whole number/],
    [{ PORT: '70000' }, /PORT must be a whole number/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a postgres/],
    [{ PUBLIC_URL: 'not a url' }, /PUBLIC_URL must be an absolute/],
    [{ PUBLIC_URL: 'ftp://host' }, /PUBLIC_URL must start with http/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ MAILTRAIL_SECRET: 'short' }, /MAILTRAIL_SECRET must be at least 32/],
    [{ NODE_ENV: 'production' }, /MAILTRAIL_SECRET is required/],
    [{ DATABASE_URL: 'postgres://localhost/db' }, /MAILTRAIL_SECRET is required with DATABASE_URL/],
  ])('refuses %o with one clear line', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('resolveMasterSecret', () => {
  it('generates a secret into the data directory once, readable by the owner only', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'mailtrail-config-')), 'data');
    const first = resolveMasterSecret({ secret: undefined, dataDir, production: false });
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(resolveMasterSecret({ secret: undefined, dataDir, production: false })).toBe(first);
    expect(readFileSync(join(dataDir, 'secret'), 'utf8').trim()).toBe(first);
    expect(statSync(join(dataDir, 'secret')).mode & 0o077).toBe(0);
  });
  it('prefers MAILTRAIL_SECRET', () => {
    expect(resolveMasterSecret({ secret: 'x'.repeat(40), dataDir: '/nonexistent', production: true })).toBe('x'.repeat(40));
  });
});
