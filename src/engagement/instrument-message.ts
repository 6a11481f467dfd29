import { instrumentHtml, instrumentText } from './instrument.js';
import type { TrackingTokens } from './tokens.js';

/** Which kinds of first-party tracking a message gets. */
export interface TrackingSwitches {
  /** The open pixel in the HTML part. */
  opens: boolean;
  /** Every trackable link of the HTML and text parts goes through the click redirect. */
  clicks: boolean;
  /** `List-Unsubscribe` and `List-Unsubscribe-Post` headers (RFC 2369, RFC 8058). */
  unsubscribe: boolean;
}

export interface InstrumentMessageInput {
  tokens: TrackingTokens;
  /** The tracking base (MAILTRAIL_TRACKING_URL, default PUBLIC_URL), without a trailing slash. */
  baseUrl: string;
  environmentId: string;
  messageId: string;
  html?: string | undefined;
  text?: string | undefined;
  tracking: TrackingSwitches;
}

export interface InstrumentedMessage {
  html?: string;
  text?: string;
  /** Headers to add to the email: the unsubscribe pair when `tracking.unsubscribe` is on, else none. */
  headers: Record<string, string>;
}

/**
 * A message's tracked form: links through `<base>/track/click/<token>`, the pixel `<base>/track/open/<token>`, and
 * the one-click unsubscribe headers. Pure and synchronous: every token is sealed here, nothing is stored, so a
 * library user instruments without a round trip and the API answers without touching the message.
 *
 * Links are numbered across both parts, the HTML part's first and the text part's after them, so each link of
 * the message has its own index (the machine classifier reads it: a scanner follows every link in order).
 */
export function instrumentMessage(input: InstrumentMessageInput): InstrumentedMessage {
  const { tokens, environmentId, messageId, tracking } = input;
  const base = input.baseUrl.replace(/\/+$/, '');
  const trackedPrefix = `${base}/track/`;
  const clickUrl = (offset: number) => (url: string, index: number) =>
    `${trackedPrefix}click/${tokens.seal({ kind: 'click', environmentId, messageId, linkIndex: offset + index, url })}`;

  const result: InstrumentedMessage = { headers: {} };
  let htmlLinks = 0;
  if (input.html !== undefined) {
    const html = instrumentHtml(input.html, {
      trackedPrefix,
      ...(tracking.clicks ? { trackLink: clickUrl(0) } : {}),
      ...(tracking.opens ? { pixelUrl: `${trackedPrefix}open/${tokens.seal({ kind: 'open', environmentId, messageId })}` } : {}),
    });
    result.html = html.html;
    htmlLinks = html.links.length;
  }
  if (input.text !== undefined) {
    result.text = tracking.clicks ? instrumentText(input.text, { trackedPrefix, trackLink: clickUrl(htmlLinks) }).text : input.text;
  }
  if (tracking.unsubscribe) {
    const token = tokens.seal({ kind: 'unsubscribe', environmentId, messageId });
    // RFC 2369 §2: the URL in angle brackets; RFC 8058 §3.1: the POST body a receiver sends for one click.
    result.headers['List-Unsubscribe'] = `<${trackedPrefix}unsubscribe/${token}>`;
    result.headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }
  return result;
}
