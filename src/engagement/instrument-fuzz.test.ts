import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { instrumentHtml, instrumentText, revertEdits, type Edit } from './instrument.js';
import { openPixel } from './pixel.js';

const TRACKED = 'https://t.example/track/click/x';
const PIXEL = 'https://t.example/track/open/x';
const options = { trackLink: () => TRACKED, pixelUrl: PIXEL, trackedPrefix: 'https://t.example/track/' };

const PIECES = [
  '<a', '<A', '<area', '<v:roundrect', '<base', '<img', ' href', ' HREF', '=', ' = ', '"', "'", '>', '/>', '</a>',
  'https://e.com/', 'http://', 'HTTP://E.COM/x?a=1', '&amp;', '&', '&#38;', '&#x26', '&copy=', '&not', '#top', 'mailto:a@e.com',
  '{{', '}}', '*|UNSUB|*', ' data-mailtrail-track="off"', ' data-mailtrail-track=off', '<!--', '-->', '--!>', '<!-->',
  '<!--[if mso]>', '<![endif]-->', '<!--[if !mso]><!-->', '<script>', '</script>', '<style>', '</style>', '<template>',
  '</template>', '<textarea>', '</textarea>', '<body>', '</body>', '</BODY >', '<![CDATA[', ']]>', '<!DOCTYPE html>',
  '\r\n', '\n', ' ', '\t', '\u0000', 'ü', '👋', 'Привет', 'x', '<', '</', '?', '(', ')', '.',
];

const htmlish = fc.array(fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 4 })), { maxLength: 60 }).map((parts) => parts.join(''));

const DIRECTORY = new URL('../../../shared/email-html/', import.meta.url);
const TEMPLATES = readdirSync(DIRECTORY).filter((name) => name.endsWith('.html')).map((name) => readFileSync(new URL(name, DIRECTORY), 'utf8'));
/** A published template cut anywhere: a truncated or partly pasted email. */
const truncatedTemplate = fc
  .tuple(fc.constantFrom(...TEMPLATES), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([html, a, b]) => html.slice(Math.floor(Math.min(a, b) * html.length), Math.floor(Math.max(a, b) * html.length)));

function expectWellFormedEdits(input: string, edits: Edit[]): void {
  let previousEnd = 0;
  for (const edit of edits) {
    expect(edit.start).toBeGreaterThanOrEqual(previousEnd);
    expect(edit.end).toBeGreaterThanOrEqual(edit.start);
    expect(edit.original).toBe(input.slice(edit.start, edit.end));
    previousEnd = edit.end;
  }
  expect(previousEnd).toBeLessThanOrEqual(input.length);
}

/** Every edit is one of the three the instrumenter may make. */
function expectOnlyAllowedEdits(edits: Edit[]): void {
  for (const edit of edits) {
    const pixel = edit.original === '' && edit.replacement === openPixel(PIXEL);
    const link = edit.replacement === TRACKED || edit.replacement === `"${TRACKED}"`;
    const optOut = edit.replacement === '' && /^[\t\n\f\r ]*data-mailtrail-track\s*=\s*(["']?)off\1$/i.test(edit.original);
    expect(pixel || link || optOut, JSON.stringify(edit)).toBe(true);
  }
  expect(edits.filter((edit) => edit.original === '')).toHaveLength(1);
}

describe('instrumenting arbitrary HTML', () => {
  for (const [name, inputs] of [['HTML-ish strings', htmlish], ['truncated templates', truncatedTemplate]] as const) {
    it(`never throws, and undoing the edits gives the input back (${name})`, () => {
      fc.assert(
        fc.property(inputs, (html) => {
          const result = instrumentHtml(html, options);
          expectWellFormedEdits(html, result.edits);
          expectOnlyAllowedEdits(result.edits);
          expect(revertEdits(result.html, result.edits)).toBe(html);
        }),
        { numRuns: 400 },
      );
    });

    it(`finds nothing more to do in its own output (${name})`, () => {
      fc.assert(
        fc.property(inputs, (html) => {
          const once = instrumentHtml(html, { trackLink: options.trackLink, trackedPrefix: options.trackedPrefix }).html;
          const twice = instrumentHtml(once, { trackLink: options.trackLink, trackedPrefix: options.trackedPrefix });
          expect(twice.edits).toEqual([]);
        }),
        { numRuns: 400 },
      );
    });
  }
});

describe('instrumenting arbitrary text', () => {
  it('never throws, and undoing the edits gives the input back', () => {
    fc.assert(
      fc.property(fc.oneof(htmlish, truncatedTemplate, fc.string()), (text) => {
        const result = instrumentText(text, options);
        expectWellFormedEdits(text, result.edits);
        for (const edit of result.edits) expect(edit.replacement).toBe(TRACKED);
        expect(revertEdits(result.text, result.edits)).toBe(text);
      }),
      { numRuns: 400 },
    );
  });
});
