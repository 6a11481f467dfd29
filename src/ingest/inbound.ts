import { createHash, timingSafeEqual } from 'node:crypto';
import { MailtrailError, isMailtrailError, type ErrorCode } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { nestsDeeperThan, tooDeep } from '../core/json-depth.js';
import { storableText } from '../core/text.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { InboundRequest, ProviderAdapter, ProviderContext } from '../providers/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { IntegrationService } from '../service/integrations.js';
import type { IngestResult, Store } from '../store/types.js';
import { hashApiKey } from '../security/api-keys.js';
import type { EventBus } from './emitter.js';
import { renderInboundResponse } from './response.js';

export interface InboundInput {
  environmentId: string;
  integrationId: string;
  url: string;
  headers: ReadonlyMap<string, string>;
  contentType: string;
  /** Declared Content-Length, when the request has one. */
  contentLength: number | null;
  /** Reads the body, failing with MT_ERR_BODY_TOO_LARGE past `limit` bytes. */
  readBody(limit: number): Promise<Buffer>;
  apiKey: string | null;
  idempotencyKey: string | null;
}

export interface InboundOutput {
  /** The JSON response body: one item per normalized event of the batch. */
  body: string;
  /** True when the body is the stored response of an idempotency key. */
  replayed: boolean;
}

export interface InboundDeps {
  store: Store;
  providers: ProviderRegistry;
  providerContext: ProviderContext;
  integrations: IntegrationService;
  bus: EventBus;
  metrics: Metrics;
  log: Logger;
  bodyLimit: number;
  now: () => number;
  /** Called after a batch commits, saying whether it queued outbound deliveries (the worker then looks for them). */
  afterCommit?: ((queued: boolean) => void) | undefined;
}

const NOT_FOUND = 'unknown environment or integration';
const MAX_IDEMPOTENCY_KEY = 255;

/**
 * The inbound pipeline for one provider request: find the integration, check the body, verify the sender over
 * the raw bytes, parse, and store every event in one transaction. It resolves only after the commit.
 */
export async function receiveInbound(deps: InboundDeps, input: InboundInput): Promise<InboundOutput> {
  const integration = await deps.store.getIntegration(input.environmentId, input.integrationId);
  const adapter = integration ? deps.providers.get(integration.provider) : undefined;
  if (!integration || !adapter) throw new MailtrailError('MT_ERR_INTEGRATION_NOT_FOUND', NOT_FOUND);

  const mediaType = input.contentType.split(';')[0]!.trim().toLowerCase();
  if (!adapter.contentTypes.includes(mediaType) && !(mediaType.endsWith('+json') && adapter.contentTypes.includes('application/json'))) {
    throw new MailtrailError('MT_ERR_UNSUPPORTED_MEDIA_TYPE', `${adapter.displayName} events must be sent as ${adapter.contentTypes.join(' or ')}, got "${mediaType || 'none'}"`);
  }
  if (input.contentLength !== null && input.contentLength > deps.bodyLimit) {
    throw new MailtrailError('MT_ERR_BODY_TOO_LARGE', `the body is larger than the limit of ${deps.bodyLimit} bytes`);
  }
  const receivedAt = deps.now();
  const request: InboundRequest = {
    rawBody: await input.readBody(deps.bodyLimit),
    headers: input.headers,
    url: input.url,
    contentType: mediaType,
    receivedAt,
    settings: integration.settings,
    statusMapping: integration.statusMapping,
  };

  const signed = await authenticate(deps, integration, adapter, request, input);
  if (signed?.nonce !== undefined) {
    const { nonce, scope } = signed;
    const bodyHash = createHash('sha256').update(request.rawBody).digest('hex');
    // Stored as a hash: a fixed size for the index, and no provider text (NUL, any length) reaches the database.
    const nonceHash = createHash('sha256').update(nonce).digest('base64url');
    const claim = await storage(() => deps.store.claimNonce({ scope, nonce: nonceHash, bodyHash, now: receivedAt }));
    if (claim === 'replay') {
      deps.metrics.signatureFailures.inc({ provider: adapter.id, code: 'MT_ERR_REPLAYED' });
      throw new MailtrailError('MT_ERR_REPLAYED', 'this signature was already used with another body');
    }
  }

  // Before anything walks the payload: a body nested thousands deep would be stored fine and then break every
  // read that serializes it (JSON.stringify runs out of stack), for the whole environment's feed.
  // A form's JSON is in its decoded fields, checked event by event below; its raw text is not JSON to scan.
  if (mediaType !== 'application/x-www-form-urlencoded' && nestsDeeperThan(request.rawBody)) throw tooDeep();

  const handshake = adapter.handshake ? await adapter.handshake(request, deps.providerContext) : null;
  if (handshake) {
    await storage(() =>
      deps.store.addIntegrationNotice({
        id: newId('ntc', receivedAt),
        environmentId: integration.environmentId,
        integrationId: integration.id,
        kind: handshake.kind,
        // provider text, made storable like every event field (PostgreSQL refuses NUL)
        topic: handshake.topic === null ? null : storableText(handshake.topic).slice(0, 1024),
        detail: storableText(handshake.detail).slice(0, 4096),
        createdAt: receivedAt,
      }),
    );
    const failed = handshake.kind === 'subscription_confirmation_failed';
    deps.log[failed ? 'warn' : 'info']({ integrationId: integration.id, kind: handshake.kind, topic: handshake.topic, code: handshake.code }, handshake.detail);
    // A confirmation SNS did not answer is a 502, so the provider shows it and sends it again; one whose URL may not
    // be fetched is refused as bad input, which no retry can change.
    if (failed) throw new MailtrailError(handshake.code ?? 'MT_ERR_PROVIDER_UNREACHABLE', handshake.detail);
    return { body: '[]', replayed: false };
  }

  let idempotency: { key: string; bodyHash: string } | undefined;
  if (input.idempotencyKey !== null) {
    if (input.idempotencyKey === '' || input.idempotencyKey.length > MAX_IDEMPOTENCY_KEY) {
      throw new MailtrailError('MT_ERR_VALIDATION', `idempotency-key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters`);
    }
    idempotency = { key: input.idempotencyKey, bodyHash: createHash('sha256').update(request.rawBody).digest('hex') };
    const claim = await storage(() =>
      deps.store.claimIdempotencyKey({ environmentId: integration.environmentId, integrationId: integration.id, ...idempotency!, now: receivedAt }),
    );
    if (claim.state === 'replay') return { body: claim.response, replayed: true };
    if (claim.state === 'mismatch') throw new MailtrailError('MT_ERR_IDEMPOTENCY_KEY_REUSED', 'this idempotency-key was used with another body');
    if (claim.state === 'in_flight') throw new MailtrailError('MT_ERR_IDEMPOTENCY_KEY_IN_FLIGHT', 'a request with this idempotency-key is still being processed');
  }

  let results: IngestResult[];
  try {
    const events = adapter.parse(request);
    // An event's raw text may be JSON held in a field of the body (Mandrill's form field), which the scan of the
    // body cannot see. A JSON body's events are parts of it, already scanned (and rescanning a 1,000-event batch
    // event by event costs three times the scan of the whole body). SNS's Message is checked by its adapter.
    if (!isJsonMediaType(mediaType) && events.some((event) => nestsDeeperThan(event.raw))) throw tooDeep();
    results = await storage(() =>
      deps.store.ingest({
        environmentId: integration.environmentId,
        integrationId: integration.id,
        provider: adapter.id,
        receivedAt,
        events,
        withMessages: deps.bus.hasListeners(),
      }),
    );
  } catch (error) {
    if (idempotency) {
      await deps.store.releaseIdempotencyKey({ environmentId: integration.environmentId, integrationId: integration.id, key: idempotency.key }).catch((releaseError: unknown) => {
        deps.log.warn({ err: releaseError }, 'could not release an idempotency key');
      });
    }
    throw error;
  }
  deps.afterCommit?.(results.some((result) => result.deliveries > 0));
  const body = renderInboundResponse(results);
  if (idempotency) {
    const key = { environmentId: integration.environmentId, integrationId: integration.id, key: idempotency.key };
    // The events are committed; failing to keep the response only means a retry is answered by deduplication.
    await deps.store.completeIdempotencyKey({ ...key, response: body }).catch((error: unknown) => {
      deps.log.warn({ err: error }, 'could not store an idempotent response');
    });
  }

  countResults(deps, adapter.id, results);
  if (deps.bus.hasListeners()) {
    for (const { event, duplicate, message } of results) {
      if (!duplicate && event.status !== null) deps.bus.emit({ type: `email.${event.status}`, event, message });
    }
  }
  return { body, replayed: false };
}

/** Counts a batch into the metrics once per label set, not once per event: a batch holds thousands. */
function countResults(deps: InboundDeps, provider: string, results: IngestResult[]): void {
  const byStatus = new Map<string, number>();
  let duplicates = 0;
  let ignored = 0;
  for (const { event, duplicate } of results) {
    if (duplicate) duplicates++;
    else if (event.status === null) ignored++;
    else byStatus.set(event.status, (byStatus.get(event.status) ?? 0) + 1);
  }
  for (const [status, count] of byStatus) deps.metrics.events.inc({ provider, status }, count);
  if (duplicates > 0) deps.metrics.duplicateEvents.inc({ provider }, duplicates);
  if (ignored > 0) deps.metrics.ignoredEvents.inc({ provider }, ignored);
}

type StoredIntegration = NonNullable<Awaited<ReturnType<Store['getIntegration']>>>;

/**
 * Checks the request the way its provider proves it is its own; returns the nonce to record, if any, with its
 * scope: a nonce is single-use for the key that signed it, whichever integration holds that key.
 */
async function authenticate(
  deps: InboundDeps,
  integration: StoredIntegration,
  adapter: ProviderAdapter,
  request: InboundRequest,
  input: InboundInput,
): Promise<{ nonce: string | undefined; scope: string } | undefined> {
  const fail = (code: ErrorCode, reason: string): never => {
    deps.metrics.signatureFailures.inc({ provider: adapter.id, code });
    throw new MailtrailError(code, reason);
  };
  switch (adapter.auth) {
    case 'certificate': {
      const verdict = await adapter.verify!(request, null, deps.providerContext);
      if (!verdict.ok) return fail(verdict.code, verdict.reason);
      return { nonce: verdict.nonce, scope: `integration:${integration.id}` };
    }
    case 'credentials': {
      const credentials = deps.integrations.credentials(integration);
      const authorization = input.headers.get('authorization') ?? '';
      if (credentials === null) return fail('MT_ERR_CREDENTIALS_INVALID', `integration ${integration.id} has no inbound credentials; rotate them to get new ones`);
      if (!authorization) {
        return fail('MT_ERR_CREDENTIALS_INVALID', `${adapter.displayName} must send the integration's credentials: use the inbound URL with credentials shown when the integration was created`);
      }
      if (!credentialsMatch(authorization, credentials)) return fail('MT_ERR_CREDENTIALS_INVALID', 'the credentials do not match this integration');
      return undefined;
    }
    case 'apiKey': {
      if (input.apiKey !== null && (await deps.store.findEnvironmentByKeyHash(hashApiKey(input.apiKey))) === integration.environmentId) return undefined;
      return fail('MT_ERR_UNAUTHORIZED', "send the environment's API key in Authorization (ApiKey <key> or Bearer <key>)");
    }
    case 'signature': {
      const signingKey = deps.integrations.signingKey(integration);
      if (signingKey !== null && adapter.verify) {
        // Fail closed: once a key is configured nothing else (not even an API key) replaces the signature.
        const verdict = await adapter.verify(request, signingKey, deps.providerContext);
        if (!verdict.ok) return fail(verdict.code, verdict.reason);
        return { nonce: verdict.nonce, scope: `key:${createHash('sha256').update(signingKey).digest('base64url')}` };
      }
      if (input.apiKey !== null) {
        const environmentId = await deps.store.findEnvironmentByKeyHash(hashApiKey(input.apiKey));
        if (environmentId === integration.environmentId) return undefined;
        return fail('MT_ERR_UNAUTHORIZED', 'the API key is not valid for this environment');
      }
      if (integration.allowUnsigned) return undefined;
      return fail(
        'MT_ERR_UNSIGNED_NOT_ALLOWED',
        `integration ${integration.id} has no signing key, so unsigned requests are refused: set the provider's verification key ` +
          `(PATCH /v1/integrations/${integration.id} {"signingKey": "..."}), or send the environment's API key in Authorization, ` +
          'or create the integration with "allowUnsigned": true',
      );
    }
  }
}

/** `Basic base64(user:password)`, or `Bearer password` for providers that send a token (Brevo); compared in constant time. */
function credentialsMatch(authorization: string, credentials: { username: string; password: string }): boolean {
  const [scheme = '', value = ''] = authorization.trim().split(/\s+/, 2);
  const expected =
    scheme.toLowerCase() === 'basic'
      ? `${credentials.username}:${credentials.password}`
      : scheme.toLowerCase() === 'bearer'
        ? credentials.password
        : null;
  if (expected === null) return false;
  const given = scheme.toLowerCase() === 'basic' ? Buffer.from(value, 'base64').toString('utf8') : value;
  // Hashing first makes the comparison constant-time whatever the lengths.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** Runs a store call; any failure that is not ours means the events are not durable: the provider must retry. */
async function storage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isMailtrailError(error)) throw error;
    throw new MailtrailError('MT_ERR_STORAGE_UNAVAILABLE', 'the events could not be stored; retry later', { cause: error });
  }
}
