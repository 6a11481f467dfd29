import { describe, expect, it } from 'vitest';
import { instrumentText, revertEdits, type InstrumentLinkOptions } from './instrument.js';

const T = 'https://t.example/c';

function rewritten(text: string, options: InstrumentLinkOptions = { trackLink: () => T }): string {
  const result = instrumentText(text, options);
  expect(revertEdits(result.text, result.edits)).toBe(text);
  return result.text;
}

function seen(text: string): string[] {
  const urls: string[] = [];
  rewritten(text, { trackLink: (url) => (urls.push(url), T) });
  return urls;
}

describe('URLs in the text part', () => {
  it('rewrites bare http and https URLs, in order, with their indexes', () => {
    const result = instrumentText('Go to https://e.com/a?x=1&y=2 or HTTP://E.COM/b now', {
      trackLink: (_url, index) => `${T}/${index}`,
    });
    expect(result.text).toBe(`Go to ${T}/0 or ${T}/1 now`);
    expect(result.links.map((link) => [link.index, link.url, link.tag])).toEqual([
      [0, 'https://e.com/a?x=1&y=2', 'text'],
      [1, 'HTTP://E.COM/b', 'text'],
    ]);
  });

  it.each([
    ['See https://e.com/a.', 'https://e.com/a'],
    ['See https://e.com/a, then', 'https://e.com/a'],
    ['Really https://e.com/a?!', 'https://e.com/a'],
    ['"https://e.com/a"', 'https://e.com/a'],
    ["'https://e.com/a';", 'https://e.com/a'],
    ['(see https://e.com/a)', 'https://e.com/a'],
    ['[https://e.com/a]', 'https://e.com/a'],
    ['(https://en.wikipedia.org/wiki/Mercury_(planet)).', 'https://en.wikipedia.org/wiki/Mercury_(planet)'],
    ['https://e.com/a:', 'https://e.com/a'],
    ['https://e.com/a/b?c=d#e.', 'https://e.com/a/b?c=d#e'],
    ['https://e.com/ü—x', 'https://e.com/ü—x'],
  ])('trailing punctuation is not part of the URL: %j', (text, url) => {
    expect(seen(text)).toEqual([url]);
    expect(rewritten(text)).toBe(text.replace(url, T));
  });

  it('reads <https://…> and <URL:https://…> as delimited URLs (RFC 3986 appendix C)', () => {
    expect(rewritten('a <https://e.com/a.b?c=(d>. b')).toBe(`a <${T}>. b`);
    expect(rewritten('a <URL:https://e.com/a>')).toBe(`a <URL:${T}>`);
  });

  it('joins a delimited URL wrapped over lines', () => {
    const text = 'Read <https://e.com/a-very-long/\r\n   path?x=1> today';
    expect(seen(text)).toEqual(['https://e.com/a-very-long/path?x=1']);
    expect(rewritten(text)).toBe(`Read <${T}> today`);
  });

  it('does not join across a blank line, and reads the bare URL instead', () => {
    expect(seen('<https://e.com/a\n\nnext paragraph>')).toEqual(['https://e.com/a']);
  });

  it('keeps CRLF and non-ASCII text around the URLs', () => {
    expect(rewritten('Привет,\r\nhttps://e.com/a\r\n👋 https://e.com/b\r\n')).toBe(`Привет,\r\n${T}\r\n👋 ${T}\r\n`);
  });

  it.each([
    'mailto:a@e.com',
    'ftp://e.com/x',
    'www.e.com',
    'http:// nothing',
    'https://',
    'xhttps://e.com/',
    'git+https://e.com/repo.git',
    'https://e.com/?u={{ user.id }}',
    'https://e.com/*|UNSUB|*',
    'https://e.com/?u=%recipient.id%',
    'https://www.yourdomain.com[[data-msys-unsubscribe="1"]]',
    'https://t.example/track/click/abc',
  ])('leaves %j alone', (text) => {
    expect(rewritten(text, { trackLink: () => T, trackedPrefix: 'https://t.example/track/' })).toBe(text);
  });

  it('rewrites nothing without trackLink', () => {
    expect(instrumentText('https://e.com/', {})).toEqual({ text: 'https://e.com/', links: [], edits: [] });
  });
});
