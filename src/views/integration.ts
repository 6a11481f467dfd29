import type { AuthScheme } from '../providers/types.js';
import type { InboundCredentials } from '../service/integrations.js';
import type { Integration, IntegrationNotice } from '../store/types.js';
import { iso } from './time.js';

// The public JSON of integrations: ISO times, no secrets, `null` for missing values.

export function inboundWebhookUrl(integration: Pick<Integration, 'environmentId' | 'id'>, publicUrl: string): string {
  return `${publicUrl}/v2/inbound-webhooks/delivery-providers/${integration.environmentId}/${integration.id}`;
}

/** The URL with the credentials in it (`https://user:password@host/…`), for providers that take Basic auth that way. */
export function authenticatedWebhookUrl(url: string, credentials: InboundCredentials): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(credentials.username);
  parsed.password = encodeURIComponent(credentials.password);
  return parsed.toString();
}

export function integrationView(integration: Integration, publicUrl: string, authScheme: AuthScheme, credentials: InboundCredentials | null = null) {
  const url = inboundWebhookUrl(integration, publicUrl);
  return {
    id: integration.id,
    providerId: integration.provider,
    name: integration.name,
    activityTracking: integration.activityTracking,
    allowUnsigned: integration.allowUnsigned,
    authScheme,
    hasSigningKey: integration.signingKeyEnc !== null,
    hasCredentials: integration.credentialsEnc !== null,
    settings: integration.settings,
    statusMapping: integration.statusMapping,
    inboundWebhookUrl: url,
    ...(credentials ? { credentials: { ...credentials }, authenticatedWebhookUrl: authenticatedWebhookUrl(url, credentials) } : {}),
    createdAt: iso(integration.createdAt),
    updatedAt: iso(integration.updatedAt),
  };
}

export function noticeView(notice: IntegrationNotice) {
  return { id: notice.id, kind: notice.kind, topic: notice.topic, detail: notice.detail, createdAt: iso(notice.createdAt) };
}
