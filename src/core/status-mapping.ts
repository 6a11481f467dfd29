/**
 * How an integration maps its provider's native events to statuses:
 * - `contract` (the default): the status tables of the notification platform whose contract Mailtrail keeps hold
 *   exactly, for the providers they cover (SendGrid, Mailgun, Resend, Amazon SES). Events the tables do not list
 *   are mapped as under `precise`.
 * - `precise`: Mailtrail's finer mapping, e.g. a SendGrid blocked bounce is `blocked`, a Mailgun permanent failure
 *   `bounced`, an SES bounce to a suppressed address `dropped`.
 *
 * Either way an event keeps its `bounceType`, `reason` and raw payload. Whatever counts bounces (suppression lists,
 * bounce rates) reads `bounceType === 'hard'`, never the status alone: a Mailgun permanent failure is `rejected`
 * under the contract and `bounced` under `precise`, and `hard` under both.
 */
export const STATUS_MAPPINGS = ['contract', 'precise'] as const;

/** One of STATUS_MAPPINGS. */
export type StatusMapping = (typeof STATUS_MAPPINGS)[number];

export const DEFAULT_STATUS_MAPPING: StatusMapping = 'contract';

/** True for one of STATUS_MAPPINGS. */
export function isStatusMapping(value: unknown): value is StatusMapping {
  return typeof value === 'string' && (STATUS_MAPPINGS as readonly string[]).includes(value);
}
