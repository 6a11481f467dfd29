import { QuoteType, Tokenizer, type TokenizerCallbacks } from 'htmlparser2';

/** An attribute as the tokenizer found it: where it sits in the document and its entity-decoded value. */
export interface ScannedAttribute {
  /** Lower-case, as HTML compares attribute names. */
  name: string;
  nameStart: number;
  /** The value between its quotes (or the bare value); for a value-less attribute, an empty span at its end. */
  valueStart: number;
  valueEnd: number;
  /** Where the whole attribute ends, closing quote included. */
  end: number;
  quote: QuoteType;
  /** Decoded exactly once, by the HTML tokenizer's rules for attribute values. */
  value: string;
}

/** An element that can carry a link: `<a>`, `<area>`, or an Outlook VML shape (`<v:roundrect>`, …). */
export interface ScannedLink {
  tag: string;
  /** The first `href` (browsers ignore later duplicates), or null. */
  href: ScannedAttribute | null;
  /** Every `data-mailtrail-track` attribute of the element, in order. */
  trackAttributes: ScannedAttribute[];
}

export interface HtmlScan {
  /** Link elements in document order, those inside Outlook conditional comments included. */
  links: ScannedLink[];
  /** The value of the first `<base>` that has an href, as browsers pick it; undefined when there is none. */
  baseHref: string | undefined;
  /** Where the last `</body>` tag starts (its `<`), or null. */
  lastBodyClose: number | null;
}

const LINK_TAGS = new Set(['a', 'area']);
// `<!--[if mso]>`, `<!--[if gte mso 9]>`, `<!--[if mso | IE]>`: downlevel-hidden conditional comments, whose
// content Outlook (and old IE) renders as markup. Browsers see a comment: any other comment holds no links.
const CONDITIONAL_COMMENT = /^\[if\s[^\]]*\]>/i;

const isLinkTag = (tag: string) => LINK_TAGS.has(tag) || tag.startsWith('v:');

function isAsciiWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d;
}

/**
 * One pass of htmlparser2's tokenizer over a document (or over the content of a conditional comment, with
 * `offset` placing it in the document). The tokenizer, not the DOM builder, because it reports every attribute's
 * position, handles raw-text elements (`<script>`, `<style>`, `<textarea>`, `<title>`, …) as browsers do, and
 * decodes attribute entities in the HTML spec's attribute mode (`&copy=1` stays as written; `&amp;`, `&#38`,
 * `&#x26;` become `&`).
 */
class Scanner implements TokenizerCallbacks {
  private tag = '';
  private attributes: ScannedAttribute[] | null = null;
  private attributeName = '';
  private attributeNameStart = 0;
  private attributeNameEnd = 0;
  private valueParts: string[] = [];
  private templateDepth = 0;

  constructor(
    private readonly source: string,
    private readonly offset: number,
    private readonly insideComment: boolean,
    private readonly scan: HtmlScan,
  ) {}

  run(): void {
    const tokenizer = new Tokenizer({}, this);
    tokenizer.write(this.source);
    tokenizer.end();
  }

  onopentagname(start: number, end: number): void {
    this.tag = this.source.slice(start, end).toLowerCase();
    const wanted = this.templateDepth === 0 && (isLinkTag(this.tag) || (this.tag === 'base' && !this.insideComment));
    this.attributes = wanted ? [] : null;
  }

  onattribname(start: number, end: number): void {
    if (!this.attributes) return;
    this.attributeName = this.source.slice(start, end).toLowerCase();
    this.attributeNameStart = start;
    this.attributeNameEnd = end;
    this.valueParts = [];
  }

  onattribdata(start: number, end: number): void {
    if (this.attributes) this.valueParts.push(this.source.slice(start, end));
  }

  onattribentity(codepoint: number): void {
    if (this.attributes) this.valueParts.push(String.fromCodePoint(codepoint));
  }

  onattribend(quote: QuoteType, end: number): void {
    if (!this.attributes) return;
    let valueStart = end;
    let valueEnd = end;
    if (quote === QuoteType.Double || quote === QuoteType.Single) {
      valueStart = this.source.indexOf(quote === QuoteType.Double ? '"' : "'", this.attributeNameEnd) + 1;
      valueEnd = end - 1;
    } else if (quote === QuoteType.Unquoted) {
      valueStart = this.source.indexOf('=', this.attributeNameEnd) + 1;
      while (isAsciiWhitespace(this.source.charCodeAt(valueStart))) valueStart++;
    }
    this.attributes.push({
      name: this.attributeName,
      nameStart: this.offset + this.attributeNameStart,
      valueStart: this.offset + valueStart,
      valueEnd: this.offset + valueEnd,
      end: this.offset + end,
      quote,
      // the HTML tokenizer turns U+0000 into U+FFFD in attribute values
      value: this.valueParts.join('').replaceAll('\u0000', '\uFFFD'),
    });
  }

  onopentagend(): void {
    this.finishTag();
  }

  onselfclosingtag(): void {
    // `<template/>` still opens a template: HTML ignores the slash on non-void elements.
    this.finishTag();
  }

  private finishTag(): void {
    if (this.tag === 'template') this.templateDepth++;
    const attributes = this.attributes;
    this.attributes = null;
    if (!attributes) return;
    if (this.tag === 'base') {
      const href = attributes.find((attribute) => attribute.name === 'href');
      if (href && this.scan.baseHref === undefined) this.scan.baseHref = href.value;
      return;
    }
    this.scan.links.push({
      tag: this.tag,
      href: attributes.find((attribute) => attribute.name === 'href') ?? null,
      trackAttributes: attributes.filter((attribute) => attribute.name === 'data-mailtrail-track'),
    });
  }

  onclosetag(start: number, end: number): void {
    const tag = this.source.slice(start, end).toLowerCase();
    if (tag === 'template' && this.templateDepth > 0) this.templateDepth--;
    // the tokenizer reports the name, which follows `</` directly (`</ body>` is a bogus comment)
    else if (tag === 'body' && !this.insideComment && this.templateDepth === 0) this.scan.lastBodyClose = start - 2;
  }

  oncomment(start: number, end: number, endOffset: number): void {
    if (this.insideComment || this.templateDepth > 0) return;
    const content = this.source.slice(start, end - endOffset);
    const condition = CONDITIONAL_COMMENT.exec(content);
    if (!condition) return;
    const contentStart = start + condition[0].length;
    new Scanner(this.source.slice(contentStart, end - endOffset), this.offset + contentStart, true, this.scan).run();
  }

  oncdata(): void {}
  ondeclaration(): void {}
  onend(): void {}
  onprocessinginstruction(): void {}
  ontext(): void {}
  ontextentity(): void {}
}

/** The links, the base and the last `</body>` of an HTML document, found in one tokenizer pass. */
export function scanHtml(html: string): HtmlScan {
  const scan: HtmlScan = { links: [], baseHref: undefined, lastBodyClose: null };
  new Scanner(html, 0, false, scan).run();
  return scan;
}
