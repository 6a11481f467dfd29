import { FIRST_PARTY_PROVIDER } from '../../store/hit-verdicts.js';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { MailtrailError } from '../../core/errors.js';
import type { AppContext, AppEnv } from '../context.js';
import {
  ErrorSchema,
  EventSchema,
  ListEventsQuery,
  ListMessagesQuery,
  MessageDetailSchema,
  MessageSchema,
  RegisteredMessageSchema,
  RegisterMessageSchema,
  UpdateMessageSchema,
  page,
} from '../schemas.js';
import { eventView, messageView } from '../../views/message.js';
import { instrumentMessage } from '../../engagement/instrument-message.js';
import type { Message, NewMessage, RegisterResult } from '../../store/types.js';
import { trackingSwitches } from './environment.js';

const security = [{ ApiKey: [] }];
const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export function messageRoutes(context: AppContext, hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]) {
  const app = new OpenAPIHono<AppEnv>(hooks);
  // Some providers hand out ids in angle brackets (Message-ID style); events carry them bare. An adapter may know
  // more about the form its events use.
  const normalizeProviderId = (provider: string, id: string) => {
    const bare = id.replace(/^<(.*)>$/, '$1');
    return context.providers.get(provider)?.normalizeMessageId?.(bare) ?? bare;
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/messages',
      tags: ['Messages'],
      summary: 'Register a message, and instrument it for tracking',
      description:
        'Tells Mailtrail about a message you send, so provider events correlate to it. If events for it arrived first, ' +
        'the message they created is merged into this one. Register before sending to have `html` and `text` instrumented ' +
        '(tracked links, an open pixel) and get the unsubscribe `headers` to add; the provider message id then follows with ' +
        'PATCH /v1/messages/{id}. Instrumenting is deterministic: the same message answers the same parts every time.',
      security,
      request: { body: { required: true, content: { 'application/json': { schema: RegisterMessageSchema } } } },
      responses: {
        201: json(RegisteredMessageSchema, 'Registered'),
        200: json(RegisteredMessageSchema, 'Already known: merged with the events received before, or registered before with the same values'),
        400: error('Invalid request'),
        401: error('Missing or invalid API key'),
        404: error('No such integration in this environment'),
        409: error('The id or the provider message id is registered to another message'),
      },
    }),
    async (c) => {
      const environmentId = c.get('environmentId');
      const body = c.req.valid('json');
      const integration = await context.store.getIntegration(environmentId, body.integrationId);
      if (!integration) throw new MailtrailError('MT_ERR_INTEGRATION_NOT_FOUND', `no integration ${body.integrationId} in this environment`);
      const result = await context.store.registerMessage(
        {
          environmentId,
          integrationId: integration.id,
          provider: integration.provider,
          id: body.id,
          providerMessageId: body.providerMessageId === undefined ? undefined : normalizeProviderId(integration.provider, body.providerMessageId),
          recipient: body.to.toLowerCase(),
          from: body.from,
          subject: body.subject,
          tags: body.tags,
          metadata: body.metadata,
          workflowRunId: body.workflowRunId,
          stepRunId: body.stepRunId,
        },
        context.now(),
      );
      const message = registered(result);
      const tracking = trackingSwitches(body.tracking, await context.store.getEnvironment(environmentId), context.tracking.defaults);
      const instrumented = instrumentMessage({
        tokens: context.tracking.tokens,
        baseUrl: context.tracking.baseUrl,
        environmentId,
        messageId: message.id,
        html: body.html,
        text: body.text,
        tracking,
      });
      return c.json({ ...messageView(message), ...instrumented }, result.outcome === 'created' ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/messages/{id}',
      tags: ['Messages'],
      summary: 'Complete a registered message',
      description:
        'Sets what is known once the message is sent: the provider message id, and the recipient, tags or metadata. ' +
        'Events that arrived for that provider id and recipient meanwhile are merged into this message, as registration does. ' +
        'A provider message id, once set, does not change.',
      security,
      request: {
        params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }),
        body: { required: true, content: { 'application/json': { schema: UpdateMessageSchema } } },
      },
      responses: {
        200: json(MessageSchema, 'Updated'),
        400: error('Invalid request'),
        401: error('Missing or invalid API key'),
        404: error('No such message'),
        409: error('The provider message id is another one already, or registered to another message for this recipient'),
      },
    }),
    async (c) => {
      const environmentId = c.get('environmentId');
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const current = await context.store.getMessage(environmentId, id);
      if (!current) throw new MailtrailError('MT_ERR_MESSAGE_NOT_FOUND', `no message ${id}`);
      const provider = current.provider ?? '';
      const providerMessageId = body.providerMessageId === undefined ? undefined : normalizeProviderId(provider, body.providerMessageId);
      if (providerMessageId !== undefined && current.providerMessageId !== null && current.providerMessageId !== providerMessageId) {
        throw new MailtrailError('MT_ERR_CONFLICT', `message ${id} already has provider message id ${current.providerMessageId}`);
      }
      if (current.integrationId === null) throw new MailtrailError('MT_ERR_CONFLICT', `message ${id} belongs to no integration`);
      // Provider events correlate within their own integration, never the first-party one a hit put this message in.
      if (providerMessageId !== undefined && current.provider === FIRST_PARTY_PROVIDER) {
        throw new MailtrailError(
          'MT_ERR_CONFLICT',
          `message ${id} was made by a tracking hit before it was registered: register it with POST /v1/messages, its integrationId and this providerMessageId`,
        );
      }
      const result = await context.store.registerMessage(patched(current, { ...body, providerMessageId }), context.now());
      return c.json(messageView(registered(result)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/messages',
      tags: ['Messages'],
      summary: 'The activity feed',
      description: 'Messages newest first, with their derived state. Page with `cursor` from `next`.',
      security,
      request: { query: ListMessagesQuery },
      responses: { 200: json(page(MessageSchema, 'MessagePage'), 'A page of messages'), 400: error('Invalid query'), 401: error('Missing or invalid API key') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const result = await context.store.listMessages(c.get('environmentId'), {
        ...query,
        from: parseTime(query.from, 'from'),
        to: parseTime(query.to, 'to'),
      });
      return c.json({ data: result.data.map(messageView), next: result.next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/messages/{id}',
      tags: ['Messages'],
      summary: 'A message, its state and its timeline',
      security,
      request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: json(MessageDetailSchema, 'The message with its events in provider time order'), 401: error('Missing or invalid API key'), 404: error('No such message') },
    }),
    async (c) => {
      const environmentId = c.get('environmentId');
      const { id } = c.req.valid('param');
      const message = await context.store.getMessage(environmentId, id);
      if (!message) throw new MailtrailError('MT_ERR_MESSAGE_NOT_FOUND', `no message ${id}`);
      const timeline = await context.store.listMessageEvents(environmentId, id);
      return c.json({ ...messageView(message), timeline: timeline.map(eventView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/events',
      tags: ['Events'],
      summary: 'Normalized events, newest first',
      security,
      request: { query: ListEventsQuery },
      responses: { 200: json(page(EventSchema, 'EventPage'), 'A page of events'), 400: error('Invalid query'), 401: error('Missing or invalid API key') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const result = await context.store.listEvents(c.get('environmentId'), {
        ...query,
        includeIgnored: query.ignored === undefined ? undefined : query.ignored === 'true',
        from: parseTime(query.from, 'from'),
        to: parseTime(query.to, 'to'),
      });
      return c.json({ data: result.data.map(eventView), next: result.next }, 200);
    },
  );

  return app;
}

function registered(result: RegisterResult): Message {
  if (result.outcome === 'conflict') throw new MailtrailError('MT_ERR_CONFLICT', result.reason);
  return result.message;
}

/** The registration that rewrites `current` with a patch: what the patch leaves out stays as it is. */
function patched(current: Message, patch: { providerMessageId?: string | undefined; to?: string | undefined; tags?: string[] | undefined; metadata?: Record<string, unknown> | undefined }): NewMessage {
  const keep = <T>(value: T | null) => value ?? undefined;
  return {
    environmentId: current.environmentId,
    integrationId: current.integrationId!,
    provider: current.provider ?? '',
    id: current.id,
    providerMessageId: patch.providerMessageId ?? keep(current.providerMessageId),
    recipient: patch.to?.toLowerCase() ?? current.recipient ?? '',
    from: keep(current.from),
    subject: keep(current.subject),
    tags: patch.tags ?? current.tags,
    metadata: patch.metadata ?? current.metadata,
    workflowRunId: keep(current.workflowRunId),
    stepRunId: keep(current.stepRunId),
    patch: true,
  };
}

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const time = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(time)) throw new MailtrailError('MT_ERR_VALIDATION', `${name} must be an ISO 8601 time or epoch milliseconds`);
  return time;
}
