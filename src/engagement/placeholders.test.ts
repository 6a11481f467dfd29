import { describe, expect, it } from 'vitest';
import { hasTemplatePlaceholder } from './placeholders.js';

describe('template placeholders', () => {
  it.each([
    ['SendGrid, Mailgun, SparkPost, Postmark handlebars', 'https://e.com/{{id}}'],
    ['triple braces', 'https://e.com/{{{ url }}}'],
    ['Brevo contact attribute', 'https://e.com/?n={{ contact.FIRSTNAME }}'],
    ['Mailjet template language', 'https://e.com/?n={{var:name}}'],
    ['Liquid statement', 'https://e.com/{% if a %}x{% endif %}'],
    ['Mailchimp merge tag', '*|ARCHIVE|*'],
    ['Mailchimp merge tag, percent-encoded', 'https://e.com/?e=*%7CEMAIL%7C*'],
    ['handlebars, percent-encoded', 'https://e.com/?e=%7B%7Bemail%7D%7D'],
    ['Mailgun recipient variable', 'https://e.com/?id=%recipient.unique_id%'],
    ['Mailgun recipient', 'https://e.com/?e=%recipient%'],
    ['Mailgun unsubscribe variable', '%mailing_list_unsubscribe_url%'],
    ['Mailjet system link', '[[UNSUB_LINK_EN]]'],
    ['SparkPost link attribute', 'https://e.com[[data-msys-unsubscribe="1"]]'],
    ['SendGrid legacy marketing tag', '[Weblink]'],
    ['SendGrid legacy field with default', 'https://e.com/?n=[%first_name | default%]'],
    ['Brevo legacy tag', 'https://e.com/[DEFAULT_UNSUBSCRIBE_LINK]'],
    ['SendGrid substitution tag', 'https://e.com/customerOffer?id=-customerID-'],
    ['SendGrid substitution tag as a path segment', 'https://e.com/-token-/x'],
    ['SendGrid unsubscribe group tag', '<%asm_preferences_raw_url%>'],
    ['Marketing Cloud personalisation string', 'https://e.com/?k=%%SubscriberKey%%'],
    ['AMPscript', 'https://e.com/?k=%%=v(@x)=%%'],
    ['JavaScript template literal', 'https://e.com/${id}'],
    ['Smarty', 'https://e.com/{$id}'],
    ['Mautic token', '{webview_url}'],
    ['a template cut in the middle', 'https://e.com/?n={{ name'],
  ])('%s: %s', (_who, url) => {
    expect(hasTemplatePlaceholder(url)).toBe(true);
  });

  it.each([
    'https://e.com/',
    'https://e.com/?q=%E2%80%99s&r=%20%41',
    'https://e.com/?p=100%25',
    'https://e.com/?ids[]=1&ids[]=2',
    'https://e.com/?filter[name]=x&sort[dir]=asc',
    'http://[fe80::1]/',
    'http://[::1]:8080/a',
    'https://e.com/my-page-title-',
    'https://e.com/a-b-c/d-e',
    'https://e.com/?q=-1-',
    'https://e.com/a|b*c',
    'https://e.com/#/route/:id',
  ])('not a placeholder: %s', (url) => {
    expect(hasTemplatePlaceholder(url)).toBe(false);
  });
});
