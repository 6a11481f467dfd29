import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailtrailError } from '../src/index.js';
import { startServer, type TestServer } from './helpers/server.js';
import { basic, mailgunSignature, RESEND_SECRET, signMandrill, signResend, signSns, SNS as sns } from './helpers/signers.js';
import { DIALECTS } from './helpers/stores.js';


/** An SNS message signed with the fixture's throwaway key, as the body SNS posts. */
const signedSns = (message: Record<string, string>) => JSON.stringify(signSns(message));

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';
const snsHeaders = { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' };

for (const dialect of DIALECTS) {
  describe(`${dialect}: Resend, Amazon SES and generic events over HTTP`, () => {
    let server: TestServer;
    let certDir: string;
    let fakeSns: Server;
    const snsRequests: string[] = [];
    /** Every URL the server asked its provider fetch for, SNS's or not. */
    const providerFetches: string[] = [];
    /** What the server logged, as pino writes it. */
    const logs: { level: number; msg: string; code?: string }[] = [];

    beforeAll(async () => {
      certDir = mkdtempSync(join(tmpdir(), 'mailtrail-sns-certs-'));
      for (const [url, pem] of [
        [sns.signing_certificate.url, sns.signing_certificate.pem],
        [sns.constructed_vectors.signing_cert_url, sns.constructed_vectors.test_certificate_pem],
      ]) {
        writeFileSync(join(certDir, new URL(url).pathname.slice(1)), pem);
      }
      // SNS's ConfirmSubscription endpoint, on loopback; the server's provider fetch is pointed at it.
      fakeSns = createServer((request, response) => {
        snsRequests.push(request.url!);
        // SNS itself failing: a confirmation that may be tried again
        if (new URL(request.url!, 'http://x').searchParams.get('Token') === 'sns-is-down') return void response.writeHead(503).end();
        const arn = `${new URL(request.url!, 'http://x').searchParams.get('TopicArn')}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55`;
        response.writeHead(200, { 'content-type': 'text/xml' }).end(
          `<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult><SubscriptionArn>${arn}</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`,
        );
      });
      await new Promise<void>((resolve) => fakeSns.listen(0, '127.0.0.1', resolve));
      const snsPort = (fakeSns.address() as AddressInfo).port;
      const providerFetch: typeof fetch = (input, init) => {
        providerFetches.push(String(input));
        const url = new URL(String(input));
        if (!url.hostname.endsWith('.amazonaws.com')) throw new Error(`the test only reaches SNS, not ${url.hostname}`);
        return fetch(`http://127.0.0.1:${snsPort}${url.pathname}${url.search}`, init);
      };
      const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
      server = await startServer(dialect, { snsCertDir: certDir, providerFetch, logger });
    });
    afterAll(async () => {
      await server.stop();
      fakeSns.close();
      rmSync(certDir, { recursive: true, force: true });
    });

    describe('Resend', () => {
      let integrationId: string;
      beforeAll(async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'resend', name: 'Resend', signingKey: RESEND_SECRET } });
        expect(created.body).toMatchObject({ authScheme: 'signature', hasSigningKey: true, hasCredentials: false });
        integrationId = created.body.id;
      });

      it('stores a signed event once, however often Svix retries it', async () => {
        const body = JSON.stringify({
          type: 'email.delivered',
          created_at: '2026-11-21T10:00:00.000Z',
          data: { email_id: 're_1', to: ['Ana@example.com'], tags: [{ name: 'mailtrail_id', value: 'msg_unknown' }] },
        });
        const first = await server.inbound(integrationId, body, signResend(body, 'msg_svix_1'));
        expect(first.status).toBe(200);
        expect(first.body).toEqual([{ id: expect.stringMatching(/^evt_/), event: { status: 'delivered', date: '2026-11-21T10:00:00.000Z', externalId: 're_1', row: body } }]);
        const retry = await server.inbound(integrationId, body, signResend(body, 'msg_svix_1'));
        expect(retry.body).toEqual(first.body);
        const feed = await server.api(`/v1/messages?integrationId=${integrationId}`);
        expect(feed.body.data).toHaveLength(1);
        expect(feed.body.data[0]).toMatchObject({ providerMessageId: 're_1', to: 'ana@example.com', state: { status: 'delivered' } });
      });

      it('refuses a stale signature, a wrong one and a missing one, storing nothing', async () => {
        const body = JSON.stringify({ type: 'email.opened', created_at: '2026-11-21T10:01:00.000Z', data: { email_id: 're_1', to: ['ana@example.com'] } });
        const stale = await server.inbound(integrationId, body, signResend(body, 'msg_svix_2', Date.now() - 301_000));
        expect(stale).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_SIGNATURE_EXPIRED' } } });
        const tampered = await server.inbound(integrationId, body.replace('opened', 'clicked'), signResend(body, 'msg_svix_2'));
        expect(tampered).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_SIGNATURE_INVALID' } } });
        const unsigned = await server.inbound(integrationId, body, { 'content-type': 'application/json', authorization: `ApiKey ${server.apiKey}` });
        expect(unsigned).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_SIGNATURE_MISSING' } } });
        const events = await server.api(`/v1/events?integrationId=${integrationId}`);
        expect(events.body.data.map((event: { status: string }) => event.status)).toEqual(['delivered']);
      });
    });

    describe('Amazon SES through SNS', () => {
      let integrationId: string;
      beforeAll(async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'amazon-ses', name: 'SES', settings: { topicArns: [TOPIC, 'arn:aws:sns:us-west-2:123456789012:MyTopic'] } } });
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({ authScheme: 'certificate', hasSigningKey: false, settings: { topicArns: [TOPIC, 'arn:aws:sns:us-west-2:123456789012:MyTopic'] } });
        integrationId = created.body.id;
      });

      it('confirms the subscription with SNS and records it', async () => {
        const confirmation = sns.constructed_vectors.vectors.find((vector: { message: { Type: string } }) => vector.message.Type === 'SubscriptionConfirmation').message;
        const response = await server.inbound(integrationId, JSON.stringify(confirmation), { ...snsHeaders, 'x-amz-sns-message-type': 'SubscriptionConfirmation' });
        expect(response).toMatchObject({ status: 200, body: [] });
        expect(snsRequests).toEqual([new URL(confirmation.SubscribeURL).pathname + new URL(confirmation.SubscribeURL).search]);
        const notices = await server.api(`/v1/integrations/${integrationId}/notices`);
        expect(notices.body.data).toEqual([
          expect.objectContaining({ kind: 'subscription_confirmed', topic: confirmation.TopicArn, detail: expect.stringContaining('2bcfbf39-05c3-41de-beaa-fcfcc21c8f55') }),
        ]);
      });

      const confirmation = () => sns.constructed_vectors.vectors.find((vector: { message: { Type: string } }) => vector.message.Type === 'SubscriptionConfirmation').message;
      const confirmationHeaders = { ...snsHeaders, 'x-amz-sns-message-type': 'SubscriptionConfirmation' };

      it.each([
        'http://127.0.0.1:9/?Action=ConfirmSubscription',
        'https://localhost/?Action=ConfirmSubscription',
        'https://sns.us-east-1.amazonaws.com@127.0.0.1/?Action=ConfirmSubscription',
        'http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription',
        'https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription',
      ])('answers a signed confirmation whose SubscribeURL is %s with 400, fetching nothing and logging a warning', async (SubscribeURL) => {
        providerFetches.length = 0;
        logs.length = 0;
        const body = signedSns({ ...confirmation(), SubscribeURL });
        const response = await server.inbound(integrationId, body, confirmationHeaders);
        expect(response).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_SUBSCRIBE_URL_INVALID', message: expect.stringContaining('SubscribeURL') } } });
        expect(providerFetches).toEqual([]);
        expect(logs.filter((line) => line.level >= 50)).toEqual([]);
        expect(logs).toContainEqual(expect.objectContaining({ level: 40, code: 'MT_ERR_SUBSCRIBE_URL_INVALID' }));
        const notices = await server.api(`/v1/integrations/${integrationId}/notices`);
        expect(notices.body.data[0]).toMatchObject({ kind: 'subscription_confirmation_failed', topic: confirmation().TopicArn });
      });

      it('answers a signed confirmation SNS fails to confirm with 502, so SNS sends it again', async () => {
        const good = new URL(confirmation().SubscribeURL);
        good.searchParams.set('Token', 'sns-is-down');
        const response = await server.inbound(integrationId, signedSns({ ...confirmation(), SubscribeURL: good.toString() }), confirmationHeaders);
        expect(response).toMatchObject({ status: 502, body: { error: { code: 'MT_ERR_PROVIDER_UNREACHABLE' } } });
        expect(snsRequests.at(-1)).toBe(good.pathname + good.search);
      });

      it('stores one event per bounced recipient at the bounce time, attached to the registered message, once', async () => {
        const registered = await server.api('/v1/messages', { body: { integrationId, providerMessageId: 'ses-m-1', to: 'jane@example.com' } });
        expect(registered.status).toBe(201);
        const bounce = {
          notificationType: 'Bounce',
          bounce: {
            bounceType: 'Permanent',
            bounceSubType: 'General',
            bouncedRecipients: [{ emailAddress: 'jane@example.com', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }, { emailAddress: 'richard@example.com' }],
            timestamp: '2026-11-21T11:00:00.000Z',
          },
          mail: { timestamp: '2026-11-21T10:59:00.000Z', messageId: 'ses-m-1', destination: ['jane@example.com', 'richard@example.com'] },
        };
        const body = signedSns({ Type: 'Notification', MessageId: 'sns-1', TopicArn: TOPIC, Message: JSON.stringify(bounce), Timestamp: '2026-11-21T11:00:01.000Z' });
        const first = await server.inbound(integrationId, body, snsHeaders);
        expect(first.status).toBe(200);
        expect(first.body.map((item: { event: { status: string; date: string } }) => [item.event.status, item.event.date])).toEqual([
          ['bounced', '2026-11-21T11:00:00.000Z'],
          ['bounced', '2026-11-21T11:00:00.000Z'],
        ]);
        expect((await server.inbound(integrationId, body, snsHeaders)).body).toEqual(first.body);
        const message = await server.api(`/v1/messages/${registered.body.id}`);
        expect(message.body).toMatchObject({ state: { status: 'bounced', bounceType: 'hard', reason: 'smtp; 550 5.1.1 user unknown' } });
        expect(message.body.timeline).toHaveLength(1);
      });

      it('refuses a topic the integration does not list, a forged signature and raw delivery', async () => {
        const message = JSON.stringify({ eventType: 'Send', mail: { messageId: 'ses-m-2', destination: ['a@example.com'] }, send: {} });
        const otherTopic = signedSns({ Type: 'Notification', MessageId: 'sns-2', TopicArn: 'arn:aws:sns:us-east-1:123456789012:other', Message: message, Timestamp: '2026-11-21T11:00:00.000Z' });
        expect(await server.inbound(integrationId, otherTopic, snsHeaders)).toMatchObject({ status: 403, body: { error: { code: 'MT_ERR_FORBIDDEN' } } });
        const signed = signedSns({ Type: 'Notification', MessageId: 'sns-3', TopicArn: TOPIC, Message: message, Timestamp: '2026-11-21T11:00:00.000Z' });
        const forged = signed.replace('ses-m-2', 'ses-m-3');
        expect(await server.inbound(integrationId, forged, snsHeaders)).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_SIGNATURE_INVALID' } } });
        expect(await server.inbound(integrationId, message, { ...snsHeaders, 'x-amz-sns-rawdelivery': 'true' })).toMatchObject({ status: 401 });
        const events = await server.api(`/v1/events?integrationId=${integrationId}&providerMessageId=ses-m-3`);
        expect(events.body.data).toEqual([]);
      });

      it('verifies the real AWS-signed message with the certificate from the cert dir', async () => {
        const open = await server.api('/v1/integrations', { body: { providerId: 'amazon-ses', name: 'SES, an account', settings: { topicArns: ['arn:aws:sns:*:295079676684:*'] } } });
        expect(open.status).toBe(201);
        const response = await server.inbound(open.body.id, sns.official_vectors[1].raw_body, snsHeaders);
        expect(response).toMatchObject({ status: 200, body: [] }); // a topic test message: stored as ignored
        const events = await server.api(`/v1/events?integrationId=${open.body.id}`);
        expect(events.body.data).toEqual([expect.objectContaining({ status: null, nativeType: 'sns:Notification' })]);
      });

      it('keeps topicArns changed with PATCH, and checks messages against them', async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'amazon-ses', name: 'SES, narrowed later', settings: { topicArns: [TOPIC, 'arn:aws:sns:us-east-1:123456789012:other'] } } });
        const patched = await server.api(`/v1/integrations/${created.body.id}`, { method: 'PATCH', body: { settings: { topicArns: [TOPIC] } } });
        expect(patched.body.settings).toEqual({ topicArns: [TOPIC] });
        expect((await server.api(`/v1/integrations/${created.body.id}`)).body.settings).toEqual({ topicArns: [TOPIC] });
        const message = JSON.stringify({ eventType: 'Send', mail: { messageId: 'ses-m-9', destination: ['a@example.com'] }, send: {} });
        const other = signedSns({ Type: 'Notification', MessageId: 'sns-9', TopicArn: 'arn:aws:sns:us-east-1:123456789012:other', Message: message, Timestamp: '2026-11-21T11:00:00.000Z' });
        expect(await server.inbound(created.body.id, other, snsHeaders)).toMatchObject({ status: 403, body: { error: { code: 'MT_ERR_FORBIDDEN' } } });
      });

      it('refuses a signing key (SNS is verified by its certificate) and an integration that names no topic', async () => {
        const keyed = await server.api('/v1/integrations', { body: { providerId: 'amazon-ses', name: 'x', signingKey: 'abc', settings: { topicArns: [TOPIC] } } });
        expect(keyed).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_VALIDATION', message: expect.stringContaining('signingKey') } } });
        const anyTopic = await server.api('/v1/integrations', { body: { providerId: 'amazon-ses', name: 'x' } });
        expect(anyTopic).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_VALIDATION', message: expect.stringContaining('topicArns') } } });
      });
    });

    describe('Mailgun', () => {
      const key = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
      let integrationId: string;
      const signed = (eventData: unknown, token = randomBytes(25).toString('hex'), at = Date.now()) => {
        const timestamp = String(Math.floor(at / 1000));
        const signature = mailgunSignature(timestamp, token, key);
        return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
      };
      const delivered = (id: string) => ({ id, event: 'delivered', timestamp: 1795258800.25, recipient: 'fay@example.com', message: { headers: { 'message-id': '20261121.1@mg.example.com' } } });
      const json = { 'content-type': 'application/json' };

      beforeAll(async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'mailgun', name: 'Mailgun', signingKey: key } });
        integrationId = created.body.id;
        // the send API answers with the id in angle brackets; events carry it bare
        expect((await server.api('/v1/messages', { body: { integrationId, providerMessageId: '<20261121.1@mg.example.com>', to: 'fay@example.com' } })).status).toBe(201);
      });

      it('stores a signed event against the registered message, and answers a retry of the same body the same', async () => {
        const body = signed(delivered('mg-ev-1'));
        const first = await server.inbound(integrationId, body, json);
        expect(first.body).toEqual([{ id: expect.stringMatching(/^evt_/), event: expect.objectContaining({ status: 'delivered', date: '2026-11-21T11:00:00.250Z', externalId: '20261121.1@mg.example.com' }) }]);
        expect((await server.inbound(integrationId, body, json)).body).toEqual(first.body);
        const feed = await server.api(`/v1/messages?integrationId=${integrationId}`);
        expect(feed.body.data).toEqual([expect.objectContaining({ origin: 'api', state: expect.objectContaining({ status: 'delivered' }) })]);
      });

      it('refuses a captured signature reused with other events, a stale one and a forged one', async () => {
        const token = randomBytes(25).toString('hex');
        const original = signed(delivered('mg-ev-2'), token);
        expect((await server.inbound(integrationId, original, json)).status).toBe(200);
        // the signature covers only timestamp + token: the same triple with another event-data is a replay
        const { signature } = JSON.parse(original);
        const forgedEvents = JSON.stringify({ signature, 'event-data': { ...delivered('mg-ev-3'), event: 'complained' } });
        expect(await server.inbound(integrationId, forgedEvents, json)).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_REPLAYED' } } });
        const stale = signed(delivered('mg-ev-4'), undefined, Date.now() - 13 * 3600_000);
        expect(await server.inbound(integrationId, stale, json)).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_SIGNATURE_EXPIRED' } } });
        const wrongKey = JSON.stringify({ signature: { ...signature, signature: createHmac('sha256', 'other').update(signature.timestamp + signature.token).digest('hex') }, 'event-data': delivered('mg-ev-5') });
        expect(await server.inbound(integrationId, wrongKey, json)).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_SIGNATURE_INVALID' } } });
        const events = await server.api(`/v1/events?integrationId=${integrationId}`);
        expect(events.body.data.map((event: { nativeType: string }) => event.nativeType)).toEqual(['delivered', 'delivered']);

        // a second integration holding the same account key shares the token's single use
        const twin = await server.api('/v1/integrations', { body: { providerId: 'mailgun', name: 'Mailgun, same account', signingKey: key } });
        expect(await server.inbound(twin.body.id, forgedEvents, json)).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_REPLAYED' } } });
      });
    });

    describe('statusMapping', () => {
      const key = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
      const json = { 'content-type': 'application/json' };
      const permanentFailure = (id: string, messageId: string) => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        const token = randomBytes(25).toString('hex');
        const eventData = {
          id,
          event: 'failed',
          severity: 'permanent',
          reason: 'bounce',
          timestamp: 1795258800.5,
          recipient: 'gil@example.com',
          message: { headers: { 'message-id': messageId } },
          'delivery-status': { code: 550, message: '5.1.1 The email account that you tried to reach does not exist', 'attempt-no': 1 },
        };
        return JSON.stringify({ signature: { timestamp, token, signature: mailgunSignature(timestamp, token, key) }, 'event-data': eventData });
      };

      it('maps a Mailgun permanent failure by the contract (rejected) until the integration is set to precise (bounced), hard either way', async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'mailgun', name: 'Mailgun, contract', signingKey: key } });
        expect(created).toMatchObject({ status: 201, body: { statusMapping: 'contract' } });
        const id = created.body.id;

        const contract = await server.inbound(id, permanentFailure('mg-fail-1', 'fail-1@mg.example.com'), json);
        expect(contract.status).toBe(200);
        expect(contract.body[0].event).toMatchObject({ status: 'rejected', externalId: 'fail-1@mg.example.com' });

        const patched = await server.api(`/v1/integrations/${id}`, { method: 'PATCH', body: { statusMapping: 'precise' } });
        expect(patched).toMatchObject({ status: 200, body: { statusMapping: 'precise' } });
        expect((await server.api(`/v1/integrations/${id}`)).body.statusMapping).toBe('precise');
        const precise = await server.inbound(id, permanentFailure('mg-fail-2', 'fail-2@mg.example.com'), json);
        expect(precise.body[0].event).toMatchObject({ status: 'bounced', externalId: 'fail-2@mg.example.com' });

        const events = await server.api(`/v1/events?integrationId=${id}`);
        const byMessage = Object.fromEntries(events.body.data.map((event: { providerMessageId: string }) => [event.providerMessageId, event]));
        expect(byMessage['fail-1@mg.example.com']).toMatchObject({ status: 'rejected', bounceType: 'hard', nativeType: 'failed', reason: expect.stringContaining('5.1.1') });
        expect(byMessage['fail-2@mg.example.com']).toMatchObject({ status: 'bounced', bounceType: 'hard', nativeType: 'failed', reason: expect.stringContaining('5.1.1') });
        const messages = await server.api(`/v1/messages?integrationId=${id}`);
        expect(messages.body.data.map((message: { providerMessageId: string; state: { status: string; bounceType: string } }) => [message.providerMessageId, message.state.status, message.state.bounceType]).sort()).toEqual([
          ['fail-1@mg.example.com', 'rejected', 'hard'],
          ['fail-2@mg.example.com', 'bounced', 'hard'],
        ]);

        // back to the contract: only new events change
        expect((await server.api(`/v1/integrations/${id}`, { method: 'PATCH', body: { statusMapping: 'contract' } })).body.statusMapping).toBe('contract');
        const again = await server.inbound(id, permanentFailure('mg-fail-3', 'fail-3@mg.example.com'), json);
        expect(again.body[0].event.status).toBe('rejected');
      });

      it('creates an integration with statusMapping precise, and refuses any other value with a 400 that names the field', async () => {
        const precise = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid, precise', statusMapping: 'precise' } });
        expect(precise).toMatchObject({ status: 201, body: { statusMapping: 'precise' } });
        for (const statusMapping of ['exact', '', null, 1, 'CONTRACT']) {
          const create = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'x', statusMapping } });
          expect(create, String(statusMapping)).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_VALIDATION', message: expect.stringContaining('statusMapping') } } });
          const patch = await server.api(`/v1/integrations/${precise.body.id}`, { method: 'PATCH', body: { statusMapping } });
          expect(patch, String(statusMapping)).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_VALIDATION', message: expect.stringContaining('statusMapping') } } });
        }
        expect((await server.api(`/v1/integrations/${precise.body.id}`)).body.statusMapping).toBe('precise');
        const listed = await server.api('/v1/integrations');
        expect(listed.body.data.every((integration: { statusMapping: string }) => ['contract', 'precise'].includes(integration.statusMapping))).toBe(true);
      });

      it('is documented in the OpenAPI document, for creating, updating and reading an integration', async () => {
        const { schemas } = ((await (await fetch(`${server.url}/openapi.json`)).json()) as { components: { schemas: Record<string, any> } }).components;
        for (const name of ['CreateIntegration', 'UpdateIntegration', 'Integration']) {
          expect(schemas[name].properties.statusMapping, name).toMatchObject({ enum: ['contract', 'precise'] });
        }
        expect(schemas.CreateIntegration.properties.statusMapping.description).toContain('contract');
      });
    });

    describe('Mandrill', () => {
      const key = 'mandrill-webhook-key-0123456789';
      it('checks the signature over the exact public URL and reads every event of the form field', async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'mandrill', name: 'Mandrill', signingKey: key } });
        const events = JSON.stringify([
          { event: 'send', _id: 'md-1', ts: 1795258800, msg: { _id: 'md-1', email: 'gus@example.com', metadata: {} } },
          { event: 'open', _id: 'md-1', ts: 1795258860, ip: '198.51.100.1', user_agent: 'Mozilla/5.0', msg: { _id: 'md-1', email: 'gus@example.com' } },
        ]);
        const sign = (url: string) => signMandrill(url, new URLSearchParams({ mandrill_events: events }).toString(), key);
        const form = new URLSearchParams({ mandrill_events: events }).toString();
        const headers = (signature: string) => ({ 'content-type': 'application/x-www-form-urlencoded', 'x-mandrill-signature': signature });
        // the server sees http://127.0.0.1:<port>; Mandrill signed the URL it was given, built from PUBLIC_URL
        expect((await server.inbound(created.body.id, form, headers(sign(server.url + new URL(created.body.inboundWebhookUrl).pathname)))).status).toBe(401);
        const accepted = await server.inbound(created.body.id, form, headers(sign(created.body.inboundWebhookUrl)));
        expect(accepted.body.map((item: { event: { status: string; date: string } }) => [item.event.status, item.event.date])).toEqual([
          ['sent', '2026-11-21T11:00:00.000Z'],
          ['opened', '2026-11-21T11:01:00.000Z'],
        ]);
      });
    });

    describe('providers that do not sign: generated credentials', () => {
      const delivery = (id: string) =>
        JSON.stringify({ RecordType: 'Delivery', MessageID: id, Recipient: 'dee@example.com', DeliveredAt: '2026-11-21T14:00:00Z', Details: 'smtp;250 ok', Metadata: {} });

      it('shows the credentials once, refuses requests without them, and accepts them as Basic auth', async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'postmark', name: 'Postmark' } });
        expect(created.body).toMatchObject({ authScheme: 'credentials', hasCredentials: true, credentials: { username: 'mailtrail', password: expect.any(String) } });
        const { id, credentials, authenticatedWebhookUrl, inboundWebhookUrl } = created.body;
        expect(authenticatedWebhookUrl).toBe(inboundWebhookUrl.replace('https://', `https://mailtrail:${credentials.password}@`));
        const again = await server.api(`/v1/integrations/${id}`);
        expect(again.body.credentials).toBeUndefined();
        expect(again.body.authenticatedWebhookUrl).toBeUndefined();
        expect(JSON.stringify(again.body)).not.toContain(credentials.password);

        const json = { 'content-type': 'application/json' };
        expect(await server.inbound(id, delivery('pm-1'), json)).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_CREDENTIALS_INVALID' } } });
        expect(await server.inbound(id, delivery('pm-1'), { ...json, authorization: basic('mailtrail', 'wrong') })).toMatchObject({ status: 401 });
        expect(await server.inbound(id, delivery('pm-1'), { ...json, authorization: `ApiKey ${server.apiKey}` })).toMatchObject({ status: 401 });
        const accepted = await server.inbound(id, delivery('pm-1'), { ...json, authorization: basic('mailtrail', credentials.password) });
        expect(accepted.body).toEqual([{ id: expect.stringMatching(/^evt_/), event: { status: 'delivered', date: '2026-11-21T14:00:00.000Z', externalId: 'pm-1', response: 'smtp;250 ok', row: delivery('pm-1') } }]);

        // node:http turns the credentials of a URL into Basic auth, the way providers' HTTP clients do
        const viaUrl = await new Promise<number>((resolve, reject) => {
          const target = new URL(authenticatedWebhookUrl);
          target.protocol = 'http:';
          target.host = new URL(server.url).host;
          const outgoing = httpRequest(target, { method: 'POST', headers: json }, (response) => {
            response.resume();
            resolve(response.statusCode!);
          });
          outgoing.on('error', reject);
          outgoing.end(delivery('pm-2'));
        });
        expect(viaUrl).toBe(200);

        const rotated = await server.api(`/v1/integrations/${id}/rotate-credentials`, { method: 'POST' });
        expect(rotated.body.credentials.password).not.toBe(credentials.password);
        expect(await server.inbound(id, delivery('pm-3'), { ...json, authorization: basic('mailtrail', credentials.password) })).toMatchObject({ status: 401 });
        expect((await server.inbound(id, delivery('pm-3'), { ...json, authorization: basic('mailtrail', rotated.body.credentials.password) })).status).toBe(200);
      });

      it('accepts the password as a bearer token (Brevo sends one) and reads a batched array', async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'brevo', name: 'Brevo' } });
        const body = JSON.stringify([
          { event: 'delivered', email: 'eve@example.com', 'message-id': '<b-1@smtp-relay.mailin.fr>', ts_event: 1763733600 },
          { event: 'opened', email: 'eve@example.com', 'message-id': '<b-1@smtp-relay.mailin.fr>', ts_event: 1763733660 },
        ]);
        const response = await server.inbound(created.body.id, body, { 'content-type': 'application/json', authorization: `Bearer ${created.body.credentials.password}` });
        expect(response.body.map((item: { event: { status: string } }) => item.event.status)).toEqual(['delivered', 'opened']);
      });

      it('reads a SparkPost batch and a Mailjet version 2 array, each with their credentials, and keeps Mailjet ids beyond 2^53 exact', async () => {
        const sparkpost = (await server.api('/v1/integrations', { body: { providerId: 'sparkpost', name: 'SparkPost' } })).body;
        const batch = JSON.stringify([
          { msys: { message_event: { type: 'delivery', event_id: 'sp-e1', transmission_id: 'sp-t1', rcpt_to: 'hal@example.com', timestamp: '1795258800' } } },
          { msys: { track_event: { type: 'click', event_id: 'sp-e2', transmission_id: 'sp-t1', rcpt_to: 'hal@example.com', timestamp: '1795258860', target_link_url: 'https://example.com/x', rcpt_meta: { mailtrail_id: 'msg_sp_1' } } } },
        ]);
        const json = { 'content-type': 'application/json' };
        expect((await server.inbound(sparkpost.id, batch, json)).status).toBe(401);
        const stored = await server.inbound(sparkpost.id, batch, { ...json, authorization: basic('mailtrail', sparkpost.credentials.password) });
        expect(stored.body.map((item: { event: { status: string; date: string } }) => [item.event.status, item.event.date])).toEqual([
          ['delivered', '2026-11-21T11:00:00.000Z'],
          ['clicked', '2026-11-21T11:01:00.000Z'],
        ]);

        const mailjet = (await server.api('/v1/integrations', { body: { providerId: 'mailjet', name: 'Mailjet' } })).body;
        const grouped = '[{"event":"sent","time":1795258800,"MessageID":19421777835146490,"Message_GUID":"g-1","email":"ivy@example.com","smtp_reply":"250 OK"},' +
          '{"event":"open","time":1795258900,"MessageID":19421777835146490,"Message_GUID":"g-1","email":"ivy@example.com","ip":"198.51.100.7","agent":"Mozilla/5.0"}]';
        const events = await server.inbound(mailjet.id, grouped, { ...json, authorization: basic('mailtrail', mailjet.credentials.password) });
        expect(events.body.map((item: { event: { status: string; externalId: string } }) => [item.event.status, item.event.externalId])).toEqual([
          ['delivered', '19421777835146490'],
          ['opened', '19421777835146490'],
        ]);
      });

      it('counts one open once when SparkPost or Brevo reports it under two types', async () => {
        const json = { 'content-type': 'application/json' };
        const sparkpost = (await server.api('/v1/integrations', { body: { providerId: 'sparkpost', name: 'SparkPost opens' } })).body;
        const open = (type: string, id: string, at: number) => ({ msys: { track_event: { type, event_id: id, transmission_id: 'sp-opens', rcpt_to: 'jo@example.com', timestamp: String(at) } } });
        // one view of the whole message (top and bottom pixel), then a second view of a clipped copy (top pixel only)
        const views = JSON.stringify([open('initial_open', 'sp-o1', 1795258800), open('open', 'sp-o2', 1795258801), open('initial_open', 'sp-o3', 1795258900)]);
        const stored = await server.inbound(sparkpost.id, views, { ...json, authorization: basic('mailtrail', sparkpost.credentials.password) });
        expect(stored.status).toBe(200);
        const spMessage = (await server.api(`/v1/messages?providerMessageId=sp-opens`)).body.data[0];
        expect(spMessage.state).toMatchObject({ opens: 2, humanOpens: 2 });
        expect((await server.api(`/v1/messages/${spMessage.id}`)).body.timeline.map((event: { nativeType: string }) => event.nativeType)).toEqual(['initial_open', 'open', 'initial_open']);

        const brevo = (await server.api('/v1/integrations', { body: { providerId: 'brevo', name: 'Brevo opens' } })).body;
        const first = { event: 'unique_opened', email: 'kim@example.com', 'message-id': '<brevo-opens@smtp-relay.mailin.fr>', ts_event: 1795258800 };
        const headers = { ...json, authorization: basic('mailtrail', brevo.credentials.password) };
        for (const event of [first, { ...first, event: 'opened' }, { ...first, event: 'opened', ts_event: 1795259000 }]) {
          expect((await server.inbound(brevo.id, JSON.stringify(event), headers)).status).toBe(200);
        }
        const brevoMessage = (await server.api(`/v1/messages?providerMessageId=brevo-opens@smtp-relay.mailin.fr`)).body.data[0];
        expect(brevoMessage.state).toMatchObject({ opens: 2, firstOpenedAt: '2026-11-21T11:00:00.000Z' });
      });

      it('refuses rotating credentials of a provider that signs', async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'resend', name: 'R' } });
        expect(await server.api(`/v1/integrations/${created.body.id}/rotate-credentials`, { method: 'POST' })).toMatchObject({ status: 400 });
      });
    });

    describe('generic and custom providers', () => {
      it('takes normalized events with the API key only', async () => {
        const created = await server.api('/v1/integrations', { body: { providerId: 'generic', name: 'internal MTA' } });
        expect(created.body.authScheme).toBe('apiKey');
        const body = JSON.stringify([{ id: 'mta-1', event: { status: 'delivered', date: '2026-11-21T12:00:00Z', externalId: 'mta-msg-1', response: '250 ok' }, recipient: 'bo@example.com' }]);
        const json = { 'content-type': 'application/json' };
        expect(await server.inbound(created.body.id, body, json)).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_UNAUTHORIZED' } } });
        const accepted = await server.inbound(created.body.id, body, { ...json, authorization: `Bearer ${server.apiKey}` });
        expect(accepted.body).toEqual([{ id: expect.stringMatching(/^evt_/), event: { status: 'delivered', date: '2026-11-21T12:00:00.000Z', externalId: 'mta-msg-1', response: '250 ok', row: body.slice(1, -1) } }]);
        const bad = await server.inbound(created.body.id, '[{"event":{"status":"exploded","date":"2026-11-21T12:00:00Z"}}]', { ...json, authorization: `Bearer ${server.apiKey}` });
        expect(bad).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_INVALID_BODY' } } });
      });

      it('runs a parser registered by the embedding app through the same pipeline, with its verify', async () => {
        server.mailtrail.registerParser(
          'acme-mail',
          (request) => {
            const { ref, state, at } = JSON.parse(request.rawBody.toString()) as { ref: string; state: string; at: string };
            return [{ status: state === 'ok' ? 'delivered' : 'bounced', nativeType: state, occurredAt: Date.parse(at), dedupeKey: `${ref}:${state}`, providerMessageId: ref, recipient: 'cy@example.com', raw: request.rawBody.toString() }];
          },
          { displayName: 'Acme Mail', verify: (request, key) => (request.headers.get('x-acme-token') === key ? { ok: true } : { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'bad token' }) },
        );
        expect(() => server.mailtrail.registerParser('sendgrid', () => [])).toThrow(MailtrailError);
        const created = await server.api('/v1/integrations', { body: { providerId: 'acme-mail', name: 'Acme', signingKey: 's3cret' } });
        expect(created.status).toBe(201);
        const body = '{"ref":"acme-1","state":"ok","at":"2026-11-21T13:00:00Z"}';
        expect((await server.inbound(created.body.id, body, { 'content-type': 'application/json', 'x-acme-token': 'nope' })).status).toBe(401);
        const accepted = await server.inbound(created.body.id, body, { 'content-type': 'application/json', 'x-acme-token': 's3cret' });
        expect(accepted.body).toEqual([{ id: expect.stringMatching(/^evt_/), event: { status: 'delivered', date: '2026-11-21T13:00:00.000Z', externalId: 'acme-1', row: body } }]);
      });

      it('answers HEAD and GET on an inbound URL (providers check the URL before saving it) the same for any id', async () => {
        for (const method of ['HEAD', 'GET']) {
          const response = await fetch(`${server.url}/v2/inbound-webhooks/delivery-providers/env_nope/int_nope`, { method });
          expect(response.status).toBe(200);
        }
      });
    });
  });
}
