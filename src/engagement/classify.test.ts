import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, labelledHits } from '../../test/fixtures/engagement/evaluate.js';
import { MailtrailError } from '../core/errors.js';
import { parseCidr } from './cidr.js';
import { classifyEngagement, createClassifier, SHIPPED_MACHINE_RANGES, type EngagementContext, type EngagementHit } from './classify.js';
import { loadMachineRanges, parseMachineRanges } from './machine-ranges.js';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.92 Safari/537.36';
const APPLE_MAIL = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';
const OUTLOOK = 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)';
const GMAIL_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const HOME = '203.0.113.40';

function click(change: Partial<EngagementHit> = {}): EngagementHit {
  return { kind: 'click', method: 'GET', userAgent: CHROME, ip: HOME, headers: { accept: 'text/html,*/*;q=0.8', 'accept-language': 'en-US,en;q=0.9' }, ...change };
}
function open(change: Partial<EngagementHit> = {}): EngagementHit {
  return { kind: 'open', method: 'GET', userAgent: APPLE_MAIL, ip: HOME, headers: { accept: 'image/*,*/*;q=0.8', 'accept-language': 'en-US' }, ...change };
}
function later(change: Partial<EngagementContext> = {}): EngagementContext {
  return { secondsAfterDelivery: 900, secondsAfterSend: 903, linkIndex: 0, sameMessageHitsWithin2s: 0, ...change };
}

describe('classifyEngagement: people', () => {
  it('a browser click minutes after delivery is a person', () => {
    expect(classifyEngagement(click(), later())).toEqual({ machine: false, kind: null, reason: null });
  });

  it('an Apple Mail open without Privacy Protection, from home, is a person', () => {
    expect(classifyEngagement(open(), later({ linkIndex: null })).machine).toBe(false);
  });

  it('an Outlook desktop open without Accept-Language is a person', () => {
    expect(classifyEngagement(open({ userAgent: OUTLOOK, headers: { accept: '*/*', 'accept-language': '' } }), later()).machine).toBe(false);
  });

  it('a Gmail reader through the image proxy, minutes after delivery, is a person with the kind reported', () => {
    const verdict = classifyEngagement(open({ userAgent: GMAIL_PROXY, ip: '66.249.93.84', headers: { accept: '*/*', 'accept-language': '' } }), later());
    expect(verdict).toMatchObject({ machine: false, kind: 'image-proxy' });
    expect(verdict.reason).toMatch(/opened the message/);
  });

  it('a click a second after the open, by the same reader, is a person', () => {
    expect(classifyEngagement(click(), later({ sameMessageHitsWithin2s: 1 })).machine).toBe(false);
  });

  it('a password-reset click a few seconds after delivery is a person', () => {
    expect(classifyEngagement(click(), later({ secondsAfterDelivery: 4, secondsAfterSend: 6 })).machine).toBe(false);
  });

  it('a Safari click from Apple\'s network is a person: only a User-Agent naming no browser makes it the proxy', () => {
    expect(classifyEngagement(click({ userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', ip: '17.58.63.1' }), later()).machine).toBe(false);
  });

  it('a phone whose model ends in "bot" is not a bot', () => {
    const cubot = 'Mozilla/5.0 (Linux; Android 13; CUBOT P50) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.92 Mobile Safari/537.36';
    expect(classifyEngagement(click({ userAgent: cubot }), later()).machine).toBe(false);
  });

  it('missing timing is not evidence', () => {
    expect(classifyEngagement(click(), later({ secondsAfterDelivery: null, secondsAfterSend: null })).machine).toBe(false);
  });
});

describe('classifyEngagement: machines', () => {
  it.each([
    ['the bare "Mozilla/5.0" open is Apple Mail Privacy Protection', open({ userAgent: 'Mozilla/5.0', ip: '198.51.100.7' }), 'apple-mpp'],
    ['a WebKit open from Apple\'s network is Apple Mail Privacy Protection', open({ ip: '17.58.63.1' }), 'apple-mpp'],
    ['a bare "Mozilla/5.0" click is a bot', click({ userAgent: 'Mozilla/5.0' }), 'bot'],
    ['a perfect Chrome click from Exchange Online Protection is Safe Links', click({ ip: '40.107.218.12' }), 'link-scanner'],
    ['an open from Exchange Online Protection over IPv6 is a scan', open({ userAgent: CHROME, ip: '2a01:111:f403:c10c::1' }), 'link-scanner'],
    ['a click from Mimecast through a dual-stack socket is a scan', click({ ip: '::ffff:205.139.110.77' }), 'link-scanner'],
    ['a HEAD request is a link checker', click({ method: 'HEAD' }), 'link-scanner'],
    ['HeadlessChrome is a bot', click({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36' }), 'bot'],
    ['python-requests is a bot', click({ userAgent: 'python-requests/2.32.3' }), 'bot'],
    ['Go-http-client is a bot', open({ userAgent: 'Go-http-client/1.1' }), 'bot'],
    ['Barracuda Sentinel is a scanner', click({ userAgent: 'Barracuda Sentinel (EE)' }), 'link-scanner'],
    ['no User-Agent is a bot', click({ userAgent: '' }), 'bot'],
    ['Gmail\'s proxy following a link is a machine', click({ userAgent: GMAIL_PROXY }), 'image-proxy'],
    ['a click without Accept-Language is a bot', click({ headers: { accept: '*/*', 'accept-language': '' } }), 'bot'],
    ['undici\'s Accept-Language "*" is a bot', click({ headers: { accept: '*/*', 'accept-language': '*' } }), 'bot'],
    ['an open without Accept and Accept-Language is a bot', open({ headers: { accept: '', 'accept-language': '' } }), 'bot'],
  ])('%s', (_name, hit, kind) => {
    const verdict = classifyEngagement(hit, later());
    expect(verdict).toMatchObject({ machine: true, kind });
    expect(verdict.reason).toEqual(expect.any(String));
  });

  it('a hit before the delivered event is a gateway scanning in transit', () => {
    expect(classifyEngagement(click(), later({ secondsAfterDelivery: -15 }))).toMatchObject({ machine: true, kind: 'link-scanner' });
  });

  it('a hit a second before the delivered event is within clock skew: a prefetch at delivery, not in transit', () => {
    expect(classifyEngagement(open(), later({ secondsAfterDelivery: -1 }))).toMatchObject({ machine: true, kind: 'prefetch' });
  });

  it('an open within 2 s of delivery is a prefetch', () => {
    expect(classifyEngagement(open(), later({ secondsAfterDelivery: 1.2 }))).toMatchObject({ machine: true, kind: 'prefetch' });
  });

  it('without a delivered event, a hit within 2 s of sending is a prefetch', () => {
    expect(classifyEngagement(click(), later({ secondsAfterDelivery: null, secondsAfterSend: 1 }))).toMatchObject({ machine: true, kind: 'prefetch' });
  });

  it('Gmail\'s proxy at delivery is pre-caching', () => {
    expect(classifyEngagement(open({ userAgent: GMAIL_PROXY }), later({ secondsAfterDelivery: 0.5 }))).toMatchObject({ machine: true, kind: 'image-proxy' });
  });

  it('every link of a message within 2 s is a scanner', () => {
    expect(classifyEngagement(click(), later({ sameMessageHitsWithin2s: 4 }))).toMatchObject({ machine: true, kind: 'link-scanner' });
  });

  it('a second hit within 2 s without Accept-Language is a scanner, also for an open', () => {
    expect(classifyEngagement(open({ userAgent: CHROME, headers: { accept: '*/*', 'accept-language': '' } }), later({ sameMessageHitsWithin2s: 1 }))).toMatchObject({ machine: true, kind: 'link-scanner' });
  });
});

describe('classifyEngagement is total', () => {
  it('never throws and always answers a well-formed verdict, whatever it is given', () => {
    const anything = fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined), fc.double(), fc.integer(), fc.object(), fc.string({ unit: 'binary', maxLength: 3000 }), fc.ipV4(), fc.ipV6(), fc.constant('Mozilla/5.0'));
    fc.assert(
      fc.property(anything, anything, anything, anything, anything, anything, anything, anything, anything, (kind, method, userAgent, ip, accept, language, delivery, send, others) => {
        const verdict = classifyEngagement(
          { kind, method, userAgent, ip, headers: { accept, 'accept-language': language } } as unknown as EngagementHit,
          { secondsAfterDelivery: delivery, secondsAfterSend: send, linkIndex: null, sameMessageHitsWithin2s: others } as unknown as EngagementContext,
        );
        expect(typeof verdict.machine).toBe('boolean');
        expect([null, 'apple-mpp', 'image-proxy', 'link-scanner', 'prefetch', 'bot']).toContain(verdict.kind);
        expect(verdict.reason === null || typeof verdict.reason === 'string').toBe(true);
      }),
      { numRuns: 500 },
    );
    for (const [hit, context] of [[null, null], [undefined, undefined], [{}, {}], ['x', 1], [{ headers: null }, { sameMessageHitsWithin2s: Number.NaN }]]) {
      expect(() => classifyEngagement(hit as EngagementHit, context as EngagementContext)).not.toThrow();
    }
  });

  it('takes well under 10 µs a call', () => {
    const cases = labelledHits();
    for (let round = 0; round < 20; round++) for (const example of cases) classifyEngagement(example.hit, example.context);
    const rounds = 100;
    const started = process.hrtime.bigint();
    for (let round = 0; round < rounds; round++) for (const example of cases) classifyEngagement(example.hit, example.context);
    const microseconds = Number(process.hrtime.bigint() - started) / 1000 / (rounds * cases.length);
    expect(microseconds).toBeLessThan(10);
  });
});

describe('createClassifier over an operator\'s ranges', () => {
  const ranges = {
    updatedAt: '2026-12-01',
    ranges: [{ cidr: '198.51.100.0/24', role: 'security-gateway', owner: 'Example gateway', what: 'our outbound scanner', source: 'https://example.com/ranges' }],
  };

  it('uses the replacement ranges instead of the shipped ones', () => {
    const classify = createClassifier({ ranges: parseMachineRanges(ranges) });
    expect(classify(click({ ip: '198.51.100.9' }), later())).toMatchObject({ machine: true, kind: 'link-scanner', reason: expect.stringContaining('Example gateway') });
    expect(classify(click({ ip: '40.107.218.12' }), later()).machine).toBe(false);
    expect(classifyEngagement(click({ ip: '198.51.100.9' }), later()).machine).toBe(false);
  });

  it('a cloud range counts only beside another hint', () => {
    const classify = createClassifier({ ranges: { updatedAt: '2026-12-01', ranges: [{ ...ranges.ranges[0]!, role: 'cloud', owner: 'Example cloud' }] } });
    expect(classify(click({ ip: '198.51.100.9' }), later()).machine).toBe(false);
    expect(classify(click({ ip: '198.51.100.9' }), later({ secondsAfterDelivery: 20 }))).toMatchObject({ machine: true, kind: 'link-scanner' });
    expect(classify(click({ ip: '198.51.100.9' }), later({ sameMessageHitsWithin2s: 1 })).machine).toBe(true);
  });

  it.each([
    ['not an object', [], /must be a JSON object/],
    ['no updatedAt', { ranges: [] }, /"updatedAt" must be/],
    ['a bad date', { updatedAt: '2026-13-45', ranges: [] }, /"updatedAt" must be/],
    ['ranges not an array', { updatedAt: '2026-12-01', ranges: {} }, /"ranges" must be an array/],
    ['a bad block', { updatedAt: '2026-12-01', ranges: [{ ...ranges.ranges[0], cidr: '198.51.100.1/24' }] }, /ranges\[0\]\.cidr "198\.51\.100\.1\/24" is not/],
    ['an unknown role', { updatedAt: '2026-12-01', ranges: [{ ...ranges.ranges[0], role: 'evil' }] }, /ranges\[0\]\.role "evil" must be one of security-gateway/],
    ['no source', { updatedAt: '2026-12-01', ranges: [{ ...ranges.ranges[0], source: '' }] }, /ranges\[0\]\.source must be a non-empty string/],
  ])('refuses %s with a clear MT_ERR_CONFIG', (_name, input, message) => {
    const attempt = () => createClassifier({ ranges: input as never });
    expect(attempt).toThrow(MailtrailError);
    expect(attempt).toThrow(message);
  });

  it('loads a ranges file, and names the file when it is missing or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-ranges-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(ranges));
    expect(loadMachineRanges(good).ranges).toHaveLength(1);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"updatedAt": ');
    expect(() => loadMachineRanges(broken)).toThrow(/broken\.json is not valid JSON/);
    expect(() => loadMachineRanges(join(dir, 'missing.json'))).toThrow(/missing\.json cannot be read/);
    writeFileSync(broken, JSON.stringify({ updatedAt: '2026-12-01', ranges: [{ cidr: 'x' }] }));
    expect(() => loadMachineRanges(broken)).toThrow(/broken\.json: ranges\[0\]\.cidr "x"/);
  });
});

describe('the shipped ranges', () => {
  it('are dated, each with an https source, and none is a whole cloud shipped as machine', () => {
    expect(SHIPPED_MACHINE_RANGES.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const range of SHIPPED_MACHINE_RANGES.ranges) {
      expect(range.source).toMatch(/^https:\/\//);
      expect(range.role).not.toBe('cloud');
    }
    expect(new Set(SHIPPED_MACHINE_RANGES.ranges.map((range) => range.cidr)).size).toBe(SHIPPED_MACHINE_RANGES.ranges.length);
  });

  it('hold none of the documentation ranges the labelled people come from', () => {
    const people = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32'].map((cidr) => parseCidr(cidr)!);
    for (const range of SHIPPED_MACHINE_RANGES.ranges) {
      const block = parseCidr(range.cidr)!;
      for (const person of people) expect(block.family === person.family && block.first <= person.last && person.first <= block.last).toBe(false);
    }
  });
});

describe('on the labelled set (test/fixtures/engagement/hits.json)', () => {
  const result = evaluate(classifyEngagement);

  it('has a few hundred examples, hard cases on both sides, and a cited fact for every machine', () => {
    const examples = labelledHits();
    expect(examples.length).toBeGreaterThanOrEqual(300);
    expect(examples.some((example) => example.hard && example.label === 'human')).toBe(true);
    expect(examples.some((example) => example.hard && example.label === 'machine')).toBe(true);
    for (const example of examples.filter((item) => item.label === 'machine')) expect(example.source).toEqual(expect.any(String));
  });

  it('reaches at least 95 % precision and 95 % recall for "machine"', () => {
    expect(result.precision).toBeGreaterThanOrEqual(0.95);
    expect(result.recall).toBeGreaterThanOrEqual(0.95);
  });
});
