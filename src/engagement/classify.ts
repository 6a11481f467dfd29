import shippedRanges from './data/machine-ranges.json' with { type: 'json' };
import { compileMachineRanges, parseMachineRanges, type CompiledRanges, type MachineRangesFile, type RangeMatch } from './machine-ranges.js';
import { classifyUserAgent } from './user-agents.js';

/** What fetched a pixel or a link when it was not a person reading or clicking. */
export type MachineKind = 'apple-mpp' | 'image-proxy' | 'link-scanner' | 'prefetch' | 'bot';

/**
 * One request to a tracking URL. Header values: `""` means the request did not carry the header, `null` that the
 * caller does not know.
 */
export interface EngagementHit {
  kind: 'open' | 'click';
  method: 'GET' | 'HEAD';
  userAgent: string;
  ip: string;
  headers: { accept: string | null; 'accept-language': string | null };
}

/**
 * What the server knows around the hit. `secondsAfterDelivery` is negative when the hit came before the provider's
 * delivered event; `sameMessageHitsWithin2s` counts the *other* hits (opens and clicks, any link) of the same message
 * less than 2 seconds before or after this one. The verdict is a pure function of the hit and its context: when the
 * context changes (the delivered event arrives, later hits join a burst), classifying again gives the new verdict.
 */
export interface EngagementContext {
  secondsAfterDelivery: number | null;
  secondsAfterSend: number | null;
  /** Which link of the message (null for an open). Carried for callers and future rules; no shipped rule uses it. */
  linkIndex: number | null;
  sameMessageHitsWithin2s: number;
}

/**
 * The verdict. `kind` is also set for a person's open through a webmail image proxy (`machine: false`,
 * `kind: 'image-proxy'`): the proxy hides the reader's address, but a person did open the message.
 */
export interface EngagementVerdict {
  machine: boolean;
  kind: MachineKind | null;
  reason: string | null;
}

/** A classifier bound to one set of address ranges. Pure, total: it never throws, whatever strings it is given. */
export type EngagementClassifier = (hit: EngagementHit, context: EngagementContext) => EngagementVerdict;

// Provider timestamps are whole seconds and clocks drift: a hit less than this before the delivered event may still
// have come after it.
const CLOCK_SKEW_SECONDS = 2;
// Mail Privacy Protection downloads every image as soon as a message lands (help.socketlabs.com, "Identifying Apple
// MPP opens"); gateways scan at delivery (mautic/mautic#16263). A person must first see the message, so a hit this
// soon after delivery is a prefetch. Kept short on purpose: someone waiting for a password-reset mail clicks within
// seconds of it arriving.
const AT_DELIVERY_SECONDS = 2;
// Scanners reach into hosting networks (onetimesecret/onetimesecret#359: two reads from AWS and Cogent in quick
// succession), but so do people's VPNs: a cloud address counts only with another hint, such as a hit this soon.
const CLOUD_SOON_SECONDS = 60;
// A person produces at most an open and one click within 2 seconds; a scanner fetches every link at once.
const BURST_OTHER_HITS = 2;

const HUMAN: EngagementVerdict = Object.freeze({ machine: false, kind: null, reason: null });

function machine(kind: MachineKind, reason: string): EngagementVerdict {
  return { machine: true, kind, reason };
}

type Earliness = 'before-delivery' | 'at-delivery' | null;

function earliness(context: Normalized['context']): Earliness {
  const afterDelivery = context.secondsAfterDelivery;
  if (afterDelivery !== null) {
    if (afterDelivery < -CLOCK_SKEW_SECONDS) return 'before-delivery';
    return afterDelivery < AT_DELIVERY_SECONDS ? 'at-delivery' : null;
  }
  // Without a delivered event, the send time still bounds it: delivery cannot precede sending.
  const afterSend = context.secondsAfterSend;
  return afterSend !== null && afterSend < AT_DELIVERY_SECONDS ? 'at-delivery' : null;
}

function proxyVerdict(proxy: string, hit: Normalized, early: Earliness): EngagementVerdict {
  if (hit.kind === 'click') return machine('image-proxy', `${proxy} fetched a tracked link: people click links in their own browser`);
  if (early !== null) return machine('image-proxy', `${proxy} fetched the pixel at delivery, before anyone could read the message: pre-caching`);
  // Gmail's proxy fetches images when the message is opened and does not cache them for later readers
  // ("More About Gmail's Proxy", Google Operating System blog, 2013, copied at
  // videogametesterswantedurgently.blogspot.com/2018/08/more-about-gmails-proxy.html): the reader's open, with the proxy's address.
  return { machine: false, kind: 'image-proxy', reason: `${proxy} loaded the pixel when the recipient opened the message: a person's open through the proxy` };
}

function decide(hit: Normalized, ranges: CompiledRanges): EngagementVerdict {
  const agent = classifyUserAgent(hit.userAgent);
  if (agent === 'empty') return machine('bot', 'no User-Agent: every browser and mail client sends one');
  if (agent === 'scanner') return machine('link-scanner', 'the User-Agent names a mail security scanner');
  if (agent === 'script') return machine('bot', 'the User-Agent is a headless browser, an HTTP library or a crawler');
  const early = earliness(hit.context);
  if (agent === 'gmail-proxy') return proxyVerdict("Gmail's image proxy", hit, early);
  if (agent === 'yahoo-proxy') return proxyVerdict("Yahoo Mail's proxy", hit, early);
  // Link checkers probe with HEAD before (or instead of) a GET (FusionAuth 1.49 release notes, FusionAuth/fusionauth-site#2922);
  // browsers follow links and mail clients load images with GET.
  if (hit.method === 'HEAD') return machine('link-scanner', 'a HEAD request: link checkers probe with HEAD, browsers and mail clients use GET');

  const range: RangeMatch | undefined = ranges.lookup(hit.ip);
  if (range?.role === 'security-gateway') return machine('link-scanner', `from ${range.owner}, a mail security gateway's network`);
  if (agent === 'bare') {
    return hit.kind === 'open'
      ? machine('apple-mpp', 'the bare User-Agent "Mozilla/5.0" of Apple Mail Privacy Protection, which fetches every image of a message whether or not it is read')
      : machine('bot', 'the bare User-Agent "Mozilla/5.0" names no browser: people click in one');
  }
  // Outlook's and Apple's image fetchers share a WebKit User-Agent without a browser token (warmbly/warmbly#569); from
  // Apple's own network it is the privacy proxy, not a Mac at home.
  if (range?.role === 'apple-proxy' && hit.kind === 'open' && agent !== 'browser') {
    return machine('apple-mpp', `from ${range.owner} with a User-Agent that names no browser: Apple Mail Privacy Protection's proxy`);
  }
  if (range?.role === 'image-proxy' && hit.kind === 'open') return proxyVerdict(range.owner, hit, early);

  if (early === 'before-delivery') return machine('link-scanner', 'fetched before the message was delivered: a gateway scanning it in transit');
  if (early === 'at-delivery') return machine('prefetch', `fetched less than ${AT_DELIVERY_SECONDS} s after delivery, before anyone could read the message`);

  const others = hit.context.sameMessageHitsWithin2s;
  if (others >= BURST_OTHER_HITS) return machine('link-scanner', `${others} other hits of this message within 2 s: every link fetched at once`);

  // Browsers always send Accept-Language, set from their interface language (MDN, Accept-Language).
  const language = hit.acceptLanguage;
  if (hit.kind === 'click' && (language === '' || language === '*')) {
    return machine('bot', 'a click without a real Accept-Language: every browser sends the reader\'s languages');
  }
  if (hit.kind === 'click' && hit.accept === '') return machine('bot', 'a click without an Accept header: every browser sends one');
  if (hit.kind === 'open' && hit.accept === '' && language === '') return machine('bot', 'neither Accept nor Accept-Language: no mail client loads images like that');

  if (range?.role === 'cloud') {
    const soon = (hit.context.secondsAfterDelivery ?? hit.context.secondsAfterSend ?? Infinity) < CLOUD_SOON_SECONDS;
    if (others >= 1 || soon || language === '') return machine('link-scanner', `from ${range.owner}, a hosting network, together with ${others >= 1 ? 'another hit within 2 s' : soon ? 'a hit within a minute of delivery' : 'no Accept-Language'}`);
  }
  if (others >= 1 && language === '') return machine('link-scanner', 'another hit of this message within 2 s and no Accept-Language');
  return HUMAN;
}

interface Normalized {
  kind: 'open' | 'click';
  method: string;
  userAgent: string;
  ip: string;
  accept: string | null;
  acceptLanguage: string | null;
  context: { secondsAfterDelivery: number | null; secondsAfterSend: number | null; sameMessageHitsWithin2s: number };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function header(value: unknown): string | null {
  return typeof value === 'string' ? value.trim() : null;
}

function seconds(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

// The classifier is exported to JavaScript callers and fed from request data: anything may arrive.
function normalize(hit: unknown, context: unknown): Normalized {
  const request = (typeof hit === 'object' && hit !== null ? hit : {}) as Record<string, unknown>;
  const around = (typeof context === 'object' && context !== null ? context : {}) as Record<string, unknown>;
  const headers = (typeof request.headers === 'object' && request.headers !== null ? request.headers : {}) as Record<string, unknown>;
  const others = seconds(around.sameMessageHitsWithin2s);
  return {
    kind: request.kind === 'click' ? 'click' : 'open',
    method: text(request.method).toUpperCase(),
    userAgent: text(request.userAgent),
    ip: text(request.ip).trim(),
    accept: header(headers.accept),
    acceptLanguage: header(headers['accept-language']),
    context: {
      secondsAfterDelivery: seconds(around.secondsAfterDelivery),
      secondsAfterSend: seconds(around.secondsAfterSend),
      sameMessageHitsWithin2s: others !== null && others > 0 ? Math.floor(others) : 0,
    },
  };
}

/**
 * Builds a classifier over your own address ranges (validated; a bad file throws `MT_ERR_CONFIG` naming the field).
 * @example
 * import { createClassifier, loadMachineRanges } from 'mailtrail';
 * const classify = createClassifier({ ranges: loadMachineRanges('/etc/mailtrail/machine-ranges.json') });
 * classify(
 *   { kind: 'click', method: 'GET', userAgent: 'curl/8.5.0', ip: '203.0.113.9', headers: { accept: '*\/*', 'accept-language': '' } },
 *   { secondsAfterDelivery: 600, secondsAfterSend: 601, linkIndex: 0, sameMessageHitsWithin2s: 0 },
 * ); // → { machine: true, kind: 'bot', reason: '…' }
 */
export function createClassifier(options: { ranges: MachineRangesFile }): EngagementClassifier {
  const ranges = compileMachineRanges(parseMachineRanges(options?.ranges));
  return (hit, context) => {
    try {
      return decide(normalize(hit, context), ranges);
    } catch {
      // Unreachable by construction; a tracking hit must be answered whatever happens here.
      return HUMAN;
    }
  };
}

/** The address ranges Mailtrail ships (`src/engagement/data/machine-ranges.json`), validated. */
export const SHIPPED_MACHINE_RANGES: MachineRangesFile = parseMachineRanges(shippedRanges, 'src/engagement/data/machine-ranges.json');

/**
 * Tells machine opens and clicks (Apple Mail Privacy Protection, image-proxy pre-caching, security gateways' link
 * scanners, prefetches, bots) from people's, over the shipped address ranges.
 * @example
 * import { classifyEngagement } from 'mailtrail';
 * const verdict = classifyEngagement(
 *   { kind: 'open', method: 'GET', userAgent: 'Mozilla/5.0', ip: '17.58.100.1', headers: { accept: 'image/*', 'accept-language': 'en-US' } },
 *   { secondsAfterDelivery: 3, secondsAfterSend: 5, linkIndex: null, sameMessageHitsWithin2s: 0 },
 * ); // → { machine: true, kind: 'apple-mpp', reason: '…' }
 */
export const classifyEngagement: EngagementClassifier = createClassifier({ ranges: SHIPPED_MACHINE_RANGES });
