/**
 * Mailtrail as a library: `createMailtrail` gives the HTTP app (mount `mailtrail.fetch` anywhere), the
 * in-process event bus (`mailtrail.on('email.delivered', …)`) and the store.
 */
export { createMailtrail, Mailtrail, type MailtrailOptions } from './mailtrail.js';
export type { EmailEvent, EmailEventHandler, EmailEventType } from './ingest/emitter.js';
export type { NormalizedEvent, ParsedEvent } from './core/event.js';
export type { MessageState, Outcome } from './core/message-state.js';
export { reduceMessageState } from './core/message-state.js';
export { STATUSES, DELIVERY_STATUSES, BOUNCE_TYPES, type Status, type DeliveryStatus, type BounceType } from './core/vocabulary.js';
export { MailtrailError, ERROR_CODES, type ErrorCode } from './core/errors.js';
export { STATUS_MAPPINGS, type StatusMapping } from './core/status-mapping.js';
export { MAX_JSON_DEPTH } from './core/json-depth.js';
export type { Message, Integration, Store } from './store/types.js';
export type { ProviderAdapter, InboundRequest, VerifyResult, AuthScheme } from './providers/types.js';
export { BUILT_IN_PROVIDERS, ProviderRegistry } from './providers/registry.js';
export type { CustomParserOptions } from './mailtrail.js';
export { verifyWebhook, type WebhookPayload } from './outbound/verify.js';
export type { OutboundOptions } from './mailtrail.js';
export type { TrackingOptions, InstrumentOptions, InstrumentResult } from './mailtrail.js';
export type { TrackingSwitches } from './engagement/instrument-message.js';
export type { ConfiguredWebhook } from './outbound/endpoints.js';
export type { ConfiguredProvider } from './service/configured-providers.js';
export type { NodeHandler } from './embed/node-handler.js';
export type { FastifyPlugin, FastifyInstanceLike } from './embed/fastify.js';
export { classifyEngagement, createClassifier, SHIPPED_MACHINE_RANGES, type EngagementHit, type EngagementContext, type EngagementVerdict, type EngagementClassifier, type MachineKind } from './engagement/classify.js';
export { loadMachineRanges, parseMachineRanges, type MachineRangesFile, type MachineRange } from './engagement/machine-ranges.js';
