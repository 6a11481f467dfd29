import type { AddressInfo } from 'node:net';
import type { ServerType } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { newId } from './core/ids.js';
import { MailtrailError } from './core/errors.js';
import { createApp } from './http/app.js';
import { answeringBeforeBody, serveNode } from './http/node-server.js';
import type { AppContext, AppEnv } from './http/context.js';
import { EventBus, type EmailEventHandler, type EmailEventType } from './ingest/emitter.js';
import type { MachineRangesFile } from './engagement/machine-ranges.js';
import { createHitRecorder, type OwnedHitRecorder } from './ingest/hits.js';
import { silentLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { generateApiKey } from './security/api-keys.js';
import { SecretBox } from './security/secret-box.js';
import type { ParsedEvent } from './core/event.js';
import { createProviderContext } from './ingest/provider-context.js';
import { ProviderRegistry } from './providers/registry.js';
import type { InboundRequest, VerifyResult } from './providers/types.js';
import { EndpointService, type ConfiguredWebhook } from './outbound/endpoints.js';
import { DEFAULT_RETRY_SCHEDULE } from './outbound/schedule.js';
import { renderTestPayload } from './outbound/payload.js';
import { createSender, type Sender } from './outbound/sender.js';
import { outboundHeaders } from './outbound/signing.js';
import { createAddressGuard } from './outbound/ssrf.js';
import { checkConcurrency, DeliveryWorker } from './outbound/worker.js';
import { IntegrationService } from './service/integrations.js';
import { ConfiguredProviders, type ConfiguredProvider } from './service/configured-providers.js';
import { DefaultEnvironment } from './service/default-environment.js';
import { createFastifyPlugin, type FastifyPlugin } from './embed/fastify.js';
import { createNodeHandler, type NodeHandler } from './embed/node-handler.js';
import { instrumentMessage, type TrackingSwitches } from './engagement/instrument-message.js';
import { TrackingTokens } from './engagement/tokens.js';
import type { IpStorage } from './engagement/client-ip.js';
import { networkSet } from './net/cidrs.js';
import { openStore } from './store/index.js';
import type { Store } from './store/types.js';

export interface MailtrailOptions {
  /** postgres:// URL; unset means the embedded SQLite database in `dataDir`. */
  databaseUrl?: string | undefined;
  /** PostgreSQL schema to use (created when missing); default: the connection's search path. */
  databaseSchema?: string | undefined;
  /** Where the embedded database lives. Default `./.mailtrail`. */
  dataDir?: string | undefined;
  /** An already open store; overrides `databaseUrl` and `dataDir`. */
  store?: Store | undefined;
  /** The master secret (≥ 32 characters) that seals stored signing keys. */
  secret: string;
  /** Base of the URLs Mailtrail hands out. Default `http://localhost:3000`. */
  publicUrl?: string | undefined;
  /** Largest inbound body in bytes. Default 10 MiB. */
  bodyLimit?: number | undefined;
  logger?: Logger | undefined;
  /** Exports process metrics (CPU, memory, event loop) on /metrics as well. */
  processMetrics?: boolean | undefined;
  /** The clock, in epoch milliseconds; tests pin it. */
  now?: (() => number) | undefined;
  /** A directory of SNS signing certificates (`SimpleNotificationService-….pem`), for hosts without access to AWS. */
  snsCertDir?: string | undefined;
  /** The fetch used to call providers (SNS certificates and subscription confirmations); for proxies and tests. */
  providerFetch?: typeof fetch | undefined;
  /** The outbound webhook worker that sends the outbox. */
  outbound?: OutboundOptions | undefined;
  /**
   * Outbound endpoints configured in code, as well as through the API: each is created in its environment (or in
   * every environment) on start, and brought in line with this list on every start after that.
   */
  webhooks?: ConfiguredWebhook[] | undefined;
  /**
   * Integrations configured in code, as well as through the API or the CLI, by key (the provider's id unless the
   * entry names its `provider`): each is created in its environment (or in every environment) on start, and
   * brought in line with this list on every start after that. Providers post to their inbound URL, or to
   * `/track/webhook/<provider>` of the default environment.
   */
  providers?: Record<string, ConfiguredProvider> | undefined;
  /**
   * A code-only set-up: the name of the environment this instance serves by default, created on start when no
   * environment has that name. `environmentId` wins over it; without either, the only environment is the default.
   */
  environment?: string | undefined;
  /** First-party open, click and unsubscribe tracking (`instrument`, `POST /v1/messages`, the `/track/*` routes). */
  tracking?: TrackingOptions | undefined;
  /**
   * The environment `instrument` seals its tracking URLs for when a call names none: an app embedding Mailtrail
   * for one environment sets it once.
   */
  environmentId?: string | undefined;
}

/** First-party tracking settings of a Mailtrail instance. */
export interface TrackingOptions {
  /** The base of tracking URLs, a custom tracking domain (MAILTRAIL_TRACKING_URL). Default `publicUrl`. */
  baseUrl?: string | undefined;
  /** The open pixel; default true. An environment's defaults (PATCH /v1/environment) and each request override these. */
  opens?: boolean | undefined;
  /** Tracked links; default true. */
  clicks?: boolean | undefined;
  /** One-click unsubscribe headers; default true. */
  unsubscribe?: boolean | undefined;
  /**
   * Master secrets used before the current one, whose tracking URLs keep working after a rotation
   * (MAILTRAIL_SECRET_PREVIOUS). Default: that variable, comma-separated.
   */
  previousSecrets?: readonly string[] | undefined;
  /** Addresses and CIDRs of proxies whose `Forwarded` / `X-Forwarded-For` name the client (MAILTRAIL_TRUST_PROXY). Default none. */
  trustProxy?: readonly string[] | undefined;
  /** What is stored of a hit's address: `full`, `truncated` (/24, /48; the default) or `none` (MAILTRAIL_IP_STORAGE). */
  ipStorage?: IpStorage | undefined;
  /**
   * The address ranges machine detection uses (MAILTRAIL_MACHINE_RANGES), in place of the shipped
   * `src/engagement/data/machine-ranges.json`: read one with `loadMachineRanges(path)`.
   */
  machineRanges?: MachineRangesFile | undefined;
}

/** What `Mailtrail.instrument` takes. */
export interface InstrumentOptions {
  /** The message's id: the `id` it is (or will be) registered with, which its tracked hits are recorded under. */
  messageId: string;
  /** Default: the instance's `environmentId` option; required when that is not set. */
  environmentId?: string | undefined;
  html?: string | undefined;
  text?: string | undefined;
  /**
   * The recipient, for the caller's bookkeeping only: it is never put in a tracking URL (a token names only the
   * environment, the message and the link), and the recipient of a hit's message comes from its registration.
   */
  recipient?: string | undefined;
  /** Overrides the instance's tracking switches for this message. */
  tracking?: Partial<TrackingSwitches> | undefined;
}

/** The instrumented parts and the headers to add to the email. */
export interface InstrumentResult {
  /** The HTML part with tracked links and the open pixel; undefined when none was given. */
  html: string | undefined;
  /** The text part with tracked links; undefined when none was given. */
  text: string | undefined;
  /** `List-Unsubscribe` and `List-Unsubscribe-Post` when unsubscribe tracking is on. */
  headers: Record<string, string>;
}

export interface OutboundOptions {
  /** Run the worker in this process. Default true; `mailtrail worker` processes can do it instead. */
  worker?: boolean | undefined;
  /** Attempts in flight at once. Default 16. */
  concurrency?: number | undefined;
  /** Seconds before each attempt (MAILTRAIL_RETRY_SCHEDULE); default 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
  retrySchedule?: readonly number[] | undefined;
  /** Allow endpoints on private, loopback and link-local addresses (MAILTRAIL_WEBHOOK_ALLOW_PRIVATE). */
  allowPrivate?: boolean | undefined;
  /** Addresses allowed although private (MAILTRAIL_WEBHOOK_ALLOWED_CIDRS). */
  allowedCidrs?: string[] | undefined;
  /** How long one attempt may take (MAILTRAIL_WEBHOOK_TIMEOUT, seconds); default 15 s. */
  requestTimeoutMs?: number | undefined;
}

const HOUR = 60 * 60 * 1000;

/** A provider Mailtrail does not ship, registered by the embedding app (see `Mailtrail.registerParser`). */
export interface CustomParserOptions {
  displayName?: string | undefined;
  /** Content types it posts. Default `application/json`. */
  contentTypes?: readonly string[] | undefined;
  /**
   * Checks a request with the integration's signing key. Without it, requests need the environment's API key
   * or an integration created with `allowUnsigned`.
   */
  verify?: ((request: InboundRequest, signingKey: string) => VerifyResult | Promise<VerifyResult>) | undefined;
}

/**
 * A running Mailtrail: the store, the HTTP app and the in-process event bus. Create one with `createMailtrail`.
 */
export class Mailtrail {
  readonly store: Store;
  readonly app: OpenAPIHono<AppEnv>;
  readonly metrics: Metrics;
  readonly integrations: IntegrationService;
  readonly endpoints: EndpointService;
  readonly log: Logger;
  readonly providers = new ProviderRegistry();
  private readonly bus: EventBus;
  private readonly now: () => number;
  private readonly servers = new Set<ServerType>();
  private readonly bodyLimit: number;
  private readonly maintenance: NodeJS.Timeout;
  /** The outbound worker, when this process runs one. */
  readonly worker: DeliveryWorker | null;
  private readonly sender: Sender;
  private readonly configuredWebhooks: ConfiguredWebhook[];
  private readonly configuredProviders: ConfiguredProviders;
  private readonly defaultEnvironment: DefaultEnvironment;
  private readonly tracking: AppContext['tracking'];
  /** Hits may be answered before their commit (tracking routes): close() flushes them before the store closes. */
  private readonly hits: OwnedHitRecorder;
  private readonly defaultEnvironmentId: string | undefined;

  /** @internal use `createMailtrail` */
  constructor(options: MailtrailOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.logger ?? silentLogger;
    this.bodyLimit = options.bodyLimit ?? 10 * 1024 * 1024;
    this.store = options.store ?? openStore({ databaseUrl: options.databaseUrl, schema: options.databaseSchema, dataDir: options.dataDir ?? './.mailtrail', log: this.log });
    this.metrics = new Metrics({ processMetrics: options.processMetrics });
    this.bus = new EventBus(this.log);
    this.metrics.watchOutbox(() => this.store.outboxStats(this.now()), this.now);
    const secrets = new SecretBox(options.secret);
    this.integrations = new IntegrationService(this.store, this.providers, secrets, this.now);
    this.endpoints = new EndpointService(this.store, secrets, this.now);
    this.configuredWebhooks = options.webhooks ?? [];
    this.configuredProviders = new ConfiguredProviders(this.store, this.integrations, this.providers, options.providers ?? {});
    for (const [id, parser] of this.configuredProviders.customParsers()) this.registerParser(id, parser.parse, parser);
    this.defaultEnvironment = new DefaultEnvironment(this.store, { id: options.environmentId, name: options.environment });
    const outbound = options.outbound ?? {};
    this.sender = createSender(createAddressGuard({ allowPrivate: outbound.allowPrivate ?? false, allowedCidrs: outbound.allowedCidrs ?? [] }), outbound.requestTimeoutMs);
    this.worker =
      outbound.worker === false
        ? null
        : new DeliveryWorker({
            store: this.store,
            endpoints: this.endpoints,
            sender: this.sender,
            schedule: outbound.retrySchedule ?? DEFAULT_RETRY_SCHEDULE,
            concurrency: checkConcurrency(outbound.concurrency ?? 16),
            requestTimeoutMs: outbound.requestTimeoutMs,
            log: this.log,
            now: this.now,
            onAttempt: (result, durationMs) => this.metrics.countDelivery(result, durationMs),
          });
    const tracking = options.tracking ?? {};
    const previousSecrets = tracking.previousSecrets ?? (process.env.MAILTRAIL_SECRET_PREVIOUS ?? '').split(',').map((part) => part.trim()).filter(Boolean);
    this.tracking = {
      tokens: new TrackingTokens([options.secret, ...previousSecrets]),
      baseUrl: (tracking.baseUrl ?? options.publicUrl ?? 'http://localhost:3000').replace(/\/+$/, ''),
      trustedProxies: networkSet(tracking.trustProxy ?? []),
      ipStorage: tracking.ipStorage ?? 'truncated',
      defaults: { opens: tracking.opens ?? true, clicks: tracking.clicks ?? true, unsubscribe: tracking.unsubscribe ?? true },
    };
    this.defaultEnvironmentId = options.environmentId;
    const context: AppContext = {
      store: this.store,
      providers: this.providers,
      providerContext: createProviderContext({ certDir: options.snsCertDir, fetch: options.providerFetch }),
      integrations: this.integrations,
      endpoints: this.endpoints,
      afterCommit: (queued) => this.worker?.wake(queued),
      hits: (this.hits = createHitRecorder({ store: this.store, ranges: options.tracking?.machineRanges, log: this.log, metrics: this.metrics, now: this.now, bus: this.bus, afterCommit: (queued) => this.worker?.wake(queued) })),
      sendTestEvent: (endpoint) => {
        const now = this.now();
        const body = renderTestPayload(now);
        const id = newId('dlv', now);
        return this.sender.post(endpoint.url, outboundHeaders(endpoint, this.endpoints.signingKeys(endpoint, now), id, 1, body, now), body);
      },
      bus: this.bus,
      metrics: this.metrics,
      log: this.log,
      now: this.now,
      bodyLimit: this.bodyLimit,
      publicUrl: (options.publicUrl ?? 'http://localhost:3000').replace(/\/+$/, ''),
      tracking: this.tracking,
      configuredProviders: this.configuredProviders,
      defaultEnvironment: this.defaultEnvironment,
    };
    this.app = createApp(context);
    this.handler = this.nodeHandler();
    this.fastifyPlugin = createFastifyPlugin(this.handler);
    // Idempotency keys and nonces are only needed for a day: dropped hourly, whoever runs Mailtrail (the CLI or an app).
    this.maintenance = setInterval(() => void this.prune(), HOUR);
    this.maintenance.unref();
  }

  /** Drops idempotency keys and nonces older than a day (their longest use is 24 h); runs hourly by itself. */
  async prune(): Promise<void> {
    const dayAgo = this.now() - 24 * HOUR;
    await Promise.all([
      this.store.pruneIdempotencyKeys(dayAgo).catch((error: unknown) => this.log.warn({ err: error }, 'pruning idempotency keys failed')),
      // twice Mailgun's 12 h signature window: an older nonce is refused by its timestamp anyway
      this.store.pruneNonces(dayAgo).catch((error: unknown) => this.log.warn({ err: error }, 'pruning nonces failed')),
    ]);
  }

  /** Serves a web-standard request: mount this in any framework that speaks `fetch`. */
  fetch = (request: Request): Response | Promise<Response> => this.app.fetch(request);

  /**
   * A `node:http` request listener serving the whole app (API, inbound URLs, tracking): give it to
   * `http.createServer`, or see `nodeHandler` to serve it under a path prefix.
   *
   * @example
   * ```ts
   * import { createServer } from 'node:http';
   * createServer(mailtrail.handler).listen(3000);
   * ```
   */
  readonly handler: NodeHandler;

  /**
   * A `node:http` request listener serving the app under `prefix`: `/api/v1/messages` is `/v1/messages`; paths
   * outside the prefix get Mailtrail's 404.
   */
  nodeHandler(options: { prefix?: string | undefined } = {}): NodeHandler {
    return createNodeHandler(answeringBeforeBody((request, env) => this.app.fetch(request, env), this.bodyLimit), options);
  }

  /**
   * A middleware for Express 4 and 5 and connect, serving the whole app under the path it is mounted at (which
   * they strip from `req.url`). Everything under that path is Mailtrail's: mount it at a path of its own. Mount it
   * before body parsers such as `express.json()`; after one, the request's exact bytes must be kept in
   * `req.rawBody` (a Buffer), or inbound requests are refused with `MT_ERR_BODY_CONSUMED`.
   *
   * @example
   * ```ts
   * const app = express();
   * app.use('/api', mailtrail.middleware());
   * app.use(express.json());
   * ```
   */
  middleware(): NodeHandler {
    return this.handler;
  }

  /**
   * A Fastify 5 plugin serving the whole app under the prefix it is registered with. Fastify's body parsers are
   * replaced within the plugin only, so Mailtrail reads the exact bytes that providers sign.
   *
   * @example
   * ```ts
   * await fastify.register(mailtrail.fastifyPlugin, { prefix: '/api' });
   * ```
   */
  readonly fastifyPlugin: FastifyPlugin;

  /**
   * A message's tracked form, made here without a round trip or any database access: its links go through
   * `<tracking base>/track/click/<token>`, an open pixel `<tracking base>/track/open/<token>` goes at the end of
   * its body, and `headers` holds the one-click unsubscribe headers (RFC 2369, RFC 8058) to add to the email. The
   * same message instrumented here and through `POST /v1/messages` comes out the same. Register the message (with
   * this `messageId`) before or after sending so hits and provider events land on it.
   *
   * @example
   * ```ts
   * const { html, text, headers } = mailtrail.instrument({
   *   messageId: 'order-1234-confirmation',
   *   environmentId: 'env_01jd5x0f6q8t3m2r9v7c4b1n0a',
   *   html: '<p>Your order: <a href="https://shop.example.com/orders/1234">view it</a></p>',
   *   text: 'Your order: https://shop.example.com/orders/1234',
   * });
   * await transport.sendMail({ to: 'ada@example.com', html, text, headers });
   * ```
   */
  instrument(options: InstrumentOptions): InstrumentResult {
    const environmentId = options.environmentId ?? this.defaultEnvironmentId ?? this.defaultEnvironment.known();
    if (!environmentId) throw new MailtrailError('MT_ERR_VALIDATION', 'instrument() needs an environmentId: pass one, or set the environmentId option of createMailtrail');
    // The same rule as a registration's id (POST /v1/messages), so the message can be registered under it.
    if (!/^[\w.:@-]{1,255}$/.test(options.messageId ?? '')) {
      throw new MailtrailError('MT_ERR_VALIDATION', 'instrument() needs the messageId of the message: 1 to 255 letters, digits and _ . : @ -');
    }
    const result = instrumentMessage({
      tokens: this.tracking.tokens,
      baseUrl: this.tracking.baseUrl,
      environmentId,
      messageId: options.messageId,
      html: options.html,
      text: options.text,
      tracking: { ...this.tracking.defaults, ...definedOnly(options.tracking ?? {}) },
    });
    return { html: result.html, text: result.text, headers: result.headers };
  }

  /**
   * Calls `handler` for every committed event of that type (`'email.delivered'`, …, or `'*'`).
   * Returns a function that removes the handler.
   */
  on(type: EmailEventType | '*', handler: EmailEventHandler): () => void {
    return this.bus.on(type, handler);
  }

  off(type: EmailEventType | '*', handler: EmailEventHandler): void {
    this.bus.off(type, handler);
  }

  /**
   * Teaches this instance a provider it does not ship: `parse` turns a request's raw body into events in
   * Mailtrail's vocabulary, and they go through the same pipeline as every built-in provider's (dedupe,
   * correlation, state, in-process events). Create an integration with this `providerId` to get its inbound URL.
   */
  registerParser(providerId: string, parse: (request: InboundRequest) => ParsedEvent[], options: CustomParserOptions = {}): void {
    const { verify } = options;
    this.providers.register({
      id: providerId,
      displayName: options.displayName ?? providerId,
      contentTypes: options.contentTypes ?? ['application/json'],
      auth: 'signature',
      ...(verify ? { verify: (request: InboundRequest, signingKey: string | null) => verify(request, signingKey ?? '') } : {}),
      parse,
    });
  }

  /** Creates or updates the endpoints of `options.webhooks`: in every environment, or only in `onlyEnvironment`. */
  async applyConfiguredWebhooks(onlyEnvironment?: string): Promise<void> {
    for (const config of this.configuredWebhooks) {
      let targets: string[];
      if (config.environmentId !== undefined) targets = onlyEnvironment === undefined || onlyEnvironment === config.environmentId ? [config.environmentId] : [];
      else targets = onlyEnvironment !== undefined ? [onlyEnvironment] : (await this.store.listEnvironments()).map((environment) => environment.id);
      for (const id of targets) if (await this.store.getEnvironment(id)) await this.endpoints.ensureConfigured(id, config);
    }
  }

  /**
   * On start: the `environment` option's environment when it is missing, then what is configured in code
   * (`webhooks`, `providers`) in every environment. @internal `createMailtrail` calls it.
   */
  async start(): Promise<void> {
    await this.defaultEnvironment.start(async (name) => {
      // no API key: a code-only set-up has no one to show it to; `mailtrail init` or the API gives one later
      const environment = await this.store.createEnvironment({ id: newId('env', this.now()), name, createdAt: this.now() });
      return environment.id;
    });
    await this.applyConfiguredWebhooks();
    await this.configuredProviders.apply();
  }

  /** Creates an environment and its first secret API key. The key is returned once and stored only as a hash. */
  async createEnvironment(name = 'default'): Promise<{ environmentId: string; apiKey: string }> {
    const environmentId = newId('env', this.now());
    await this.store.createEnvironment({ id: environmentId, name, createdAt: this.now() });
    const key = generateApiKey();
    await this.store.createApiKey({ id: newId('key', this.now()), environmentId, name: 'default', keyHash: key.hash, keyPrefix: key.prefix, createdAt: this.now() });
    await this.applyConfiguredWebhooks(environmentId);
    await this.configuredProviders.apply(environmentId);
    return { environmentId, apiKey: key.key };
  }

  /** Starts an HTTP server; resolves once it listens. Port 0 picks a free port. */
  listen(options: { port?: number; host?: string } = {}): Promise<{ url: string; port: number; close: () => Promise<void> }> {
    return new Promise((resolve, reject) => {
      const server = serveNode(this.app.fetch, { port: options.port ?? 3000, hostname: options.host ?? '0.0.0.0', bodyLimit: this.bodyLimit }, (info: AddressInfo) => {
        const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
        resolve({ url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${info.port}`, port: info.port, close: () => this.closeServer(server) });
      });
      server.once('error', reject);
      this.servers.add(server);
    });
  }

  /** Stops the servers this instance started, then closes the database. */
  async close(): Promise<void> {
    clearInterval(this.maintenance);
    await this.worker?.stop();
    this.sender.close();
    await Promise.all([...this.servers].map((server) => this.closeServer(server)));
    await this.hits.flush();
    await this.store.close();
  }

  private closeServer(server: ServerType): Promise<void> {
    this.servers.delete(server);
    return new Promise((resolve) => {
      server.close(() => resolve());
      (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    });
  }
}

/** The switches that were given: `{ opens: undefined }` leaves the default in place. */
function definedOnly(switches: Partial<TrackingSwitches>): Partial<TrackingSwitches> {
  return Object.fromEntries(Object.entries(switches).filter(([, value]) => value !== undefined));
}

/**
 * Opens the database, applies migrations and returns a ready Mailtrail.
 *
 * @example
 * ```ts
 * import { createMailtrail } from 'mailtrail';
 *
 * const mailtrail = await createMailtrail({ dataDir: './.mailtrail', secret: process.env.MAILTRAIL_SECRET! });
 * mailtrail.on('email.bounced', ({ event, message }) => {
 *   console.log(`${message?.recipient} bounced: ${event.reason}`);
 * });
 * await mailtrail.listen({ port: 3000 });
 * ```
 */
export async function createMailtrail(options: MailtrailOptions): Promise<Mailtrail> {
  const mailtrail = new Mailtrail(options);
  await mailtrail.store.migrate();
  await mailtrail.start();
  mailtrail.worker?.start();
  return mailtrail;
}
