import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

// Hostile and broken input: whatever arrives, the server answers with a stable 4xx code, never a 500, and stores
// nothing it could not verify.
const RUNS = 150;

// any UTF-16 code unit, lone surrogates and NUL included (JSON.stringify writes those as \u escapes)
const anyText = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), maxLength: 12 });
const fieldNames = fc.constantFrom('event', 'email', 'timestamp', 'sg_event_id', 'sg_message_id', 'type', 'attempt', 'mailtrail_id', 'url', 'reason');

const jsonish = fc.oneof(
  fc.array(fc.dictionary(fieldNames, fc.oneof(anyText, fc.constantFrom('delivered', 'open', 'bounce', 'processed'), fc.double(), fc.integer())), { maxLength: 4 }).map((events) =>
    JSON.stringify(events),
  ),
  fc.json(),
  fc.string(),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc.array(fc.dictionary(fieldNames, fc.jsonValue()), { maxLength: 5 }).map((events) => JSON.stringify(events)),
);

for (const dialect of DIALECTS) {
  describe(`${dialect}: inbound under random and mutated input`, () => {
    let server: TestServer;
    const keys = sendgridKeys();
    let signedPath: string;
    let unsignedPath: string;

    beforeAll(async () => {
      server = await startServer(dialect);
      const signed = (await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'signed', signingKey: keys.publicKeyBase64 } })).body;
      const unsigned = (await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'open', allowUnsigned: true } })).body;
      signedPath = new URL(signed.inboundWebhookUrl).pathname;
      unsignedPath = new URL(unsigned.inboundWebhookUrl).pathname;
    });
    afterAll(async () => {
      await server.stop();
    });

    const storedEvents = async () => (await server.api('/v1/events?limit=500')).body.data.length as number;

    it('refuses every forged or mutated request to a signed integration, and stores none of it', async () => {
      const genuine = sendgridBatch([{ email: 'f@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'fz', sg_message_id: 'FZ.1' }]);
      const genuineHeaders = signSendgrid(keys.privateKey, genuine);
      await fc.assert(
        fc.asyncProperty(
          jsonish,
          fc.record({ signature: fc.option(fc.base64String({ maxLength: 120 }), { nil: undefined }), timestamp: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }) }),
          fc.nat({ max: genuine.length - 1 }),
          async (body, headers, flip) => {
            // either random bytes with random headers, or the genuine body with one byte changed and real headers
            const mutated = genuine.slice(0, flip) + String.fromCharCode((genuine.charCodeAt(flip) + 1) % 128) + genuine.slice(flip + 1);
            for (const [payload, sent] of [
              [body, { 'content-type': 'application/json', ...(headers.signature !== undefined ? { 'x-twilio-email-event-webhook-signature': headers.signature } : {}), ...(headers.timestamp !== undefined ? { 'x-twilio-email-event-webhook-timestamp': headers.timestamp } : {}) }],
              [mutated, genuineHeaders],
            ] as const) {
              const response = await fetch(server.url + signedPath, { method: 'POST', headers: sent, body: payload });
              expect(response.status).toBe(401);
              const error = ((await response.json()) as { error: { code: string } }).error;
              expect(['MT_ERR_SIGNATURE_MISSING', 'MT_ERR_SIGNATURE_INVALID']).toContain(error.code);
            }
          },
        ),
        { numRuns: RUNS },
      );
      expect(await storedEvents()).toBe(0);
    });

    it('answers any body to an integration that accepts unsigned requests with 200 or a stable 400, never a 500', async () => {
      await fc.assert(
        fc.asyncProperty(jsonish, async (body) => {
          // each body twice: a retry must answer the same way
          const response = await fetch(server.url + unsignedPath, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const text = await response.text();
          expect([200, 400], text).toContain(response.status);
          const retry = await fetch(server.url + unsignedPath, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          expect(retry.status, body).toBe(response.status);
          if (response.status === 200) expect(await retry.text()).toBe(text);
          else await retry.text();
          if (response.status === 400) expect(JSON.parse(text).error.code).toBe('MT_ERR_INVALID_BODY');
          else for (const item of JSON.parse(text) as { event: Record<string, unknown> }[]) expect(Object.values(item.event)).not.toContain(null);
        }),
        { numRuns: RUNS },
      );
      expect((await fetch(server.url + '/readyz')).status).toBe(200);
    });
  });
}
