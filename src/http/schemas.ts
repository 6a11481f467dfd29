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
    origin: z.enum(['api', 'provider']),
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
    machineReason: z.string().nullable(),
    echo: z.boolean().openapi({
      description: "An open the provider also reports under another type (SparkPost's initial_open, Brevo's unique_opened); the message counts the larger kind",
    }),
    raw: z.unknown().openapi({ description: "The provider's event as received" }),
  })
  .openapi('Event');

export const MessageDetailSchema = MessageSchema.extend({ timeline: z.array(EventSchema) }).openapi('MessageDetail');

export const RegisterMessageSchema = z
  .object({
    integrationId: z.string().min(1).max(64),
    providerMessageId: z.string().trim().min(1).max(998).openapi({ description: "The provider's id for the message (SendGrid: the X-Message-Id response header)" }),
    to: z.string().trim().min(3).max(320).regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address'),
    id: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[\w.:@-]+$/, 'may hold letters, digits and _ . : @ - only')
      .optional()
      .openapi({ description: 'Your id for the message; pass it to the provider as custom arg mailtrail_id' }),
    from: z.string().max(320).optional(),
    subject: z.string().max(998).optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    workflowRunId: z.string().max(255).optional(),
    stepRunId: z.string().max(255).optional(),
  })
  .strict()
  .openapi('RegisterMessage');

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
