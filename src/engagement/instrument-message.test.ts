import { describe, expect, it } from 'vitest';
import { instrumentMessage, type InstrumentMessageInput } from './instrument-message.js';
import { revertEdits, instrumentHtml } from './instrument.js';
import { TrackingTokens } from './tokens.js';

const tokens = new TrackingTokens(['s'.repeat(40)]);
const BASE = 'https://t.example.net';
const ALL_ON = { opens: true, clicks: true, unsubscribe: true };

function run(overrides: Partial<InstrumentMessageInput> = {}) {
  return instrumentMessage({ tokens, baseUrl: BASE, environmentId: 'env_1', messageId: 'msg_1', tracking: ALL_ON, ...overrides });
}

const tokenOf = (url: string, kind: string) => {
  const prefix = `${BASE}/track/${kind}/`;
  expect(url.startsWith(prefix)).toBe(true);
  return url.slice(prefix.length);
};

describe('instrumentMessage', () => {
  it('numbers html links first, then text links after them, each token naming its link', () => {
    const result = run({
      html: '<a href="https://a.example/?x=1&amp;y=2">a</a> <a href="mailto:x@example.com">m</a> <a href="https://b.example/">b</a>',
      text: 'See https://c.example/path and <https://d.example/>.',
    });
    const clicks = [...`${result.html} ${result.text}`.matchAll(/https:\/\/t\.example\.net\/track\/click\/([\w-]+)/g)].map((match) => tokens.open(match[1]!));
    expect(clicks).toEqual([
      { kind: 'click', environmentId: 'env_1', messageId: 'msg_1', linkIndex: 0, url: 'https://a.example/?x=1&y=2' },
      { kind: 'click', environmentId: 'env_1', messageId: 'msg_1', linkIndex: 1, url: 'https://b.example/' },
      { kind: 'click', environmentId: 'env_1', messageId: 'msg_1', linkIndex: 2, url: 'https://c.example/path' },
      { kind: 'click', environmentId: 'env_1', messageId: 'msg_1', linkIndex: 3, url: 'https://d.example/' },
    ]);
    expect(result.html).toContain('href="mailto:x@example.com"');
  });

  it('puts the open pixel before </body> with an open token', () => {
    const { html } = run({ html: '<html><body><p>Hi</p></body></html>' });
    const src = /<img src="([^"]+)"/.exec(html!)![1]!;
    expect(tokens.open(tokenOf(src, 'open'))).toEqual({ kind: 'open', environmentId: 'env_1', messageId: 'msg_1' });
    expect(html!.indexOf('<img')).toBeLessThan(html!.indexOf('</body>'));
  });

  it('gives the RFC 2369 and RFC 8058 headers with an unsubscribe token', () => {
    const { headers } = run({});
    expect(Object.keys(headers)).toEqual(['List-Unsubscribe', 'List-Unsubscribe-Post']);
    expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const url = /^<(.+)>$/.exec(headers['List-Unsubscribe']!)![1]!;
    expect(tokens.open(tokenOf(url, 'unsubscribe'))).toEqual({ kind: 'unsubscribe', environmentId: 'env_1', messageId: 'msg_1' });
  });

  it('leaves each part as it is when its kind of tracking is off', () => {
    const html = '<body><a href="https://a.example/">a</a></body>';
    const text = 'https://a.example/';
    const off = run({ html, text, tracking: { opens: false, clicks: false, unsubscribe: false } });
    expect(off).toEqual({ html, text, headers: {} });
    const clicksOnly = run({ html, tracking: { opens: false, clicks: true, unsubscribe: false } });
    expect(clicksOnly.html).not.toContain('/track/open/');
    expect(clicksOnly.html).toContain('/track/click/');
  });

  it('answers only the parts it was given', () => {
    expect(run({ text: 'no links' })).toEqual({ text: 'no links', headers: expect.any(Object) });
    expect('html' in run({ text: 'x' })).toBe(false);
  });

  it('changes nothing but the rewritten spans and the pixel, and leaves links it made alone', () => {
    const html = '<BODY>\r\n<a href=https://a.example/é>x</a><a href="https://t.example.net/track/click/abc">t</a></BODY>';
    const once = run({ html }).html!;
    const again = instrumentHtml(once, { trackedPrefix: `${BASE}/track/`, trackLink: () => 'https://elsewhere.example/' });
    expect(again.links).toEqual([]);
    const direct = instrumentHtml(html, { trackedPrefix: `${BASE}/track/`, trackLink: (url) => url, pixelUrl: 'p' });
    expect(revertEdits(direct.html, direct.edits)).toBe(html);
  });

  it('is deterministic: the same message gives the same output, and a trailing slash on the base changes nothing', () => {
    const input = { html: '<a href="https://a.example/">a</a>', text: 'https://b.example/' };
    expect(run(input)).toEqual(run({ ...input, baseUrl: `${BASE}/` }));
  });
});
