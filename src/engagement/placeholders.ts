/**
 * Template placeholders inside a URL. A URL that still holds one is rendered later by the sender's template
 * engine or by its provider, per recipient: rewriting it would freeze the placeholder into our token, so such a
 * link is left exactly as it is. An opening delimiter alone is enough (a template cut in the middle must not be
 * tracked either), and percent-encoded delimiters count too, since some editors encode a placeholder written
 * inside an href.
 *
 * Syntaxes, by who documents them:
 * - `{{…}}`, `{{{…}}}`: Handlebars in SendGrid dynamic templates
 *   (https://www.twilio.com/docs/sendgrid/for-developers/sending-email/using-handlebars), Mailgun templates
 *   (https://documentation.mailgun.com/docs/mailgun/user-manual/templates/variables), Mandrill
 *   (https://mailchimp.com/developer/transactional/docs/templates-dynamic-content/), SparkPost
 *   (https://developers.sparkpost.com/api/template-language/), Postmark's Mustachio
 *   (https://postmarkapp.com/support/article/1077-template-syntax, e.g. `{{{ pm:unsubscribe }}}`), Brevo
 *   (https://help.brevo.com/hc/en-us/articles/4402386448530, `{{ contact.FIRSTNAME }}`), Mailjet's template
 *   language (https://dev.mailjet.com/email/template-language/reference/, `{{var:name}}`).
 * - `{%…%}`: statements of Brevo, Mailjet and other Liquid/Jinja-style languages (`{% if … %}`).
 * - `*|…|*`: Mailchimp and Mandrill merge tags (https://mailchimp.com/help/all-the-merge-tags-cheat-sheet/,
 *   `*|UNSUB|*`, `*|ARCHIVE|*`).
 * - `%recipient.…%` and `%unsubscribe_url%`, `%tag_unsubscribe_url%`, `%mailing_list_unsubscribe_url%`: Mailgun
 *   recipient variables and unsubscribe variables
 *   (https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/batch-sending,
 *   https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages).
 * - `[[…]]`: Mailjet's legacy personalisation and system links (`[[var:name:""]]`, `[[UNSUB_LINK_EN]]`,
 *   https://dev.mailjet.com/email/template-language/reference/) and SparkPost's link attributes
 *   (`[[data-msys-unsubscribe="1"]]`, https://support.sparkpost.com/docs/user-guide/setting-up-unsubscribe-links).
 * - `[…]` merge tags: SendGrid Marketing Campaigns legacy tags (`[Unsubscribe]`, `[Weblink]`,
 *   `[%first_name | default%]`), Brevo's earlier `[DEFAULT_UNSUBSCRIBE_LINK]`, `[MIRROR]`. Only a bracketed word
 *   that does not follow a name counts: `ids[]=1` and `filter[name]=x` are ordinary PHP/Rails query strings, and
 *   a colon rules out an IPv6 host (`http://[fe80::1]/`).
 * - `-name-`: SendGrid legacy substitution tags, whose delimiters the sender chooses; the documentation's own
 *   example is `?id=-customerID-`
 *   (https://www.twilio.com/docs/sendgrid/for-developers/sending-email/substitution-tags). Hyphens are common in
 *   real URLs, so only a whole query value or path segment of the form `-word-` counts.
 * - `<%…%>`: SendGrid's unsubscribe-group tags (`<%asm_group_unsubscribe_raw_url%>`,
 *   https://www.twilio.com/docs/sendgrid/ui/sending-email/create-and-edit-legacy-transactional-templates) and
 *   ERB/ASP templates.
 * - `%%…%%`: Salesforce Marketing Cloud personalisation strings and AMPscript (`%%FirstName%%`, `%%=v(@x)=%%`,
 *   https://help.salesforce.com/s/articleView?id=sf.mc_es_available_personalization_strings.htm); premailer's
 *   test file holds `%%RANDOM%%`.
 * - `${…}`, `{$…}`: JavaScript template literals, FreeMarker and Velocity; Smarty.
 * - `{name}`: Mautic tokens (`{unsubscribe_url}`, `{webview_url}`,
 *   https://docs.mautic.org/en/5.x/channels/emails.html); braces are not valid in a URL (RFC 3986 §2), so a
 *   braced word is a template, never an address.
 */
const PLACEHOLDER = new RegExp(
  [
    String.raw`\{\{|\{%|\*\||\|\*|<%|%>|\[\[|\]\]|%%|\$\{|\{\$`,
    // the same delimiters percent-encoded: { %7B, } %7D, | %7C, [ %5B, < %3C
    String.raw`%7B%7B|%7B%25|\*%7C|%7C\*|%3C%25|%5B%5B|\$%7B|%7B\$`,
    String.raw`%recipient(?:[._][\w.-]*)?%|%(?:tag_|mailing_list_)?unsubscribe_url%`,
    String.raw`(?:^|[^\w\]])\[%?[A-Za-z_][\w .|-]*%?\]`,
    String.raw`[=/]-[A-Za-z_]\w*-(?=$|[&#/;])`,
    String.raw`\{[A-Za-z_][\w.:=-]*\}`,
  ].join('|'),
  'i',
);

/** Whether `url` holds a template placeholder of one of the syntaxes above. */
export function hasTemplatePlaceholder(url: string): boolean {
  return PLACEHOLDER.test(url);
}
