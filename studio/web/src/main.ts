/** Studio's shell: the sign-in, the navigation and a page per hash route (#/tables, #/sql, …). */
import { api } from './api.js';
import { h, replace } from './dom.js';
import { authPage } from './page-auth.js';
import { observabilityPage } from './page-observability.js';
import { realtimePage } from './page-realtime.js';
import { operationsPage } from './page-operations.js';
import { sqlPage } from './page-sql.js';
import { storagePage } from './page-storage.js';
import { tablesPage } from './page-tables.js';

/** A page renders into its element and may return a cleanup (a poll to stop). */
export type Page = (root: HTMLElement) => void | (() => void);

const PAGES: { route: string; title: string; page: Page }[] = [
  { route: 'tables', title: 'Tables', page: tablesPage },
  { route: 'sql', title: 'SQL editor', page: sqlPage },
  { route: 'auth', title: 'Auth users', page: authPage },
  { route: 'storage', title: 'Storage', page: storagePage },
  { route: 'realtime', title: 'Realtime', page: realtimePage },
  { route: 'observability', title: 'Observability', page: observabilityPage },
  { route: 'operations', title: 'Operations', page: operationsPage },
];

const app = document.getElementById('app') as HTMLElement;
let cleanup: (() => void) | undefined;

function signIn(): void {
  cleanup?.();
  cleanup = undefined;
  const password = h('input', { type: 'password', id: 'password', placeholder: 'dashboard password', autofocus: true });
  const message = h('div', {});
  const form = h(
    'form',
    {
      className: 'login',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          await api('POST', '/session', { password: password.value });
          location.hash = location.hash || '#/tables';
          shell();
        } catch (err) {
          replace(message, h('div', { className: 'error', role: 'alert' }, (err as Error).message));
        }
      },
    },
    h('h2', {}, 'Trellis Studio'),
    h(
      'p',
      { className: 'muted' },
      'The password was printed once when Trellis first started (trellis studio passwd sets another).',
    ),
    password,
    h('button', { type: 'submit' }, 'Sign in'),
    message,
  );
  replace(app, form);
}

function shell(): void {
  const route = location.hash.replace(/^#\/?/, '').split('/')[0] || 'tables';
  const current = PAGES.find((p) => p.route === route) ?? PAGES[0]!;
  const main = h('main', { id: `page-${current.route}` });
  const nav = h(
    'nav',
    {},
    h('h1', {}, 'Trellis Studio'),
    ...PAGES.map((p) => h('a', { href: `#/${p.route}`, className: p === current ? 'active' : '' }, p.title)),
    h(
      'a',
      {
        href: '#',
        onclick: async (e: Event) => {
          e.preventDefault();
          await api('DELETE', '/session');
          signIn();
        },
      },
      'Sign out',
    ),
  );
  replace(app, h('div', { className: 'shell' }, nav, main));
  cleanup?.();
  cleanup = current.page(main) ?? undefined;
}

window.addEventListener('hashchange', () => {
  if (document.querySelector('.shell')) shell();
});
window.addEventListener('studio:signed-out', signIn);

api('GET', '/session').then(shell, signIn);
