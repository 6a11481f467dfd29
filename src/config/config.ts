import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MailtrailError } from '../core/errors.js';
import { parseRetrySchedule } from '../outbound/schedule.js';
import { IP_STORAGE_MODES, type IpStorage } from '../engagement/client-ip.js';
import { loadMachineRanges, type MachineRangesFile } from '../engagement/machine-ranges.js';
import { parseCidrs } from '../net/cidrs.js';
import { parseAllowedCidrs } from '../outbound/ssrf.js';
import { generateMasterSecret } from '../security/secret-box.js';

/** Everything `mailtrail serve` can be told, from environment variables and their matching flags. */
export interface Config {
  port: number;
  host: string;
  /** postgres:// URL; unset means the embedded SQLite database in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  publicUrl: string;
  /** The master secret for sealing stored secrets; resolved by `resolveMasterSecret`. */
  secret: string | undefined;
  logLevel: LogLevel;
  production: boolean;
  bodyLimit: number;
  /** SNS signing certificates provided as files, for hosts that cannot reach AWS. */
  snsCertDir: string | undefined;
  /** First-party open, click and unsubscribe tracking. */
  tracking: {
    /** MAILTRAIL_TRACKING_URL: the base of tracking URLs (a custom tracking domain); default PUBLIC_URL. */
    baseUrl: string;
    /** MAILTRAIL_SECRET_PREVIOUS: earlier master secrets whose tracking tokens still open after a rotation. */
    previousSecrets: string[];
    /** MAILTRAIL_TRUST_PROXY: proxies whose forwarding headers name the client. */
    trustProxy: string[];
    /** MAILTRAIL_IP_STORAGE: what is kept of a hit's address. */
    ipStorage: IpStorage;
    /** MAILTRAIL_MACHINE_RANGES: an operator's address ranges for machine detection, instead of the shipped ones. */
    machineRanges: MachineRangesFile | undefined;
  };
  outbound: {
    concurrency: number;
    retrySchedule: readonly number[];
    allowPrivate: boolean;
    allowedCidrs: string[];
    requestTimeoutMs: number;
  };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ConfigFlags {
  port?: string | undefined;
  host?: string | undefined;
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  publicUrl?: string | undefined;
  logLevel?: string | undefined;
}

const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;

/** Reads and checks the configuration; every bad setting is one clear line naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: ConfigFlags = {}): Config {
  const port = integer('PORT', flags.port ?? env.PORT ?? '3000', 0, 65535);
  const host = flags.host ?? env.HOST ?? '0.0.0.0';
  const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL ?? undefined;
  if (databaseUrl !== undefined && databaseUrl !== '' && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    fail('DATABASE_URL must be a postgres:// or postgresql:// URL (leave it unset for the embedded database)');
  }
  const publicUrl = httpUrl('PUBLIC_URL', flags.publicUrl ?? env.PUBLIC_URL ?? `http://localhost:${port}`);
  const logLevel = (flags.logLevel ?? env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) fail(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const secret = env.MAILTRAIL_SECRET || undefined;
  if (secret !== undefined && secret.length < 32) fail('MAILTRAIL_SECRET must be at least 32 characters (try: openssl rand -base64 32)');
  const production = env.NODE_ENV === 'production';
  if (production && secret === undefined) fail('MAILTRAIL_SECRET is required when NODE_ENV=production (try: openssl rand -base64 32)');
  // Every process on one PostgreSQL database must seal and open keys with the same secret: one generated into a
  // local data directory would make keys stored by one process unreadable by the others.
  if (databaseUrl && secret === undefined) fail('MAILTRAIL_SECRET is required with DATABASE_URL, the same on every process (try: openssl rand -base64 32)');
  const previousSecrets = (env.MAILTRAIL_SECRET_PREVIOUS ?? '').split(',').map((part) => part.trim()).filter(Boolean);
  if (previousSecrets.some((previous) => previous.length < 32)) fail('MAILTRAIL_SECRET_PREVIOUS must list secrets of at least 32 characters, separated by commas');
  const ipStorage = (env.MAILTRAIL_IP_STORAGE || 'truncated').toLowerCase();
  if (!(IP_STORAGE_MODES as readonly string[]).includes(ipStorage)) fail(`MAILTRAIL_IP_STORAGE must be one of ${IP_STORAGE_MODES.join(', ')}, got "${ipStorage}"`);
  return {
    port,
    host,
    databaseUrl: databaseUrl || undefined,
    dataDir: resolve(flags.dataDir ?? env.MAILTRAIL_DATA_DIR ?? './.mailtrail'),
    publicUrl,
    secret,
    logLevel: logLevel as LogLevel,
    production,
    bodyLimit: integer('MAILTRAIL_BODY_LIMIT', env.MAILTRAIL_BODY_LIMIT ?? String(DEFAULT_BODY_LIMIT), 1024, 1024 * 1024 * 1024),
    snsCertDir: directory('MAILTRAIL_SNS_CERT_DIR', env.MAILTRAIL_SNS_CERT_DIR),
    tracking: {
      baseUrl: env.MAILTRAIL_TRACKING_URL ? httpUrl('MAILTRAIL_TRACKING_URL', env.MAILTRAIL_TRACKING_URL) : publicUrl,
      previousSecrets,
      trustProxy: attempt(() => parseCidrs(env.MAILTRAIL_TRUST_PROXY, 'MAILTRAIL_TRUST_PROXY')),
      ipStorage: ipStorage as IpStorage,
      machineRanges: env.MAILTRAIL_MACHINE_RANGES ? attempt(() => loadMachineRanges(env.MAILTRAIL_MACHINE_RANGES!), 'MAILTRAIL_MACHINE_RANGES') : undefined,
    },
    outbound: {
      concurrency: integer('MAILTRAIL_WEBHOOK_CONCURRENCY', env.MAILTRAIL_WEBHOOK_CONCURRENCY ?? '16', 1, 256),
      retrySchedule: attempt(() => parseRetrySchedule(env.MAILTRAIL_RETRY_SCHEDULE)),
      allowPrivate: boolean('MAILTRAIL_WEBHOOK_ALLOW_PRIVATE', env.MAILTRAIL_WEBHOOK_ALLOW_PRIVATE),
      allowedCidrs: attempt(() => parseAllowedCidrs(env.MAILTRAIL_WEBHOOK_ALLOWED_CIDRS)),
      requestTimeoutMs: integer('MAILTRAIL_WEBHOOK_TIMEOUT', env.MAILTRAIL_WEBHOOK_TIMEOUT ?? '15', 1, 60) * 1000,
    },
  };
}

/** An absolute http(s) URL without trailing slashes. */
function httpUrl(name: string, value: string): string {
  const url = value.replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail(`${name} must be an absolute http(s) URL, got "${url}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail(`${name} must start with http:// or https://, got "${url}"`);
  return url;
}

function boolean(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  return fail(`${name} must be true or false, got "${value}"`);
}

/** Runs a parser whose errors are configuration errors: one line, naming the setting. */
function attempt<T>(parse: () => T, name?: string): T {
  try {
    return parse();
  } catch (error) {
    return fail(name ? `${name}: ${(error as Error).message}` : (error as Error).message);
  }
}

function directory(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const path = resolve(value);
  if (!existsSync(path) || !statSync(path).isDirectory()) fail(`${name} must be an existing directory, got "${value}"`);
  return path;
}

/**
 * The master secret: MAILTRAIL_SECRET when set; otherwise the one kept in the data directory, generated on
 * first start. Losing it makes stored signing keys unreadable, so it is never regenerated over an existing one.
 */
export function resolveMasterSecret(config: Pick<Config, 'secret' | 'dataDir' | 'production'>): string {
  if (config.secret) return config.secret;
  if (config.production) fail('MAILTRAIL_SECRET is required when NODE_ENV=production');
  const file = join(config.dataDir, 'secret');
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length < 32) fail(`${file} does not hold a valid master secret; restore it from a backup or set MAILTRAIL_SECRET`);
    return stored;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = generateMasterSecret();
  writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}

function integer(name: string, value: string, min: number, max: number): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min || number > max) {
    fail(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return number;
}

function fail(message: string): never {
  throw new MailtrailError('MT_ERR_CONFIG', message);
}
