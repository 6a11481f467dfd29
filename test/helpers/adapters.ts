import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { MailtrailError } from '../../src/core/errors.js';
import type { InboundRequest, ProviderAdapter } from '../../src/providers/types.js';

/** The arrival time adapter unit tests pin, so fallbacks to it are visible. */
export const RECEIVED_AT = 1_700_000_000_000;

/** A provider's fixture file from test/fixtures/<provider>/, parsed. */
export function fixture(provider: string, file: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/${provider}/${file}`, import.meta.url), 'utf8'));
}

/** Requests to one adapter, and the two checks its parse tests repeat: exactly one event, or a refused body. */
export function adapterHarness(adapter: ProviderAdapter, receivedAt = RECEIVED_AT) {
  const request = (body: string): InboundRequest => ({
    rawBody: Buffer.from(body, 'utf8'),
    headers: new Map(),
    url: 'http://localhost/',
    contentType: adapter.contentTypes[0]!,
    receivedAt,
    settings: {},
  });
  const parseOne = (body: string) => {
    const events = adapter.parse(request(body));
    expect(events).toHaveLength(1);
    return events[0]!;
  };
  const invalidBody = (body: string): MailtrailError => {
    try {
      adapter.parse(request(body));
    } catch (error) {
      expect(error).toBeInstanceOf(MailtrailError);
      expect((error as MailtrailError).code).toBe('MT_ERR_INVALID_BODY');
      return error as MailtrailError;
    }
    throw new Error(`parse accepted ${body}`);
  };
  return { request, parseOne, invalidBody };
}
