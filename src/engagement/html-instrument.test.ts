import { describe, expect, it } from 'vitest';
import { instrumentHtml, revertEdits, type InstrumentHtmlOptions } from './instrument.js';
import { openPixel } from './pixel.js';

const T = 'https://t.example/c';

/** The output, having checked that undoing its edits gives the input back. */
function rewritten(html: string, options: InstrumentHtmlOptions = { trackLink: () => T }): string {
  const result = instrumentHtml(html, options);
  expect(revertEdits(result.html, result.edits)).toBe(html);
  return result.html;
}

/** The URLs handed to trackLink. */
function seen(html: string, options: Omit<InstrumentHtmlOptions, 'trackLink'> = {}): string[] {
  const urls: string[] = [];
  const result = instrumentHtml(html, { ...options, trackLink: (url) => (urls.push(url), T) });
  expect(revertEdits(result.html, result.edits)).toBe(html);
  return urls;
}

describe('attribute values are decoded exactly once, as a browser decodes them', () => {
  it.each([
    ['https://e.com/?a=1&amp;b=2', 'https://e.com/?a=1&b=2'],
    ['https://e.com/?a=1&#38;b=2', 'https://e.com/?a=1&b=2'],
    ['https://e.com/?a=1&#x26;b=2', 'https://e.com/?a=1&b=2'],
    ['https://e.com/?a=1&#38b=2', 'https://e.com/?a=1&b=2'],
    ['https://e.com/?a=1&AMP;b=2', 'https://e.com/?a=1&b=2'],
    ['https://e.com/?a=1&b=2', 'https://e.com/?a=1&b=2'],
    // a legacy entity without ";" followed by "=" or an alphanumeric stays as written in an attribute (HTML §13.2.5.73)
    ['https://e.com/?a=1&copy=2', 'https://e.com/?a=1&copy=2'],
    ['https://e.com/?a=1&notit;', 'https://e.com/?a=1&notit;'],
    ['https://e.com/?a=1&not;', 'https://e.com/?a=1¬'],
    ['https://e.com/?a=1&amp;amp;b', 'https://e.com/?a=1&amp;b'],
    ['https://e.com/?q=&quot;x&quot;', 'https://e.com/?q="x"'],
    ['https://e.com/?x=&#x80;', 'https://e.com/?x=€'],
  ])('%s → %s', (value, url) => {
    expect(seen(`<a href="${value}">x</a>`)).toEqual([url]);
  });

  it('trims the whitespace and drops the line breaks a browser drops', () => {
    expect(seen('<a href="  https://e.com/a\n/b\t ">x</a>')).toEqual(['https://e.com/a/b']);
  });

  it('writes the tracked URL back escaped for its quotes', () => {
    const options = { trackLink: () => `https://t.example/c?a=1&b="2"&c='3'` };
    expect(rewritten('<a href="https://e.com/">x</a>', options)).toBe(
      '<a href="https://t.example/c?a=1&amp;b=&quot;2&quot;&amp;c=\'3\'">x</a>',
    );
    expect(rewritten("<a href='https://e.com/'>x</a>", options)).toBe(
      `<a href='https://t.example/c?a=1&amp;b="2"&amp;c=&#39;3&#39;'>x</a>`,
    );
  });

  it('quotes an unquoted value it rewrites', () => {
    expect(rewritten('<a href=https://e.com/?a=1&amp;b=2>x</a>')).toBe(`<a href="${T}">x</a>`);
    expect(rewritten('<a href=https://e.com/ class=b>x</a>')).toBe(`<a href="${T}" class=b>x</a>`);
  });
});

describe('markup as written', () => {
  it('finds href with spaces around "="', () => {
    expect(rewritten('<a class="b" href =  "https://e.com/" >x</a>')).toBe(`<a class="b" href =  "${T}" >x</a>`);
  });

  it('reads upper-case tags and attributes', () => {
    expect(rewritten('<A HREF="https://e.com/">x</A><AREA Href=https://e.com/a>')).toBe(`<A HREF="${T}">x</A><AREA Href="${T}">`);
  });

  it('follows the first of duplicated href attributes and leaves the second as written', () => {
    expect(seen('<a href="https://first.example/" href="https://second.example/">x</a>')).toEqual(['https://first.example/']);
    expect(rewritten('<a href="https://first.example/" href="https://second.example/">x</a>')).toBe(
      `<a href="${T}" href="https://second.example/">x</a>`,
    );
    expect(seen('<a href href="https://second.example/">x</a>')).toEqual([]);
  });

  it('keeps CRLF line endings and attributes spread over lines', () => {
    const html = '<p>a\r\n<a\r\n  href="https://e.com/"\r\n  style="x">x</a>\r\n</p>\r\n';
    expect(rewritten(html)).toBe(html.replace('https://e.com/', T));
  });

  it('places edits by string offsets after non-ASCII text', () => {
    const html = '<p>Привет 👋 — ünïcödé</p><a href="https://e.com/ü?q=ö">x</a>';
    expect(seen(html)).toEqual(['https://e.com/ü?q=ö']);
    expect(rewritten(html)).toBe(html.replace('https://e.com/ü?q=ö', T));
  });

  it('tracks an <a> without quotes ending at ">"', () => {
    expect(rewritten('<a href=https://e.com/>x</a>')).toBe(`<a href="${T}">x</a>`);
  });

  it('hands out indexes in document order and leaves a link for which trackLink answers null', () => {
    const html = '<a href="https://e.com/0">a</a><a href="https://e.com/1">b</a><a href="https://e.com/2">c</a>';
    const result = instrumentHtml(html, { trackLink: (url, index) => (index === 1 ? null : `${T}/${index}`) });
    expect(result.html).toBe(`<a href="${T}/0">a</a><a href="https://e.com/1">b</a><a href="${T}/2">c</a>`);
    expect(result.links.map((link) => [link.index, link.url])).toEqual([[0, 'https://e.com/0'], [2, 'https://e.com/2']]);
  });

  it('rewrites nothing without trackLink', () => {
    const html = '<a href="https://e.com/">x</a>';
    expect(instrumentHtml(html, {})).toEqual({ html, links: [], edits: [] });
  });
});

describe('links left exactly as they are', () => {
  it.each([
    'mailto:a@example.com?subject=x&amp;body=y',
    'tel:+15555550100',
    'sms:+15555550100',
    '#top',
    '/relative/path',
    'relative.html',
    '?query=string',
    '//cdn.example.com/x',
    'javascript:alert(1)',
    ' JavaScript:alert(1)',
    'ftp://example.com/file',
    'gopher://gopher.floodgap.com/1/fun',
    'data:text/html,hello',
    'file:///etc/passwd',
    '',
    '   ',
    'http://',
    'https://',
  ])('%j', (value) => {
    const html = `<a href="${value}">x</a><area href="${value}">`;
    expect(rewritten(html)).toBe(html);
  });

  it.each([
    'https://e.com/{{user.id}}',
    '{{{ pm:unsubscribe }}}',
    'https://e.com/?n={% if x %}1{% endif %}',
    '*|UNSUB|*',
    'https://e.com/?e=*|EMAIL|*',
    'https://e.com/?e=*%7CEMAIL%7C*',
    'https://e.com/?u=%recipient.id%',
    '%unsubscribe_url%',
    'https://e.com/?u=%tag_unsubscribe_url%',
    'https://e.com/?id=%%SubscriberKey%%',
    '[unsubscribe]',
    'https://e.com/?u=[Unsubscribe]',
    'https://e.com/[[UNSUB_LINK_EN]]',
    'https://e.com/?v=[[var:name:""]]',
    'https://e.com/?id=-customerID-',
    'https://e.com/{$user}',
    'https://e.com/${user}',
    'https://e.com/<%asm_group_unsubscribe_raw_url%>',
    'https://e.com/&lt;%asm_group_unsubscribe_raw_url%&gt;',
    'https://e.com/{unsubscribe_url}',
    'https://e.com/?n={{',
  ])('a URL holding a template placeholder: %s', (value) => {
    const html = `<a href="${value}">x</a>`;
    expect(rewritten(html)).toBe(html);
  });

  it('leaves links that are tracked already', () => {
    const html = '<a href="https://t.example/track/click/abc">x</a><a href="https://e.com/">y</a>';
    expect(rewritten(html, { trackLink: () => T, trackedPrefix: 'https://t.example/track/' })).toBe(
      `<a href="https://t.example/track/click/abc">x</a><a href="${T}">y</a>`,
    );
  });
});

describe('data-mailtrail-track="off"', () => {
  it('leaves the link untouched and removes the attribute with the whitespace before it', () => {
    expect(rewritten('<a href="https://e.com/" data-mailtrail-track="off">x</a>')).toBe('<a href="https://e.com/">x</a>');
    expect(rewritten('<a data-mailtrail-track="off" href="https://e.com/">x</a>')).toBe('<a href="https://e.com/">x</a>');
    expect(rewritten('<a\n  Data-Mailtrail-Track=OFF\n  href="https://e.com/">x</a>')).toBe('<a\n  href="https://e.com/">x</a>');
  });

  it('removes it from VML buttons and links that are not trackable anyway', () => {
    expect(rewritten('<a href="mailto:a@e.com" data-mailtrail-track=\'off\'>x</a>')).toBe('<a href="mailto:a@e.com">x</a>');
    expect(rewritten('<!--[if mso]><v:roundrect href="https://e.com/" data-mailtrail-track="off"><![endif]-->')).toBe(
      '<!--[if mso]><v:roundrect href="https://e.com/"><![endif]-->',
    );
  });

  it('does not count the opted-out link in the indexes', () => {
    const html = '<a href="https://e.com/0" data-mailtrail-track="off">a</a><a href="https://e.com/1">b</a>';
    const result = instrumentHtml(html, { trackLink: (_url, index) => `${T}/${index}` });
    expect(result.html).toBe(`<a href="https://e.com/0">a</a><a href="${T}/0">b</a>`);
  });

  it('leaves any other value and other elements as they are', () => {
    expect(rewritten('<a href="https://e.com/" data-mailtrail-track="on">x</a>')).toBe(
      `<a href="${T}" data-mailtrail-track="on">x</a>`,
    );
    const div = '<div data-mailtrail-track="off"></div>';
    expect(rewritten(div)).toBe(div);
  });
});

describe('<base href>', () => {
  it('resolves relative links against the first <base> with an href, wherever it is', () => {
    const html =
      '<a href="before">a</a><base target="_blank"><base href="https://b.example/dir/"><base href="https://other.example/">' +
      '<a href="../up?x=1&amp;y=2">b</a><a href="/root">c</a><a href="https://abs.example/">d</a>';
    expect(seen(html)).toEqual(['https://b.example/dir/before', 'https://b.example/up?x=1&y=2', 'https://b.example/root', 'https://abs.example/']);
  });

  it('leaves relative links alone without a base, with a relative base or with a non-http base', () => {
    expect(seen('<a href="x">a</a>')).toEqual([]);
    expect(seen('<base href="/dir/"><a href="x">a</a>')).toEqual([]);
    expect(seen('<base href="ftp://f.example/"><a href="x">a</a>')).toEqual([]);
  });

  it('leaves fragments and placeholders alone even with a base', () => {
    expect(seen('<base href="https://b.example/"><a href="#top">a</a><a href="[unsubscribe]">b</a>')).toEqual([]);
  });

  it('ignores a base inside a comment, a conditional comment or a template', () => {
    const html = '<!-- <base href="https://c.example/"> --><!--[if mso]><base href="https://m.example/"><![endif]-->' +
      '<template><base href="https://t.example/"></template><a href="x">a</a>';
    expect(seen(html)).toEqual([]);
  });
});

describe('where links are not links', () => {
  it.each([
    '<script>var s = \'<a href="https://e.com/">x</a>\';</script>',
    '<style>/* <a href="https://e.com/"> */</style>',
    '<textarea><a href="https://e.com/">x</a></textarea>',
    '<title><a href="https://e.com/">x</a></title>',
    '<!-- <a href="https://e.com/">x</a> -->',
    '<!--[if !mso]><!--><p>visible</p><!--<![endif]--><!-- plain <a href="https://e.com/"> -->',
    '<template><a href="https://e.com/">x</a></template>',
    '<xmp><a href="https://e.com/">x</a></xmp>',
  ])('%s', (html) => {
    expect(rewritten(html)).toBe(html);
  });

  it('tracks the link after a template closes', () => {
    expect(seen('<template><template></template><a href="https://a.example/"></a></template><a href="https://b.example/">x</a>')).toEqual([
      'https://b.example/',
    ]);
  });
});

describe('Outlook conditional comments', () => {
  it('tracks the VML button and its HTML fallback, in document order, at the right offsets', () => {
    const html =
      '<div><!--[if mso]>\n  <v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="https://e.com/?a=1&amp;b=2" style="height:40px">' +
      '<w:anchorlock/><center>\n<![endif]--><a href="https://e.com/?a=1&amp;b=2">Go</a><!--[if mso]></center></v:roundrect><![endif]--></div>';
    const result = instrumentHtml(html, { trackLink: (_url, index) => `${T}/${index}` });
    expect(result.links.map((link) => [link.tag, link.url])).toEqual([
      ['v:roundrect', 'https://e.com/?a=1&b=2'],
      ['a', 'https://e.com/?a=1&b=2'],
    ]);
    expect(result.html).toBe(html.replace('https://e.com/?a=1&amp;b=2', `${T}/0`).replace('https://e.com/?a=1&amp;b=2', `${T}/1`));
  });

  it.each(['[if mso]', '[if gte mso 9]', '[if mso | IE]', '[if (gte mso 9)|(IE)]'])('reads <!--%s>', (condition) => {
    const html = `<!--${condition}><v:rect HREF='https://e.com/'></v:rect><a href=https://e.com/a>x</a><![endif]-->`;
    expect(seen(html)).toEqual(['https://e.com/', 'https://e.com/a']);
  });

  it('ignores a </body> inside a conditional comment', () => {
    const html = '<body><!--[if mso]></body><![endif]--><p>x</p>';
    expect(rewritten(html, { pixelUrl: 'https://t.example/o' })).toBe(html + openPixel('https://t.example/o'));
  });
});

describe('the open pixel', () => {
  const pixelUrl = 'https://t.example/open/tok?a=1&b="2"';
  const pixel = openPixel(pixelUrl);

  it('is a 1×1 image with an empty alt, no border, displayed as a block, with its src escaped', () => {
    expect(pixel).toMatch(/^<img src="https:\/\/t\.example\/open\/tok\?a=1&amp;b=&quot;2&quot;" /);
    expect(pixel).toContain(' width="1" height="1" alt="" border="0" ');
    expect(pixel).toMatch(/style="display:block !important;width:1px !important;height:1px !important;border-width:0 !important;/);
  });

  it('goes just before the last </body>, in any case', () => {
    expect(rewritten('<body>a</body>b</BODY >c', { pixelUrl })).toBe(`<body>a</body>b${pixel}</BODY >c`);
  });

  it('ignores a </body> inside a comment or a script', () => {
    expect(rewritten('<body>a</body><!-- </body> --><script>"</body>"</script>', { pixelUrl })).toBe(
      `<body>a${pixel}</body><!-- </body> --><script>"</body>"</script>`,
    );
  });

  it('goes at the end when there is no </body>', () => {
    expect(rewritten('<p>hello</p>', { pixelUrl })).toBe(`<p>hello</p>${pixel}`);
    expect(rewritten('', { pixelUrl })).toBe(pixel);
  });
});

describe('malformed HTML', () => {
  it.each([
    '<a href="https://e.com/',
    '<a href="https://e.com/"',
    '<a href=',
    '<a',
    '<',
    '<!--',
    '<!--[if mso]><v:roundrect href="https://e.com/"',
    '<script><a href="https://e.com/">',
    '<a href="https://e.com/>x</a>',
    '</a href="https://e.com/">',
    '<a/href="https://e.com/x">',
  ])('%j is left as it is, or only its complete links tracked', (html) => {
    const result = instrumentHtml(html, { trackLink: () => T, pixelUrl: 'https://t.example/o' });
    expect(revertEdits(result.html, result.edits)).toBe(html);
    expect(result.links.every((link) => result.html.includes(`"${T}"`) && link.trackedUrl === T)).toBe(true);
  });

  it('tracks an href after a slash in the tag, as browsers do', () => {
    expect(seen('<a/href="https://e.com/x">y</a>')).toEqual(['https://e.com/x']);
  });

  it('does not track a tag that never closes', () => {
    expect(seen('<p>x</p><a href="https://e.com/"')).toEqual([]);
  });
});
