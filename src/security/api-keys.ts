import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'mt_sk_';

/** A new secret API key. Only its hash is stored; the key itself is shown once. */
export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key), prefix: key.slice(0, PREFIX.length + 4) };
}

/** API keys carry 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The key from `Authorization: ApiKey <key>` or `Authorization: Bearer <key>`, if any. */
export function apiKeyFromHeader(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^(?:ApiKey|Bearer)\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}
