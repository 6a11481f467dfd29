import { describe, expect, it } from 'vitest';
import { generateMasterSecret } from '../security/secret-box.js';
import { MAX_TOKEN_LENGTH, TrackingTokens, type TrackingTarget } from './tokens.js';

const click: TrackingTarget = {
  kind: 'click',
  environmentId: 'env_01JZ0000000000000000000000',
  messageId: 'welcome-ada-42',
  linkIndex: 300,
  url: 'https://example.com/reset?token=a&b=ü&email=ada@example.com#top',
};

describe('tracking tokens', () => {
  const secret = generateMasterSecret();
  const tokens = new TrackingTokens([secret]);

  it('opens what it sealed, for every kind', () => {
    const targets: TrackingTarget[] = [
      click,
      { kind: 'open', environmentId: 'env_1', messageId: 'msg_1' },
      { kind: 'unsubscribe', environmentId: 'env_1', messageId: 'msg_1' },
      { ...click, linkIndex: 0, url: '' },
      { ...click, url: 'https://example.com/' + 'x'.repeat(4000) },
    ];
    for (const target of targets) expect(tokens.open(tokens.seal(target))).toEqual(target);
  });

  it('is URL-safe and the same for the same target', () => {
    const token = tokens.seal(click);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(tokens.seal(click)).toBe(token);
    expect(tokens.seal({ ...click, linkIndex: 301 })).not.toBe(token);
  });

  it('reveals neither the message, the link nor the recipient', () => {
    const bytes = Buffer.from(tokens.seal(click), 'base64url').toString('latin1');
    for (const secretPart of ['welcome-ada', 'ada@example.com', 'example.com', 'env_01']) expect(bytes).not.toContain(secretPart);
  });

  it('refuses a token with any one byte changed', () => {
    const bytes = Buffer.from(tokens.seal(click), 'base64url');
    for (let index = 0; index < bytes.length; index++) {
      const tampered = Buffer.from(bytes);
      tampered[index]! ^= 0x01;
      expect(tokens.open(tampered.toString('base64url'))).toBeNull();
    }
  });

  it('refuses truncated and extended tokens', () => {
    const token = tokens.seal(click);
    for (const length of [0, 1, 21, 22, token.length - 1]) expect(tokens.open(token.slice(0, length))).toBeNull();
    expect(tokens.open(token + 'A')).toBeNull();
    // base64 spellings of the same bytes: a dangling character, the unused low bits of the last one
    for (const extra of ['A', 'B', '_']) expect(tokens.open(token + token.slice(-1) + extra)).toBeNull();
    // a token whose last character carries unused bits (its length is not a multiple of 4)
    const ragged = [0, 1, 2].map((extra) => tokens.seal({ ...click, url: click.url + 'x'.repeat(extra) })).find((sealed) => sealed.length % 4 !== 0)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(ragged.at(-1)!) ^ 1]!;
    expect(tokens.open(ragged)).not.toBeNull();
    expect(tokens.open(ragged.slice(0, -1) + sibling)).toBeNull();
  });

  it('refuses a token sealed under another secret', () => {
    expect(tokens.open(new TrackingTokens([generateMasterSecret()]).seal(click))).toBeNull();
  });

  it('opens tokens of a previous secret while it is listed, and seals with the current one', () => {
    const previous = generateMasterSecret();
    const old = new TrackingTokens([previous]).seal(click);
    const rotated = new TrackingTokens([secret, previous]);
    expect(rotated.open(old)).toEqual(click);
    expect(rotated.seal(click)).toBe(tokens.seal(click));
    expect(new TrackingTokens([secret]).open(old)).toBeNull();
  });

  it('refuses characters outside base64url and tokens past the length bound without decoding them', () => {
    for (const junk of ['', 'abc+/', 'abc=', '../../etc/passwd', 'a'.repeat(MAX_TOKEN_LENGTH + 1), '%00']) expect(tokens.open(junk)).toBeNull();
  });
});
