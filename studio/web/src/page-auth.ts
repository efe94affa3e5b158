/** Auth users: search, create, invite, ban, reset MFA, delete (through /auth/v1/admin). */
import { api } from './api.js';
import { cellText, errorBox, h, replace } from './dom.js';

interface User {
  id: string;
  email: string | null;
  phone: string | null;
  created_at: string;
  last_sign_in_at: string | null;
  banned_until: string | null;
  factors: number;
}

export function authPage(root: HTMLElement): void {
  const search = h('input', { id: 'user-search', placeholder: 'search email, phone or id' });
  const list = h('div', {});
  const message = h('div', {});
  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      replace(message);
      await load();
    } catch (err) {
      replace(message, errorBox(err));
    }
  };
  const load = async () => {
    try {
      const { users, total } = await api<{ users: User[]; total: number }>(
        'GET',
        `/auth/users?q=${encodeURIComponent(search.value)}`,
      );
      replace(
        list,
        h('p', { className: 'muted' }, `${total} user(s)`),
        h(
          'table',
          { id: 'users' },
          h(
            'tr',
            {},
            ...['email', 'phone', 'id', 'created', 'last sign-in', 'banned until', 'MFA', ''].map((c) =>
              h('th', {}, c),
            ),
          ),
          ...users.map((u) =>
            h(
              'tr',
              {},
              h('td', {}, cellText(u.email)),
              h('td', {}, cellText(u.phone)),
              h('td', {}, u.id),
              h('td', {}, u.created_at),
              h('td', {}, cellText(u.last_sign_in_at)),
              h('td', {}, cellText(u.banned_until)),
              h('td', {}, u.factors),
              h(
                'td',
                {},
                u.banned_until
                  ? h(
                      'button',
                      {
                        className: 'plain',
                        onclick: () => act(() => api('POST', `/auth/users/${u.id}/ban`, { duration: 'none' })),
                      },
                      'Unban',
                    )
                  : h(
                      'button',
                      {
                        className: 'plain',
                        onclick: () => act(() => api('POST', `/auth/users/${u.id}/ban`, { duration: '876000h' })),
                      },
                      'Ban',
                    ),
                h(
                  'button',
                  {
                    className: 'plain',
                    onclick: () =>
                      void api<{
                        sessions: { id: string; created_at: string; user_agent: string | null; ip: string | null }[];
                      }>('GET', `/auth/users/${u.id}/sessions`).then(
                        ({ sessions }) =>
                          replace(
                            message,
                            h('h3', {}, `Sessions of ${u.email ?? u.id} (${sessions.length})`),
                            h(
                              'table',
                              {},
                              h('tr', {}, h('th', {}, 'created'), h('th', {}, 'user agent'), h('th', {}, 'address')),
                              ...sessions.map((x) =>
                                h(
                                  'tr',
                                  {},
                                  h('td', {}, x.created_at),
                                  h('td', {}, cellText(x.user_agent)),
                                  h('td', {}, cellText(x.ip)),
                                ),
                              ),
                            ),
                            sessions.length > 0
                              ? h(
                                  'button',
                                  {
                                    className: 'danger',
                                    onclick: () => act(() => api('DELETE', `/auth/users/${u.id}/sessions`)),
                                  },
                                  'Sign out everywhere',
                                )
                              : null,
                          ),
                        (err: unknown) => replace(message, errorBox(err)),
                      ),
                  },
                  'Sessions',
                ),
                u.factors > 0
                  ? h(
                      'button',
                      { className: 'plain', onclick: () => act(() => api('POST', `/auth/users/${u.id}/reset-mfa`)) },
                      'Reset MFA',
                    )
                  : null,
                h(
                  'button',
                  {
                    className: 'danger',
                    onclick: () =>
                      confirm(`Delete ${u.email ?? u.id}?`) && act(() => api('DELETE', `/auth/users/${u.id}`)),
                  },
                  'Delete',
                ),
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      replace(list, errorBox(err));
    }
  };
  const email = h('input', { id: 'new-email', placeholder: 'email' });
  const password = h('input', { id: 'new-password', placeholder: 'password', type: 'password' });
  search.addEventListener('input', () => void load());
  replace(
    root,
    h('h2', {}, 'Auth users'),
    h(
      'div',
      { className: 'row' },
      email,
      password,
      h(
        'button',
        {
          id: 'create-user',
          onclick: () =>
            act(() =>
              api('POST', '/auth/users', { email: email.value, password: password.value, email_confirm: true }),
            ),
        },
        'Create user',
      ),
      h(
        'button',
        { className: 'plain', onclick: () => act(() => api('POST', '/auth/invite', { email: email.value })) },
        'Invite',
      ),
    ),
    message,
    h('div', { className: 'row' }, search),
    list,
  );
  void load();
}
