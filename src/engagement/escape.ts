/**
 * An attribute value written back inside the given quote: `&` becomes `&amp;` (so the browser's single decoding
 * gives the URL back exactly, `&copy=` included) and the quote character its reference.
 */
export function escapeAttribute(value: string, quote: '"' | "'"): string {
  const escaped = value.replace(/&/g, '&amp;');
  return quote === '"' ? escaped.replace(/"/g, '&quot;') : escaped.replace(/'/g, '&#39;');
}
