import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { MailtrailError } from '../../core/errors.js';
import type { AppContext, AppEnv } from '../context.js';
import { ErrorSchema, EventSchema, ListEventsQuery, ListMessagesQuery, MessageDetailSchema, MessageSchema, RegisterMessageSchema, page } from '../schemas.js';
import { eventView, messageView } from '../../views/message.js';

const security = [{ ApiKey: [] }];
const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export function messageRoutes(context: AppContext, hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]) {
  const app = new OpenAPIHono<AppEnv>(hooks);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/messages',
      tags: ['Messages'],
      summary: 'Register a sent message',
      description:
        'Tells Mailtrail about a message you sent, so provider events correlate to it. If events for it arrived first, ' +
        'the message they created is merged into this one.',
      security,
      request: { body: { required: true, content: { 'application/json': { schema: RegisterMessageSchema } } } },
      responses: {
        201: json(MessageSchema, 'Registered'),
        200: json(MessageSchema, 'Already known: merged with the events received before, or registered before with the same values'),
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
      const adapter = context.providers.get(integration.provider);
      const normalize = (id: string) => adapter?.normalizeMessageId?.(id) ?? id;
      const result = await context.store.registerMessage(
        {
          environmentId,
          integrationId: integration.id,
          provider: integration.provider,
          id: body.id,
          // Some providers hand out ids in angle brackets (Message-ID style); events carry them bare. An adapter
          // may know more about the form its events use.
          providerMessageId: normalize(body.providerMessageId.replace(/^<(.*)>$/, '$1')),
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
      if (result.outcome === 'conflict') throw new MailtrailError('MT_ERR_CONFLICT', result.reason);
      return c.json(messageView(result.message), result.outcome === 'created' ? 201 : 200);
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

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const time = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(time)) throw new MailtrailError('MT_ERR_VALIDATION', `${name} must be an ISO 8601 time or epoch milliseconds`);
  return time;
}
