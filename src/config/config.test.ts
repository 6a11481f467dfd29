import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
  it('tracks on PUBLIC_URL, trusts no proxy and keeps truncated addresses unless told otherwise', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://hub.example.com/' }).tracking).toEqual({ baseUrl: 'https://hub.example.com', previousSecrets: [], trustProxy: [], ipStorage: 'truncated' });
    const previous = 'p'.repeat(32);
    const custom = loadConfig({ MAILTRAIL_TRACKING_URL: 'https://t.example.com/', MAILTRAIL_SECRET_PREVIOUS: ` ${previous} ,${previous}2`, MAILTRAIL_TRUST_PROXY: '10.0.0.0/8, ::1', MAILTRAIL_IP_STORAGE: 'FULL' });
    expect(custom.tracking).toEqual({ baseUrl: 'https://t.example.com', previousSecrets: [previous, `${previous}2`], trustProxy: ['10.0.0.0/8', '::1'], ipStorage: 'full' });
  });
  it('reads an operator\'s machine ranges file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-ranges-'));
    const file = join(dir, 'ranges.json');
    writeFileSync(file, readFileSync(new URL('../engagement/data/machine-ranges.json', import.meta.url)));
    expect(loadConfig({}).tracking.machineRanges).toBeUndefined();
    expect(loadConfig({ MAILTRAIL_MACHINE_RANGES: file }).tracking.machineRanges?.ranges.length).toBeGreaterThan(0);
    writeFileSync(file, '{"ranges": [{"cidr": "not a cidr"}]}');
    expect(() => loadConfig({ MAILTRAIL_MACHINE_RANGES: file })).toThrow(/^MAILTRAIL_MACHINE_RANGES: /);
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
    [{ MAILTRAIL_TRACKING_URL: 'track.example.com' }, /MAILTRAIL_TRACKING_URL must be an absolute/],
    [{ MAILTRAIL_SECRET_PREVIOUS: 'short' }, /MAILTRAIL_SECRET_PREVIOUS must list secrets of at least 32/],
    [{ MAILTRAIL_TRUST_PROXY: '10.0.0.0/33' }, /MAILTRAIL_TRUST_PROXY: "10.0.0.0\/33" is not an address or CIDR/],
    [{ MAILTRAIL_IP_STORAGE: 'hashed' }, /MAILTRAIL_IP_STORAGE must be one of full, truncated, none/],
    [{ MAILTRAIL_MACHINE_RANGES: '/nonexistent/ranges.json' }, /MAILTRAIL_MACHINE_RANGES: machine ranges file \/nonexistent\/ranges.json cannot be read/],
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
