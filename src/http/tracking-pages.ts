/**
 * The pages a person sees on tracking URLs: the unsubscribe confirmation (a GET never unsubscribes: link scanners
 * and prefetchers fetch every GET), what follows it, and a link that is not valid. Plain HTML that works without
 * scripts, in the document language, with a title and a labelled control; every text that is not a literal here
 * goes through `escapeHtml`.
 */

/** The form field and value of a one-click unsubscribe (RFC 8058 §3.1). */
export const ONE_CLICK_FIELD = 'List-Unsubscribe';
export const ONE_CLICK_VALUE = 'One-Click';

/**
 * No scripts, no frames (a framed unsubscribe button could be clicked by a page that hides it), the form posts
 * back to its own origin only, and the token in the URL is not sent on as a referrer.
 */
export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const STYLE =
  'body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}' +
  'button{font:inherit;padding:.5rem 1.25rem;border:2px solid #1a1a1a;border-radius:4px;background:#1a1a1a;color:#fff;cursor:pointer}' +
  'button:focus{outline:3px solid #2563eb;outline-offset:2px}';

function page(title: string, body: string): string {
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<meta name="robots" content="noindex">\n' +
    `<title>${escapeHtml(title)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n<main>\n<h1>${escapeHtml(title)}</h1>\n${body}\n</main>\n</body>\n</html>\n`
  );
}

/** The confirmation form: posts the one-click body back to the same URL (no action: the page's own address). */
export function unsubscribePage(): string {
  return page(
    'Unsubscribe',
    '<form method="post">\n' +
      `<input type="hidden" name="${escapeHtml(ONE_CLICK_FIELD)}" value="${escapeHtml(ONE_CLICK_VALUE)}">\n` +
      '<p id="unsubscribe-help">You will no longer receive these emails at this address.</p>\n' +
      '<button type="submit" aria-describedby="unsubscribe-help">Confirm unsubscribe</button>\n' +
      '</form>',
  );
}

export function unsubscribedPage(): string {
  return page('You are unsubscribed', '<p role="status">You will no longer receive these emails at this address. You can close this page.</p>');
}

/** What a browser gets for a tampered, truncated or unknown tracking link; `code` is the stable error code. */
export function invalidLinkPage(code: string): string {
  return page('This link is not valid', `<p>The link may have been cut short or changed. Open it again from the email.</p>\n<p><small>${escapeHtml(code)}</small></p>`);
}
