import { afterAll, describe, expect, it } from 'vitest';
import { createMailtrail, type EmailEvent, type Mailtrail, type MailtrailOptions } from '../src/index.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { RESEND_SECRET, signResend } from './helpers/signers.js';
import { sendgridKeys } from './helpers/server.js';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.js';

// Integrations configured in code (createMailtrail({ providers })): a code-only set-up that takes signed webhooks
// with no CLI or API call, found again (never duplicated) on every start, and the /track/webhook alias.

let svixCounter = 0;
function resendEvent(type: string, emailId: string, to = 'Ana@Example.com'): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ type, created_at: '2026-11-21T10:00:00.000Z', data: { email_id: emailId, to: [to] } });
  return { body, headers: signResend(body, `msg_svix_configured_${++svixCounter}`) };
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: providers configured in code`, () => {
    const opened: Mailtrail[] = [];
    const stores: TestStore[] = [];
    afterAll(async () => {
      for (const mailtrail of opened) await mailtrail.close().catch(() => undefined);
      for (const storage of stores) await storage.cleanup().catch(() => undefined);
    });
    const secret = generateMasterSecret();
    async function start(storage: TestStore, options: Partial<MailtrailOptions>): Promise<{ mailtrail: Mailtrail; url: string }> {
      const mailtrail = await createMailtrail({ store: storage.store, secret, publicUrl: 'https://shop.example.com', outbound: { worker: false }, ...options });
      opened.push(mailtrail);
      const { url } = await mailtrail.listen({ port: 0, host: '127.0.0.1' });
      return { mailtrail, url };
    }
    const post = async (url: string, signed: { body: string; headers: Record<string, string> }) => {
      const response = await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body });
      return { status: response.status, body: (await response.json()) as any };
    };

    it('a code-only set-up: the environment and the integration are made on start, and a second start duplicates neither', async () => {
      const storage = await freshStore(dialect);
      stores.push(storage);
      const sendgrid = sendgridKeys();
      const options: Partial<MailtrailOptions> = {
        environment: 'shop',
        providers: { resend: { signingKey: RESEND_SECRET }, sendgrid: { signingKey: sendgrid.publicKeyBase64, name: 'SendGrid EU', statusMapping: 'precise' } },
      };
      const first = await start(storage, options);
      const [environment] = await storage.store.listEnvironments();
      expect(environment).toMatchObject({ name: 'shop' });
      const integrations = await first.mailtrail.integrations.list(environment!.id);
      expect(integrations.map((integration) => [integration.provider, integration.name, integration.statusMapping])).toEqual([
        ['resend', 'Resend [configured in code: resend]', 'contract'],
        ['sendgrid', 'SendGrid EU [configured in code: sendgrid]', 'precise'],
      ]);
      const delivered = resendEvent('email.delivered', 're_code_only');
      expect(await post(`${first.url}/track/webhook/resend`, delivered)).toMatchObject({ status: 200, body: [{ event: { status: 'delivered', externalId: 're_code_only' } }] });
      const resend = integrations[0]!;
      const opened = resendEvent('email.opened', 're_code_only');
      const atInbound = await post(`${first.url}/v2/inbound-webhooks/delivery-providers/${environment!.id}/${resend.id}`, opened);
      expect(atInbound).toMatchObject({ status: 200, body: [{ event: { status: 'opened' } }] });

      // a restart on the same database, with the sendgrid entry changed: the same integrations, brought in line
      const second = await start(storage, { ...options, providers: { ...options.providers, sendgrid: { signingKey: sendgrid.publicKeyBase64 } } });
      expect((await storage.store.listEnvironments()).map((env) => env.id)).toEqual([environment!.id]);
      const again = await second.mailtrail.integrations.list(environment!.id);
      expect(again.map((integration) => [integration.id, integration.name, integration.statusMapping])).toEqual([
        [resend.id, 'Resend [configured in code: resend]', 'contract'],
        [integrations[1]!.id, 'Twilio SendGrid [configured in code: sendgrid]', 'contract'],
      ]);
      const later = resendEvent('email.clicked', 're_code_only');
      expect((await post(`${second.url}/track/webhook/resend`, later)).status).toBe(200);
      // instrument() seals its URLs for the environment the option named, with no environmentId given
      const { html } = second.mailtrail.instrument({ messageId: 'msg_code_only', html: '<p><a href="https://shop.example.com/">shop</a></p>' });
      expect(html).toContain('https://shop.example.com/track/click/');
    });

    it('the alias answers 404 when the provider is not configured in code, 409 when it is twice', async () => {
      const storage = await freshStore(dialect);
      stores.push(storage);
      const { mailtrail, url } = await start(storage, {
        providers: { resend: { signingKey: RESEND_SECRET }, 'resend-marketing': { provider: 'resend', signingKey: RESEND_SECRET } },
      });
      const noEnvironment = await post(`${url}/track/webhook/resend`, resendEvent('email.delivered', 're_none'));
      expect(noEnvironment).toMatchObject({ status: 404, body: { error: { code: 'MT_ERR_NOT_FOUND' } } });
      const { environmentId } = await mailtrail.createEnvironment('one');
      // created with the environment, by createEnvironment
      expect((await mailtrail.integrations.list(environmentId)).map((integration) => integration.name)).toEqual([
        'Resend [configured in code: resend]',
        'Resend [configured in code: resend-marketing]',
      ]);
      const twice = await post(`${url}/track/webhook/resend`, resendEvent('email.delivered', 're_twice'));
      expect(twice).toMatchObject({ status: 409, body: { error: { code: 'MT_ERR_CONFLICT' } } });
      expect(twice.body.error.message).toContain('inbound URL');
      const missing = await post(`${url}/track/webhook/mailgun`, resendEvent('email.delivered', 're_missing'));
      expect(missing).toMatchObject({ status: 404, body: { error: { code: 'MT_ERR_INTEGRATION_NOT_FOUND' } } });
      // an integration of that provider made through the API is not configured in code
      await mailtrail.integrations.create(environmentId, { providerId: 'sendgrid', name: 'SendGrid' });
      const apiMade = await post(`${url}/track/webhook/sendgrid`, resendEvent('email.delivered', 're_api'));
      expect(apiMade).toMatchObject({ status: 404, body: { error: { code: 'MT_ERR_INTEGRATION_NOT_FOUND' } } });
      // with two environments and no environment option, the alias cannot tell which one is meant
      await mailtrail.createEnvironment('two');
      const ambiguous = await post(`${url}/track/webhook/resend`, resendEvent('email.delivered', 're_ambiguous'));
      expect(ambiguous).toMatchObject({ status: 409, body: { error: { code: 'MT_ERR_CONFLICT' } } });
      expect(ambiguous.body.error.message).toContain('environmentId');
    });

    it('a custom provider with its parser, configured in code; in-process events carry recipient, messageId, occurredAt and machine', async () => {
      const storage = await freshStore(dialect);
      stores.push(storage);
      const { mailtrail, url } = await start(storage, {
        environment: 'default',
        providers: {
          acme: {
            allowUnsigned: true,
            parse: (request) => {
              const event = JSON.parse(request.rawBody.toString('utf8')) as { id: string; kind: string; to: string; at: string; bot?: boolean };
              return [
                {
                  status: event.kind === 'open' ? 'opened' : 'delivered',
                  nativeType: event.kind,
                  occurredAt: Date.parse(event.at),
                  dedupeKey: event.id,
                  providerMessageId: `acme-${event.id}`,
                  recipient: event.to,
                  machine: event.bot,
                  raw: request.rawBody.toString('utf8'),
                },
              ];
            },
          },
        },
      });
      const received: EmailEvent[] = [];
      mailtrail.on('email.opened', (event) => void received.push(event));
      const body = JSON.stringify({ id: 'a1', kind: 'open', to: 'bo@example.com', at: '2026-11-21T12:00:00.000Z', bot: true });
      const response = await post(`${url}/track/webhook/acme`, { body, headers: { 'content-type': 'application/json' } });
      expect(response).toMatchObject({ status: 200, body: [{ event: { status: 'opened' } }] });
      expect(received).toHaveLength(1);
      const [event] = received;
      expect(event).toMatchObject({ type: 'email.opened', recipient: 'bo@example.com', occurredAt: '2026-11-21T12:00:00.000Z', machine: true });
      expect(event!.messageId).toMatch(/^msg_/);
      expect(event!.messageId).toBe(event!.event.messageId);
      expect(event!.message).toMatchObject({ id: event!.messageId, providerMessageId: 'acme-a1' });
      expect(event!.event.occurredAt).toBe(Date.parse('2026-11-21T12:00:00.000Z'));
    });

    it('refuses a configuration it cannot apply, at start', async () => {
      const storage = await freshStore(dialect);
      stores.push(storage);
      await expect(
        createMailtrail({ store: storage.store, secret, environment: 'x', outbound: { worker: false }, providers: { resend: { signingKey: 'not a whsec key' } } }),
      ).rejects.toMatchObject({ code: 'MT_ERR_CONFIG' });
      await expect(createMailtrail({ store: storage.store, secret, outbound: { worker: false }, providers: { nope: {} } })).rejects.toMatchObject({ code: 'MT_ERR_CONFIG' });
    });
  });
}
