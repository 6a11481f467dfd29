import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** What a tracking URL points at: the open pixel, one link of a message, or its unsubscribe page. */
export type TrackingTarget =
  | { kind: 'open'; environmentId: string; messageId: string }
  | { kind: 'click'; environmentId: string; messageId: string; linkIndex: number; url: string }
  | { kind: 'unsubscribe'; environmentId: string; messageId: string };

const FORMAT = 1;
const KINDS = ['open', 'click', 'unsubscribe'] as const;
/** 128 bits: the synthetic IV is also the authentication tag. */
const TAG_BYTES = 16;
/** Longer than any URL a mail client keeps; bounds the work an attacker's token can cause. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

interface TokenKeys {
  encryption: Buffer;
  mac: Buffer;
}

function deriveKeys(secret: string): TokenKeys {
  const material = Buffer.from(hkdfSync('sha256', secret, 'mailtrail', 'mailtrail tracking tokens v1', 64));
  return { encryption: material.subarray(0, 32), mac: material.subarray(32) };
}

/**
 * Seals and opens the tokens of tracking URLs (`/track/open/<token>`, …). A token is deterministic authenticated
 * encryption of its target (SIV: the IV is an HMAC-SHA256 of the plaintext, truncated to 128 bits, then AES-256-CTR),
 * so it needs no database to check, works on every node and after restarts, reveals neither the message nor the
 * link nor anything about the recipient, and the same link of the same message always gets the same URL. Keys come
 * from the master secret; tokens sealed under a previous secret still open while that secret is listed.
 */
export class TrackingTokens {
  private readonly keys: TokenKeys[];

  /** `secrets[0]` seals; every one of them opens. */
  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('tracking tokens need at least one secret');
    this.keys = secrets.map(deriveKeys);
  }

  seal(target: TrackingTarget): string {
    const plaintext = encode(target);
    const { encryption, mac } = this.keys[0]!;
    const iv = createHmac('sha256', mac).update(plaintext).digest().subarray(0, TAG_BYTES);
    const cipher = createCipheriv('aes-256-ctr', encryption, iv);
    return Buffer.concat([iv, cipher.update(plaintext), cipher.final()]).toString('base64url');
  }

  /** The target of a token, or null for anything tampered, truncated, sealed under an unknown secret or malformed. */
  open(token: string): TrackingTarget | null {
    if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
    const bytes = Buffer.from(token, 'base64url');
    // One spelling per token: base64 decoding ignores a dangling character and the unused low bits of the last one.
    if (bytes.length <= TAG_BYTES || bytes.toString('base64url') !== token) return null;
    const iv = bytes.subarray(0, TAG_BYTES);
    for (const { encryption, mac } of this.keys) {
      const decipher = createDecipheriv('aes-256-ctr', encryption, iv);
      const plaintext = Buffer.concat([decipher.update(bytes.subarray(TAG_BYTES)), decipher.final()]);
      const expected = createHmac('sha256', mac).update(plaintext).digest().subarray(0, TAG_BYTES);
      if (timingSafeEqual(expected, iv)) return decode(plaintext);
    }
    return null;
  }
}

// The plaintext: format, kind, then length-prefixed environment and message ids; a click adds its link index and
// the URL as the rest of the bytes. Lengths and the index are LEB128 varints.

function encode(target: TrackingTarget): Buffer {
  const parts: Buffer[] = [Buffer.from([FORMAT, KINDS.indexOf(target.kind)]), text(target.environmentId), text(target.messageId)];
  if (target.kind === 'click') parts.push(varint(target.linkIndex), Buffer.from(target.url, 'utf8'));
  return Buffer.concat(parts);
}

function decode(plaintext: Buffer): TrackingTarget | null {
  if (plaintext[0] !== FORMAT) return null;
  const kind = KINDS[plaintext[1] ?? -1];
  const reader = { bytes: plaintext, at: 2 };
  const environmentId = readText(reader);
  const messageId = readText(reader);
  if (kind === undefined || environmentId === null || messageId === null) return null;
  if (kind !== 'click') return reader.at === plaintext.length ? { kind, environmentId, messageId } : null;
  const linkIndex = readVarint(reader);
  if (linkIndex === null) return null;
  return { kind, environmentId, messageId, linkIndex, url: plaintext.subarray(reader.at).toString('utf8') };
}

function varint(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative integer: ${value}`);
  const bytes: number[] = [];
  do {
    const low = value % 128;
    value = Math.floor(value / 128);
    bytes.push(value > 0 ? low | 0x80 : low);
  } while (value > 0);
  return Buffer.from(bytes);
}

function text(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([varint(bytes.length), bytes]);
}

function readVarint(reader: { bytes: Buffer; at: number }): number | null {
  let value = 0;
  for (let shift = 1; reader.at < reader.bytes.length && shift < 2 ** 49; shift *= 128) {
    const byte = reader.bytes[reader.at++]!;
    value += (byte & 0x7f) * shift;
    if ((byte & 0x80) === 0) return value;
  }
  return null;
}

function readText(reader: { bytes: Buffer; at: number }): string | null {
  const length = readVarint(reader);
  if (length === null || reader.at + length > reader.bytes.length) return null;
  const value = reader.bytes.subarray(reader.at, reader.at + length).toString('utf8');
  reader.at += length;
  return value;
}
