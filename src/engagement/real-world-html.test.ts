import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { instrumentHtml, revertEdits, type InstrumentHtmlResult } from './instrument.js';
import { openPixel } from './pixel.js';

// Published email HTML, read where it lives (../shared/email-html/ from the project root, SOURCES.md there).
const DIRECTORY = new URL('../../../shared/email-html/', import.meta.url);
const FILES = readdirSync(DIRECTORY).filter((name) => name.endsWith('.html')).sort();
const read = (name: string) => readFileSync(new URL(name, DIRECTORY), 'utf8');

const TRACKING = 'https://t.example.net/track/';
const PIXEL = `${TRACKING}open/tok?a=1&b=2`;
const clickUrl = (index: number) => `${TRACKING}click/${index}?m=msg_1&i=${index}`;

function instrument(html: string): InstrumentHtmlResult {
  return instrumentHtml(html, { trackLink: (_url, index) => clickUrl(index), pixelUrl: PIXEL, trackedPrefix: TRACKING });
}

const urls = (result: InstrumentHtmlResult) => result.links.map((link) => link.url);

/** What each file's trackable links are, in document order: the URL a browser would follow. */
const EXPECTED: Record<string, string[]> = {
  'caniemail-html-base.html': [
    // resolved against the first <base> with an href (https://www.example.com/1/), as browsers do
    'https://www.example.com/path/',
    'https://www.example.com/1/relative-path/',
    'https://www.example.com/1/another-relative-path/',
    'https://www.example.com/',
    'https://www.caniemail.com/',
    'https://www.caniemail.com',
  ],
  'caniemail-html-image-maps.html': ['https://maps4html.org'],
  'caniemail-html-mailto-links.html': ['https://www.caniemail.com'],
  'email-boilerplate.html': ['http://htmlemailboilerplate.com'],
  'leemunroe-email.html': ['http://htmlemail.io', 'http://htmlemail.io/blog', 'http://htmlemail.io'],
  'mailchimp-fancy-2-1-3-leftsidebar.html': [
    'http://www.mailchimp.com/kb/article/how-do-i-work-with-repeatable-content-blocks',
    'http://www.mailchimp.com/kb/article/im-using-the-style-designer-and-i-cant-get-my-formatting-to-change',
    ...Array<string>(5).fill('http://www.mailchimp.com/kb/article/how-do-i-work-with-repeatable-content-blocks'),
  ],
  'mailchimp-transactional-basic.html': ['http://www.mailchimp.com/', 'http://www.mandrill.com/', 'http://www.mandrill.com/'],
  'mailgun-action-inlined.html': ['http://www.mailgun.com', 'http://twitter.com/mail_gun'],
  'postmark-receipt.html': ['https://example.com', 'http://example.com'],
  'postmark-welcome.html': ['https://example.com'],
  'premailer-base.html': [
    'http://premailer.exmaple.com/',
    'http://premailer.exmaple.com/',
    'http://example.com/',
    'http://dialect.ca/?utm_source=Premailer&utm_medium=Test+Suite&utm_campaign=Premailer',
    'http://dialect.ca/dialogue/?utm_source=Dialogue&utm_medium=Credit&utm_campaign=South+Hollow',
  ],
  'sendgrid-paste-email-confirmation.html': Array<string>(5).fill('https://sendgrid.com'),
  'sendwithus-cerberus-hybrid.html': ['http://www.google.com', 'http://www.google.com', 'http://www.google.com'],
  // every button and link of these two is a placeholder: href="http://" (no host), "#" or ""
  'sendwithus-neopolitan-welcome.html': [],
  'sendwithus-oxygen-welcome.html': [],
  'talon-gmail.html': [],
  'talon-mail-ru.html': [],
  'talon-ms-outlook-2003.html': [],
  'talon-windows-mail.html': [],
};

describe('instrumenting published email HTML', () => {
  it('reads every file the expectations name, and nothing else', () => {
    expect(FILES).toEqual(Object.keys(EXPECTED).sort());
  });

  describe.each(FILES)('%s', (name) => {
    const html = read(name);
    const result = instrument(html);

    it('tracks exactly the expected links, in document order', () => {
      expect(urls(result)).toEqual(EXPECTED[name]);
      expect(result.links.map((link) => link.index)).toEqual(result.links.map((_link, index) => index));
    });

    it('undoing the edits on the output gives the input back byte for byte', () => {
      expect(revertEdits(result.html, result.edits)).toBe(html);
    });

    it('changes only link values and inserts only the pixel', () => {
      const pixels = result.edits.filter((edit) => edit.original === '');
      expect(pixels).toEqual([{ start: expect.any(Number), end: expect.any(Number), original: '', replacement: openPixel(PIXEL) }]);
      const values = result.edits.filter((edit) => edit.original !== '');
      expect(values.map((edit) => edit.replacement)).toEqual(result.links.map((link) => clickUrl(link.index).replaceAll('&', '&amp;')));
    });

    it('puts the pixel just before the last </body>, or at the end without one', () => {
      const lastBodyClose = html.toLowerCase().lastIndexOf('</body>');
      const pixel = result.edits.find((edit) => edit.original === '')!;
      expect(pixel.start).toBe(lastBodyClose === -1 ? html.length : lastBodyClose);
    });

    it('leaves an already instrumented document as it is', () => {
      const again = instrumentHtml(result.html, { trackLink: () => 'https://elsewhere.example/', trackedPrefix: TRACKING });
      expect(again.html).toBe(result.html);
      expect(again.edits).toEqual([]);
    });
  });

  it('decodes &amp; in a premailer query and leaves its %%RANDOM%% ad macro alone', () => {
    const html = read('premailer-base.html');
    expect(html).toContain('href="http://example.com/test.html?cn=tf&amp;c=20&amp;ord=%%RANDOM%%"');
    const seen: string[] = [];
    instrumentHtml(html, { trackLink: (url) => (seen.push(url), null) });
    expect(seen).not.toContain('http://example.com/test.html?cn=tf&c=20&ord=%%RANDOM%%');
    // the same link once the macro is filled in: tracked, with the query decoded exactly once
    const filled = html.replace('%%RANDOM%%', '8812');
    expect(urls(instrument(filled))).toContain('http://example.com/test.html?cn=tf&c=20&ord=8812');
  });

  it('leaves premailer’s ftp:, gopher:, mailto:, relative and bracketed links alone', () => {
    const html = read('premailer-base.html');
    const seen: string[] = [];
    instrumentHtml(html, { trackLink: (url) => (seen.push(url), null) });
    for (const written of ['ftp://', 'gopher://', 'mailto:', 'styles.css', 'images/', '#relative', '?query', 'DONOTCONVERT']) {
      expect(seen.filter((url) => url.includes(written))).toEqual([]);
    }
  });

  it('tracks the VML buttons of sendwithus templates inside <!--[if mso]> once they have a real URL', () => {
    const html = read('sendwithus-neopolitan-welcome.html');
    let n = 0;
    const filled = html.replaceAll('href="http://"', () => `href="https://example.com/button-${Math.floor(n++ / 2)}"`);
    const result = instrument(filled);
    expect(result.links.map((link) => [link.tag, link.url])).toEqual([
      ['v:roundrect', 'https://example.com/button-0'],
      ['a', 'https://example.com/button-0'],
      ['v:roundrect', 'https://example.com/button-1'],
      ['a', 'https://example.com/button-1'],
    ]);
    expect(result.html).toContain(`<v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" xmlns:w="urn:schemas-microsoft-com:office:word" href="${clickUrl(0).replaceAll('&', '&amp;')}"`);
    expect(revertEdits(result.html, result.edits)).toBe(filled);
  });

  it('leaves the empty hrefs and host-less http:// of sendwithus-oxygen alone', () => {
    const html = read('sendwithus-oxygen-welcome.html');
    const result = instrumentHtml(html, { trackLink: () => 'https://t.example.net/x' });
    expect(result.edits).toEqual([]);
    expect(result.html).toBe(html);
  });

  it('tracks the <area> of an image map', () => {
    const result = instrument(read('caniemail-html-image-maps.html'));
    expect(result.links).toEqual([{ index: 0, url: 'https://maps4html.org', trackedUrl: clickUrl(0), tag: 'area' }]);
  });

  it('leaves every Mailchimp merge tag link alone', () => {
    for (const name of ['mailchimp-fancy-2-1-3-leftsidebar.html', 'mailchimp-transactional-basic.html']) {
      const html = read(name);
      expect(html).toContain('href="*|UNSUB|*"');
      expect(urls(instrument(html)).filter((url) => url.includes('*|'))).toEqual([]);
      expect(instrument(html).html).toContain('href="*|UNSUB|*"');
    }
  });

  it('leaves every Postmark mustachio placeholder link alone', () => {
    const html = read('postmark-welcome.html');
    const result = instrument(html);
    for (const placeholder of ['{{action_url}}', 'mailto:{{support_email}}', '{{live_chat_url}}', '{{help_url}}']) {
      expect(result.html).toContain(`href="${placeholder}"`);
    }
  });

  it('inserts the pixel before the upper-case </BODY> of a mail.ru reply and keeps its Cyrillic intact', () => {
    const html = read('talon-mail-ru.html');
    const result = instrument(html);
    expect(result.html).toBe(html.replace('</BODY></HTML>', `${openPixel(PIXEL)}</BODY></HTML>`));
  });

  it('leaves Word-generated HTML of Outlook 2003 byte for byte but for the pixel', () => {
    const html = read('talon-ms-outlook-2003.html');
    expect(html).toContain('<body lang=RU link=blue vlink=purple>');
    const result = instrument(html);
    const at = html.lastIndexOf('</body>');
    expect(result.html).toBe(html.slice(0, at) + openPixel(PIXEL) + html.slice(at));
  });

  it('appends the pixel to a Gmail fragment that has no </body>', () => {
    const html = read('talon-gmail.html');
    expect(instrument(html).html).toBe(html + openPixel(PIXEL));
  });
});
