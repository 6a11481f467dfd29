import type { IngestResult } from '../store/types.js';

/**
 * The inbound response that notification platforms and their SDKs expect:
 * `[{ id, event: { status, date, externalId, attempts, response, row } }]`. Only mapped statuses appear, and a
 * field with no value is left out rather than `null`, because the SDKs validate this shape strictly.
 */
export function renderInboundResponse(results: IngestResult[]): string {
  const items = [];
  for (const { event } of results) {
    if (event.status === null) continue;
    const item: Record<string, unknown> = { status: event.status, date: new Date(event.occurredAt).toISOString() };
    if (event.providerMessageId !== undefined) item.externalId = event.providerMessageId;
    if (event.attempts !== undefined) item.attempts = event.attempts;
    if (event.reason !== undefined) item.response = event.reason;
    item.row = event.raw;
    items.push({ id: event.id, event: item });
  }
  return JSON.stringify(items);
}
