/** Auth: the users (search, create, invite, ban, sessions, reset MFA, delete, through /auth/v1/admin) and the settings. */
import { useState } from 'preact/hooks';
import { api, attempt, cellText } from '../api.js';
import { Button } from '../components/Button.js';
import { DataTable, type Column } from '../components/DataTable.js';
import { TextField, Toolbar } from '../components/Field.js';
import { ConfirmDialog, Modal } from '../components/Modal.js';
import { Await, useToast } from '../components/Notice.js';
import { Tabs } from '../components/Tabs.js';
import { useLoad } from '../hooks.js';
import { AuthSettingsView } from './AuthSettings.js';
import type { Session, User, UserPage } from '../types.js';

const PER_PAGE = 50;

const COLUMNS: Column<User>[] = [
  { key: 'email', header: 'email', sortable: true },
  { key: 'phone', header: 'phone', sortable: true },
  { key: 'id', header: 'id', class: 'muted' },
  { key: 'created_at', header: 'created', sortable: true },
  { key: 'last_sign_in_at', header: 'last sign-in', sortable: true },
  { key: 'banned_until', header: 'banned until', sortable: true },
  { key: 'factors', header: 'MFA', sortable: true },
];

export function AuthPage() {
  return (
    <>
      <h2>Auth</h2>
      <Tabs
        tabs={[
          { id: 'users', title: 'Users', content: <Users /> },
          { id: 'settings', title: 'Providers and settings', content: <AuthSettingsView /> },
        ]}
      />
    </>
  );
}

function Users() {
  const toast = useToast();
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(1);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sessionsOf, setSessionsOf] = useState<User | undefined>(undefined);
  const [deleting, setDeleting] = useState<User | undefined>(undefined);
  const [list, reload] = useLoad(
    () => api<UserPage>('GET', `/auth/users?q=${encodeURIComponent(search)}&page=${page}&per_page=${PER_PAGE}`),
    [search, page],
  );
  const act = async (work: () => Promise<unknown>, done?: string) => {
    const outcome = await attempt(work);
    if (!outcome.ok) return toast.failed(outcome.error);
    if (done) toast.done(done);
    await reload();
  };
  const who = (u: User) => u.email ?? u.phone ?? u.id;

  return (
    <>
      <Toolbar>
        <TextField id="new-email" placeholder="email" value={email} onValue={setEmail} />
        <TextField
          id="new-password"
          placeholder="password"
          type="password"
          autocomplete="new-password"
          value={password}
          onValue={setPassword}
        />
        <Button
          id="create-user"
          onClick={() =>
            void act(() => api('POST', '/auth/users', { email, password, email_confirm: true }), `Created ${email}.`)
          }
        >
          Create user
        </Button>
        <Button
          variant="plain"
          onClick={() => void act(() => api('POST', '/auth/invite', { email }), `Invited ${email}.`)}
        >
          Invite
        </Button>
      </Toolbar>
      <Toolbar>
        <TextField
          id="user-search"
          type="search"
          placeholder="search email, phone or id"
          value={search}
          onValue={(q) => {
            setSearch(q);
            setPage(1);
          }}
        />
      </Toolbar>
      <Await value={list}>
        {({ users, total }) => (
          <>
            <p class="muted">{total} user(s)</p>
            <DataTable
              id="users"
              columns={COLUMNS}
              rows={users}
              rowKey={(u) => u.id}
              paging={{
                offset: (page - 1) * PER_PAGE,
                limit: PER_PAGE,
                total,
                onOffset: (offset) => setPage(offset / PER_PAGE + 1),
              }}
              actions={(u) => (
                <>
                  <Button
                    variant="plain"
                    onClick={() =>
                      void act(
                        () => api('POST', `/auth/users/${u.id}/ban`, { duration: u.banned_until ? 'none' : '876000h' }),
                        `${u.banned_until ? 'Unbanned' : 'Banned'} ${who(u)}.`,
                      )
                    }
                  >
                    {u.banned_until ? 'Unban' : 'Ban'}
                  </Button>
                  <Button variant="plain" onClick={() => setSessionsOf(u)}>
                    Sessions
                  </Button>
                  {u.factors > 0 && (
                    <Button
                      variant="plain"
                      onClick={() => void act(() => api('POST', `/auth/users/${u.id}/reset-mfa`), 'MFA reset.')}
                    >
                      Reset MFA
                    </Button>
                  )}
                  <Button variant="danger" onClick={() => setDeleting(u)}>
                    Delete
                  </Button>
                </>
              )}
            />
          </>
        )}
      </Await>
      {sessionsOf && <SessionsDialog user={sessionsOf} onClose={() => setSessionsOf(undefined)} />}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${who(deleting)}?`}
          confirm="Delete"
          onClose={() => setDeleting(undefined)}
          onConfirm={() => void act(() => api('DELETE', `/auth/users/${deleting.id}`), `Deleted ${who(deleting)}.`)}
        >
          <p>The user, their sessions and their MFA factors are removed.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

function SessionsDialog({ user, onClose }: { user: User; onClose: () => void }) {
  const toast = useToast();
  const path = `/auth/users/${user.id}/sessions`;
  const [sessions, reload] = useLoad(() => api<{ sessions: Session[] }>('GET', path), [path]);
  const signOutEverywhere = async () => {
    const outcome = await attempt(() => api('DELETE', path));
    if (!outcome.ok) return toast.failed(outcome.error);
    toast.done(`Signed ${user.email ?? user.id} out everywhere.`);
    await reload();
  };
  return (
    <Modal id="sessions" title={`Sessions of ${user.email ?? user.id}`} onClose={onClose} wide>
      <Await value={sessions}>
        {({ sessions: list }) => (
          <>
            <DataTable
              columns={[
                { key: 'created_at', header: 'created', sortable: true },
                { key: 'user_agent', header: 'user agent', value: (s) => cellText(s.user_agent) },
                { key: 'ip', header: 'address' },
              ]}
              rows={list}
              rowKey={(s) => s.id}
              empty="No sessions."
            />
            {list.length > 0 && (
              <Button variant="danger" onClick={() => void signOutEverywhere()}>
                Sign out everywhere
              </Button>
            )}
          </>
        )}
      </Await>
    </Modal>
  );
}
