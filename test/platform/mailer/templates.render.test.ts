/**
 * The pure part of the email templates: the built-in mail of each kind, HTML escaping and the
 * plain-text part. (Variables and override files are pinned in test/platform/mailer.test.ts.)
 */
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_TEMPLATES,
  MAIL_KINDS,
  escapeHtml,
  htmlToText,
  render,
  type MailKind,
} from '../../../src/platform/mailer/templates.js';

const vars = {
  ConfirmationURL: 'https://api.example.com/auth/v1/verify?token=t&type=signup',
  Token: '042137',
  SiteURL: 'https://app.example.com',
  Email: 'old@example.com',
  NewEmail: 'new@example.com',
};

describe('the built-in templates', () => {
  test('cover every mail kind, and cannot be changed at run time', () => {
    expect(Object.keys(DEFAULT_TEMPLATES).sort()).toEqual([...MAIL_KINDS].sort());
    expect(Object.isFrozen(DEFAULT_TEMPLATES)).toBe(true);
  });

  test.each<[MailKind, string, string]>([
    [
      'confirmation',
      'Confirm Your Signup',
      `Confirm your signup\n\nFollow this link to confirm your user:\n\nConfirm your mail: ${vars.ConfirmationURL}\n\nAlternatively, enter the code: 042137`,
    ],
    [
      'recovery',
      'Reset Your Password',
      `Reset Password\n\nFollow this link to reset the password for your user:\n\nReset Password: ${vars.ConfirmationURL}\n\nAlternatively, enter the code: 042137`,
    ],
    [
      'magic_link',
      'Your Magic Link',
      `Magic Link\n\nFollow this link to login:\n\nLog In: ${vars.ConfirmationURL}\n\nAlternatively, enter the code: 042137`,
    ],
    [
      'email_change',
      'Confirm Email Change',
      `Confirm Change of Email\n\nFollow this link to confirm the update of your email from old@example.com to new@example.com:\n\nChange Email: ${vars.ConfirmationURL}\n\nAlternatively, enter the code: 042137`,
    ],
    [
      'invite',
      'You have been invited',
      `You have been invited\n\nYou have been invited to create a user on https://app.example.com. Follow this link to accept the invite:\n\nAccept the invite: ${vars.ConfirmationURL}\n\nAlternatively, enter the code: 042137`,
    ],
    ['reauthentication', 'Confirm reauthentication', 'Confirm reauthentication\n\nEnter the code: 042137'],
  ])('%s: subject %j, and a text part with the code (and the link, where there is one)', (kind, subject, text) => {
    const mail = render(DEFAULT_TEMPLATES, kind, vars);
    expect(mail.subject).toBe(subject);
    expect(mail.text).toBe(text);
    expect(mail.html).toMatch(/enter the code: 042137<\/p>/i);
  });

  test('the link in the html has its & escaped', () => {
    expect(render(DEFAULT_TEMPLATES, 'confirmation', vars).html).toContain(
      'href="https://api.example.com/auth/v1/verify?token=t&amp;type=signup"',
    );
  });
});

describe('escapeHtml', () => {
  test.each([
    ['plain text', 'plain text'],
    ['<b>', '&lt;b&gt;'],
    ['a & b', 'a &amp; b'],
    ['"double" \'single\'', '&quot;double&quot; &#39;single&#39;'],
    ['&amp;', '&amp;amp;'],
    ['" onmouseover="alert(1)', '&quot; onmouseover=&quot;alert(1)'],
  ])('%j becomes %j', (raw, escaped) => {
    expect(escapeHtml(raw)).toBe(escaped);
  });
});

describe('htmlToText', () => {
  test.each([
    ['tags dropped', '<p>Hello <b>Ada</b></p>', 'Hello Ada'],
    ['a block end is a blank line', '<h2>Title</h2><p>Body</p>', 'Title\n\nBody'],
    ['<br> is a line break', 'one<br>two<br/>three<br />four', 'one\ntwo\nthree\nfour'],
    [
      'a link keeps its URL beside its label',
      '<a href="https://x.example/a?b=1&amp;c=2">Open</a>',
      'Open: https://x.example/a?b=1&c=2',
    ],
    [
      'a link whose label is its URL shows it once',
      '<a href="https://x.example/">https://x.example/</a>',
      'https://x.example/',
    ],
    [
      'a link without a label shows its URL',
      '<a href=\'https://x.example/\'><img src="logo.png"></a>',
      'https://x.example/',
    ],
    [
      'comments, style, script, head and title dropped',
      '<!-- hidden --><head><title>T</title></head><style>p{}</style><script>x()</script>Shown',
      'Shown',
    ],
    ['named entities decoded', '&lt;tag&gt; &amp; &quot;q&quot; &apos;a&apos;&nbsp;b', '<tag> & "q" \'a\' b'],
    ['numeric entities decoded', '&#65;&#x42;&#X43; &#128273;', 'ABC 🔑'],
    ['unknown or out-of-range entities kept', '&bogus; &#x110000;', '&bogus; &#x110000;'],
    ['runs of spaces and tabs are one space, lines trimmed', '<p>  a \t  b  </p>', 'a b'],
    ['at most one blank line', '<p>a</p>\n\n\n<p>b</p>', 'a\n\nb'],
  ])('%s', (_name, html, text) => {
    expect(htmlToText(html)).toBe(text);
  });
});

test('metadata numbers read as the user wrote them, and a kept number has no fields', async () => {
  const { parseJson } = await import('../../../src/platform/json.js');
  const templates = {
    ...DEFAULT_TEMPLATES,
    magic_link: {
      source: 'test',
      subject: 'Amount',
      html: '<p>{{ .Data.amount }} / {{ .Data.amount.text }} / {{ .Data.id }}</p>',
    },
  };
  const Data = parseJson('{"amount":1.50,"id":12345678901234567890}') as Record<string, unknown>;
  expect(render(templates, 'magic_link', { ...vars, Data }).html).toBe('<p>1.50 /  / 12345678901234567890</p>');
});
