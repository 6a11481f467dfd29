import { z } from '@hono/zod-openapi';
import { BOUNCE_TYPES, DELIVERY_STATUSES, STATUSES } from '../core/vocabulary.js';
import { ERROR_CODES } from '../core/errors.js';
import { STATUS_MAPPINGS } from '../core/status-mapping.js';

// Request and response shapes of the API; the OpenAPI document at /openapi.json is generated from these.

export const ErrorSchema = z
  .object({ error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }) })
  .openapi('Error', { example: { error: { code: 'MT_ERR_NOT_FOUND', message: 'no message msg_01' } } });

const isoTime = z.string().openapi({ format: 'date-time', example: '2026-11-22T10:00:00.000Z' });

export const IntegrationSchema = z
  .object({
    id: z.string().openapi({ example: 'int_01jd5x0f6q8t3m2r9v7c4b1n0a' }),
    providerId: z.string().openapi({ example: 'sendgrid' }),
    name: z.string(),
    activityTracking: z.boolean(),
    allowUnsigned: z.boolean(),
    authScheme: z.enum(['signature', 'certificate', 'credentials', 'apiKey']).openapi({
      description:
        'How requests are verified: a signature checked with the signing key, a certificate the provider publishes (SNS), ' +
        'Basic-auth credentials Mailtrail generated (providers that do not sign), or the environment API key (generic)',
    }),
    hasSigningKey: z.boolean(),
    hasCredentials: z.boolean(),
    settings: z.record(z.string(), z.unknown()),
    statusMapping: z.enum(STATUS_MAPPINGS),
    inboundWebhookUrl: z.string().openapi({ format: 'uri' }),
    credentials: z
      .object({ username: z.string(), password: z.string() })
      .optional()
      .openapi({ description: 'Only in the responses that create or rotate them: shown once, stored encrypted' }),
    authenticatedWebhookUrl: z
      .string()
      .optional()
      .openapi({ format: 'uri', description: 'The inbound URL with the credentials in it, to paste into the provider; shown once' }),
    createdAt: isoTime,
    updatedAt: isoTime,
  })
  .openapi('Integration');

export const IntegrationNoticeSchema = z
  .object({
    id: z.string(),
    kind: z.string().openapi({ example: 'subscription_confirmed' }),
    topic: z.string().nullable(),
    detail: z.string(),
    createdAt: isoTime,
  })
  .openapi('IntegrationNotice');

const settingsField = z
  .record(z.string(), z.unknown())
  .optional()
  .openapi({ description: 'Provider options that are not secret, e.g. {"topicArns": ["arn:aws:sns:…"]} for Amazon SES' });

const statusMappingField = z.enum(STATUS_MAPPINGS).optional().openapi({
  description:
    'How native events map to statuses. "contract" (the default) follows the contract\'s status tables exactly for SendGrid, ' +
    'Mailgun, Resend and Amazon SES (e.g. a Mailgun permanent failure is rejected, with bounceType hard); "precise" is Mailtrail\'s ' +
    'finer mapping (that failure is bounced, a SendGrid blocked bounce is blocked, an SES bounce to a suppressed address is dropped). ' +
    'Applies to events received after it is set.',
});

export const CreateIntegrationSchema = z
  .object({
    providerId: z.string().min(1).max(64).openapi({ example: 'sendgrid' }),
    name: z.string().trim().min(1).max(200),
    signingKey: z.string().max(10_000).nullable().optional().openapi({ description: "The provider's verification key (SendGrid: the Signed Event Webhook public key)" }),
    activityTracking: z.boolean().optional().default(true),
    allowUnsigned: z.boolean().optional().default(false).openapi({ description: 'Accept requests with no signature when no signing key is set' }),
    settings: settingsField,
    statusMapping: statusMappingField,
  })
  .strict()
  .openapi('CreateIntegration');

export const UpdateIntegrationSchema = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    signingKey: z.string().max(10_000).nullable().optional().openapi({ description: 'A new key, or null to remove it' }),
    activityTracking: z.boolean().optional(),
    allowUnsigned: z.boolean().optional(),
    settings: settingsField,
    statusMapping: statusMappingField,
  })
  .strict()
  .openapi('UpdateIntegration');

export const MessageStateSchema = z
  .object({
    status: z.enum(DELIVERY_STATUSES).nullable(),
    bounceType: z.enum(BOUNCE_TYPES).nullable(),
    reason: z.string().nullable(),
    statusAt: isoTime.nullable(),
    opens: z.number().int(),
    clicks: z.number().int(),
    humanOpens: z.number().int(),
    humanClicks: z.number().int(),
    firstOpenedAt: isoTime.nullable(),
    lastOpenedAt: isoTime.nullable(),
    firstClickedAt: isoTime.nullable(),
    lastClickedAt: isoTime.nullable(),
    firstHumanOpenAt: isoTime.nullable().openapi({ description: 'The earliest open not made by a machine (privacy proxy, scanner, prefetch, bot)' }),
    firstHumanClickAt: isoTime.nullable().openapi({ description: 'The earliest click not made by a machine' }),
    complained: z.boolean(),
    complainedAt: isoTime.nullable(),
    unsubscribed: z.boolean(),
    unsubscribedAt: isoTime.nullable(),
    firstEventAt: isoTime.nullable(),
    lastEventAt: isoTime.nullable(),
    eventCount: z.number().int(),
  })
  .openapi('MessageState');

export const MessageSchema = z
  .object({
    id: z.string(),
    integrationId: z.string().nullable(),
    providerId: z.string().nullable(),
    providerMessageId: z.string().nullable(),
    to: z.string().nullable(),
    from: z.string().nullable(),
    subject: z.string().nullable(),
    tags: z.array(z.string()),
    metadata: z.record(z.string(), z.unknown()),
    workflowRunId: z.string().nullable(),
    stepRunId: z.string().nullable(),
    origin: z.enum(['api', 'provider', 'first-party']).openapi({ description: 'Registered (api), created by a provider event, or created by a first-party hit' }),
    status: z.enum(DELIVERY_STATUSES).nullable(),
    state: MessageStateSchema,
    createdAt: isoTime,
    updatedAt: isoTime,
  })
  .openapi('Message');

export const EventSchema = z
  .object({
    id: z.string(),
    messageId: z.string().nullable(),
    integrationId: z.string(),
    providerId: z.string(),
    origin: z.enum(['provider', 'first-party']).openapi({ description: "Who observed it: the provider's webhook, or Mailtrail's own pixel, links and unsubscribe URL" }),
    status: z.enum(STATUSES).nullable(),
    ignored: z.boolean(),
    nativeType: z.string(),
    occurredAt: isoTime,
    receivedAt: isoTime,
    providerMessageId: z.string().nullable(),
    recipient: z.string().nullable(),
    bounceType: z.enum(BOUNCE_TYPES).nullable(),
    reason: z.string().nullable(),
    attempts: z.number().int().nullable(),
    url: z.string().nullable(),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    machine: z.boolean(),
    machineKind: z.enum(['apple-mpp', 'image-proxy', 'link-scanner', 'prefetch', 'bot']).nullable().openapi({
      description: "What kind of machine made a first-party hit (an open through a webmail proxy is image-proxy with machine false); null for provider events",
    }),
    machineReason: z.string().nullable(),
    echo: z.boolean().openapi({
      description: "An open the provider also reports under another type (SparkPost's initial_open, Brevo's unique_opened); the message counts the larger kind",
    }),
    raw: z.unknown().openapi({ description: "The provider's event as received" }),
  })
  .openapi('Event');

export const MessageDetailSchema = MessageSchema.extend({ timeline: z.array(EventSchema) }).openapi('MessageDetail');

const providerMessageIdField = z
  .string()
  .trim()
  .min(1)
  .max(998)
  .openapi({ description: "The provider's id for the message (SendGrid: the X-Message-Id response header)" });
const recipientField = z.string().trim().min(3).max(320).regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address');
const tagsField = z.array(z.string().min(1).max(100)).max(50);
const metadataField = z.record(z.string(), z.unknown());

/** Each switch of first-party tracking; an absent one takes the default (the environment's, else the server's, else on). */
export const TrackingSwitchesInput = z
  .object({
    opens: z.boolean().optional().openapi({ description: 'An open pixel at the end of the HTML body' }),
    clicks: z.boolean().optional().openapi({ description: 'Every trackable link of the HTML and text parts through the click redirect' }),
    unsubscribe: z.boolean().optional().openapi({ description: 'List-Unsubscribe and List-Unsubscribe-Post headers (RFC 2369, RFC 8058)' }),
  })
  .strict()
  .openapi('TrackingSwitchesInput');

export const TrackingSwitchesSchema = z
  .object({ opens: z.boolean(), clicks: z.boolean(), unsubscribe: z.boolean() })
  .openapi('TrackingSwitches');

export const RegisterMessageSchema = z
  .object({
    integrationId: z.string().min(1).max(64),
    providerMessageId: providerMessageIdField.optional().openapi({
      description:
        "The provider's id for the message (SendGrid: the X-Message-Id response header). Optional: a message registered to be " +
        'instrumented before it is sent gets it later with PATCH /v1/messages/{id}',
    }),
    to: recipientField,
    id: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[\w.:@-]+$/, 'may hold letters, digits and _ . : @ - only')
      .optional()
      .openapi({ description: 'Your id for the message; pass it to the provider as custom arg mailtrail_id' }),
    from: z.string().max(320).optional(),
    subject: z.string().max(998).optional(),
    tags: tagsField.optional(),
    metadata: metadataField.optional(),
    workflowRunId: z.string().max(255).optional(),
    stepRunId: z.string().max(255).optional(),
    html: z.string().optional().openapi({ description: 'The HTML part to instrument: tracked links and an open pixel; answered in `html`' }),
    text: z.string().optional().openapi({ description: 'The text part to instrument: tracked links; answered in `text`' }),
    tracking: TrackingSwitchesInput.optional(),
  })
  .strict()
  .openapi('RegisterMessage');

export const RegisteredMessageSchema = MessageSchema.extend({
  html: z.string().optional().openapi({ description: 'The HTML part instrumented, when one was sent: send this one' }),
  text: z.string().optional().openapi({ description: 'The text part instrumented, when one was sent' }),
  headers: z.record(z.string(), z.string()).openapi({
    description: 'Headers to add to the email: List-Unsubscribe and List-Unsubscribe-Post when unsubscribe tracking is on',
    example: { 'List-Unsubscribe': '<https://t.example.com/track/unsubscribe/…>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  }),
}).openapi('RegisteredMessage');

export const UpdateMessageSchema = z
  .object({
    providerMessageId: providerMessageIdField.optional().openapi({
      description: "The provider's id, once the message is sent: events that arrived for it meanwhile are merged into this message",
    }),
    to: recipientField.optional(),
    tags: tagsField.optional().openapi({ description: 'Replaces the tags' }),
    metadata: metadataField.optional().openapi({ description: 'Replaces the metadata' }),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'name at least one of providerMessageId, to, tags, metadata')
  .openapi('UpdateMessage');

export const EnvironmentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    tracking: TrackingSwitchesSchema.openapi({ description: "What a message gets when its request does not say: this environment's setting, else the server's" }),
    createdAt: isoTime,
  })
  .openapi('Environment');

export const UpdateEnvironmentSchema = z
  .object({ tracking: TrackingSwitchesInput.openapi({ description: 'The switches to change; the others keep their value' }) })
  .strict()
  .openapi('UpdateEnvironment');

const time = z
  .string()
  .optional()
  .openapi({ description: 'ISO 8601 time or epoch milliseconds' });
const limit = z.coerce.number().int().min(1).max(500).optional().default(50);

/** What both feeds filter and page by. */
const FeedQuery = z.object({
  recipient: z.string().optional(),
  integrationId: z.string().optional(),
  providerMessageId: z.string().optional(),
  from: time,
  to: time,
  limit,
  cursor: z.string().max(1000).optional(),
});

export const ListMessagesQuery = FeedQuery.extend({
  status: z.enum(DELIVERY_STATUSES).optional(),
  tag: z.string().optional(),
  q: z.string().min(1).max(200).optional(),
});

export const ListEventsQuery = FeedQuery.extend({
  status: z.enum(STATUSES).optional(),
  messageId: z.string().optional(),
  nativeType: z.string().optional(),
  ignored: z.enum(['true', 'false']).optional().openapi({ description: 'false hides events with no mapped status' }),
});

export const page = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ data: z.array(item), next: z.string().nullable().openapi({ description: 'Pass as cursor for the next page; null on the last' }) }).openapi(name);

export const InboundItemSchema = z
  .object({
    id: z.string(),
    event: z.object({
      status: z.enum(STATUSES),
      date: isoTime,
      externalId: z.string().optional(),
      attempts: z.number().int().optional(),
      response: z.string().optional(),
      row: z.string().openapi({ description: 'The raw provider event as a JSON string' }),
    }),
  })
  .openapi('InboundEvent');
