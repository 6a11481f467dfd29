import { randomBytes } from 'node:crypto';
import { ENDPOINT_EVENT_TYPES } from '../core/event-types.js';
import { MailtrailError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { standardWebhooksKey } from '../providers/standard-webhooks.js';
import type { SecretBox } from '../security/secret-box.js';
import type { Store, WebhookEndpoint } from '../store/types.js';

export interface EndpointInput {
  url: string;
  description?: string | null | undefined;
  eventTypes?: string[] | undefined;
  enabled?: boolean | undefined;
  headers?: Record<string, string> | undefined;
  rateLimit?: number | null | undefined;
}

const MAX_CACHED_KEYS = 10_000;

/** How long a rotated-out secret keeps signing beside the new one, unless the caller says otherwise. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

/** Headers Mailtrail sets itself; an endpoint's static headers cannot replace them. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'connection', 'transfer-encoding', 'user-agent', 'mailtrail-attempt']);

/** Outbound endpoints with their signing secrets sealed; a clear secret is returned only when it is created. */
export class EndpointService {
  /** Opened signing keys by endpoint and sealed secret (see `signingKeys`). */
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly now: () => number,
  ) {}

  async create(environmentId: string, input: EndpointInput, givenSecret?: string): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const id = newId('ep', this.now());
    const secret = givenSecret === undefined ? generateSecret() : checkSecret(givenSecret);
    const now = this.now();
    const endpoint = await this.store.createEndpoint({
      id,
      environmentId,
      url: checkUrl(input.url),
      description: input.description ?? null,
      eventTypes: checkEventTypes(input.eventTypes ?? ['*']),
      enabled: input.enabled ?? true,
      headers: checkHeaders(input.headers ?? {}),
      rateLimit: input.rateLimit ?? null,
      secretEnc: this.seal(id, secret),
      previousSecretEnc: null,
      previousSecretUntil: null,
      disabledReason: null,
      failingSince: null,
      createdAt: now,
      updatedAt: now,
    });
    return { endpoint, secret };
  }

  /**
   * An endpoint configured in code (`createMailtrail({ webhooks })`): created the first time, brought in line with
   * the configuration (secret, event types, headers; enabled) on every start after that. Matched by its URL.
   */
  async ensureConfigured(environmentId: string, config: ConfiguredWebhook): Promise<WebhookEndpoint> {
    const existing = (await this.store.listEndpoints(environmentId)).find((endpoint) => endpoint.url === checkUrl(config.url) && endpoint.description === CONFIGURED);
    const input = { url: config.url, description: CONFIGURED, eventTypes: config.events ?? ['*'], headers: config.headers ?? {}, enabled: true };
    if (!existing) return (await this.create(environmentId, input, config.secret)).endpoint;
    await this.update(environmentId, existing.id, input);
    const updated = await this.store.updateEndpoint(environmentId, existing.id, { secretEnc: this.seal(existing.id, checkSecret(config.secret)), updatedAt: this.now() });
    return updated!;
  }

  async get(environmentId: string, id: string): Promise<WebhookEndpoint> {
    const endpoint = await this.store.getEndpoint(environmentId, id);
    if (!endpoint) throw new MailtrailError('MT_ERR_NOT_FOUND', `no webhook endpoint ${id}`);
    return endpoint;
  }

  list(environmentId: string): Promise<WebhookEndpoint[]> {
    return this.store.listEndpoints(environmentId);
  }

  async update(environmentId: string, id: string, input: Partial<EndpointInput>): Promise<WebhookEndpoint> {
    await this.get(environmentId, id);
    const updated = await this.store.updateEndpoint(environmentId, id, {
      ...(input.url !== undefined ? { url: checkUrl(input.url) } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.eventTypes !== undefined ? { eventTypes: checkEventTypes(input.eventTypes) } : {}),
      // enabling again clears why it was disabled
      ...(input.enabled !== undefined ? { enabled: input.enabled, ...(input.enabled ? { disabledReason: null, failingSince: null } : {}) } : {}),
      ...(input.headers !== undefined ? { headers: checkHeaders(input.headers) } : {}),
      ...(input.rateLimit !== undefined ? { rateLimit: input.rateLimit } : {}),
      updatedAt: this.now(),
    });
    if (!updated) throw new MailtrailError('MT_ERR_NOT_FOUND', `no webhook endpoint ${id}`);
    return updated;
  }

  /** A new secret; the current one keeps signing beside it for `graceMs`, so receivers can switch without a gap. */
  async rotateSecret(environmentId: string, id: string, graceMs = DEFAULT_ROTATION_GRACE_MS): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const current = await this.get(environmentId, id);
    const secret = generateSecret();
    const now = this.now();
    const updated = await this.store.updateEndpoint(environmentId, id, {
      secretEnc: this.seal(id, secret),
      previousSecretEnc: graceMs > 0 ? current.secretEnc : null,
      previousSecretUntil: graceMs > 0 ? now + graceMs : null,
      updatedAt: now,
    });
    if (!updated) throw new MailtrailError('MT_ERR_NOT_FOUND', `no webhook endpoint ${id}`);
    return { endpoint: updated, secret };
  }

  async delete(environmentId: string, id: string): Promise<void> {
    if (!(await this.store.deleteEndpoint(environmentId, id))) throw new MailtrailError('MT_ERR_NOT_FOUND', `no webhook endpoint ${id}`);
  }

  /**
   * The HMAC keys to sign with at `now`: the current secret's, and the previous one's during its grace period.
   * Opened once per sealed secret and then kept: opening costs more than signing.
   * A sealed secret is never reused (each seal has its own nonce), so a rotation or a reconfiguration misses the
   * cache rather than reading a stale key.
   */
  signingKeys(endpoint: WebhookEndpoint, now: number): Buffer[] {
    return this.liveSealed(endpoint, now).map((sealed) => {
      const key = this.keys.get(`${endpoint.id}:${sealed}`);
      if (key) return key;
      const opened = standardWebhooksKey(this.secrets.open(sealed, `${endpoint.id}:secret`))!;
      if (this.keys.size >= MAX_CACHED_KEYS) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(`${endpoint.id}:${sealed}`, opened);
      return opened;
    });
  }

  private liveSealed(endpoint: WebhookEndpoint, now: number): string[] {
    const live = endpoint.previousSecretEnc !== null && endpoint.previousSecretUntil !== null && now < endpoint.previousSecretUntil;
    return live ? [endpoint.secretEnc, endpoint.previousSecretEnc!] : [endpoint.secretEnc];
  }

  private seal(id: string, secret: string): string {
    return this.secrets.seal(secret, `${id}:secret`);
  }
}

/** An endpoint given in `createMailtrail({ webhooks })`. */
export interface ConfiguredWebhook {
  url: string;
  /** A Standard Webhooks secret (`whsec_` + base64, at least 16 bytes), shared with the receiver. */
  secret: string;
  /** Event types; default `['*']`. */
  events?: string[] | undefined;
  headers?: Record<string, string> | undefined;
  /** The environment it belongs to; default every environment of this instance. */
  environmentId?: string | undefined;
}

const CONFIGURED = 'configured in code';

function checkSecret(secret: string): string {
  if (!standardWebhooksKey(secret)) throw new MailtrailError('MT_ERR_CONFIG', 'a webhook secret must be whsec_ followed by the base64 of at least 16 bytes');
  return secret;
}

/** A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function checkUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new MailtrailError('MT_ERR_VALIDATION', `url: not an absolute URL: "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new MailtrailError('MT_ERR_VALIDATION', 'url: must be http or https');
  if (url.username || url.password) throw new MailtrailError('MT_ERR_VALIDATION', 'url: credentials go in headers, not in the URL');
  return url.toString();
}

function checkEventTypes(types: string[]): string[] {
  if (types.length === 0) throw new MailtrailError('MT_ERR_VALIDATION', 'eventTypes: at least one');
  const unknown = types.find((type) => !ENDPOINT_EVENT_TYPES.includes(type));
  if (unknown !== undefined) throw new MailtrailError('MT_ERR_VALIDATION', `eventTypes: unknown "${unknown}"; use email.<status>, message.sent, message.delivered, message.seen, message.failed or *`);
  return [...new Set(types)];
}

function checkHeaders(headers: Record<string, string>): Record<string, string> {
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]{1,100}$/.test(lower)) throw new MailtrailError('MT_ERR_VALIDATION', `headers: "${name}" is not a header name`);
    if (RESERVED_HEADERS.has(lower) || lower.startsWith('webhook-')) throw new MailtrailError('MT_ERR_VALIDATION', `headers: "${name}" is set by Mailtrail`);
    // what HTTP allows in a field value: tab, printable ASCII and Latin-1 (Node refuses anything else when sending)
    if (typeof value !== 'string' || value.length > 4096 || !/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
      throw new MailtrailError('MT_ERR_VALIDATION', `headers: the value of "${name}" is not a header value`);
    }
    checked[lower] = value;
  }
  if (Object.keys(checked).length > 20) throw new MailtrailError('MT_ERR_VALIDATION', 'headers: at most 20');
  return checked;
}
