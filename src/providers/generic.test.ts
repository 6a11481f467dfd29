import { describe, expect, it } from 'vitest';
import { generic } from './generic.js';
import type { InboundRequest } from './types.js';

function parse(body: string) {
  const request: InboundRequest = { rawBody: Buffer.from(body), headers: new Map(), url: 'https://mailtrail.example/', contentType: 'application/json', receivedAt: 1, settings: {} };
  return generic.parse(request);
}

describe('generic.parse', () => {
  it("reads the inbound response's own shape, with the optional fields beside event", () => {
    const body = '[{"id":"mta-1","event":{"status":"bounced","date":"2026-11-21T10:00:00+01:00","externalId":"x-1","attempts":2,"response":"550 no"},"recipient":"A@Example.com","bounceType":"hard","mailtrailId":"msg_1"}]';
    expect(parse(body)).toEqual([
      {
        status: 'bounced',
        nativeType: 'bounced',
        occurredAt: Date.parse('2026-11-21T09:00:00Z'),
        dedupeKey: 'id:mta-1',
        providerMessageId: 'x-1',
        mailtrailId: 'msg_1',
        recipient: 'a@example.com',
        bounceType: 'hard',
        reason: '550 no',
        attempts: 2,
        url: undefined,
        userAgent: undefined,
        ip: undefined,
        machine: undefined,
        machineReason: undefined,
        raw: body.slice(1, -1),
      },
    ]);
  });

  it('reads a single flat object, and dedupes on its exact text when it has no id', () => {
    const [event] = parse('{"status":"opened","date":"2026-11-21T10:00:00Z","externalId":"x-1","machine":true}');
    expect(event).toMatchObject({ status: 'opened', machine: true, machineReason: 'reported by the sender', dedupeKey: expect.stringMatching(/^sha256:/) });
  });

  it.each([
    ['an unknown status', '{"status":"exploded","date":"2026-11-21T10:00:00Z"}', /no status among/],
    ['no date', '{"status":"sent"}', /no date/],
    ['a date without a time zone', '{"status":"sent","date":"2026-11-21T10:00:00"}', /time zone/],
    ['a bounce type outside the vocabulary', '{"status":"bounced","date":"2026-11-21T10:00:00Z","bounceType":"medium"}', /bounceType "medium"/],
    ['an element that is not an object', '[{"status":"sent","date":"2026-11-21T10:00:00Z"}, 3]', /event 1 is not a JSON object/],
    ['a body that is not JSON', 'status=sent', /not valid JSON/],
  ])('refuses %s with MT_ERR_INVALID_BODY', (_, body, message) => {
    expect(() => parse(body)).toThrow(expect.objectContaining({ code: 'MT_ERR_INVALID_BODY', message: expect.stringMatching(message) }));
  });
});
