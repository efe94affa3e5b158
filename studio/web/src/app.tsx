/** Studio's shell: the sign-in, the navigation and a page per hash route (#/tables, #/sql, …). */
import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, attempt } from './api.js';
import { Button } from './components/Button.js';
import { TextField } from './components/Field.js';
import { NavLayout } from './components/Layout.js';
import { ErrorBanner, PageBoundary, ToastProvider } from './components/Notice.js';
import { useHashRoute } from './hooks.js';
import { AuthPage } from './pages/Auth.js';
import { ObservabilityPage } from './pages/Observability.js';
import { OperationsPage } from './pages/Operations.js';
import { RealtimePage } from './pages/Realtime.js';
import { SqlPage } from './pages/Sql.js';
import { StoragePage } from './pages/Storage.js';
import { TablesPage } from './pages/Tables.js';

/** A page gets the route's segments after its own (`#/tables/public/notes` → ['public', 'notes']). */
export type PageProps = { path: string[] };

const PAGES: { route: string; title: string; page: FunctionComponent<PageProps> }[] = [
  { route: 'tables', title: 'Tables', page: TablesPage },
  { route: 'sql', title: 'SQL editor', page: SqlPage },
  { route: 'auth', title: 'Auth', page: AuthPage },
  { route: 'storage', title: 'Storage', page: StoragePage },
  { route: 'realtime', title: 'Realtime', page: RealtimePage },
  { route: 'observability', title: 'Observability', page: ObservabilityPage },
  { route: 'operations', title: 'Operations', page: OperationsPage },
];

type SessionState = 'checking' | 'signed-out' | 'signed-in';

export function App() {
  const [session, setSession] = useState<SessionState>('checking');
  useEffect(() => {
    void attempt(() => api('GET', '/session')).then((o) => setSession(o.ok ? 'signed-in' : 'signed-out'));
    const signedOut = () => setSession('signed-out');
    window.addEventListener('studio:signed-out', signedOut);
    return () => window.removeEventListener('studio:signed-out', signedOut);
  }, []);
  if (session === 'checking') return null;
  return session === 'signed-in' ? (
    <Shell onSignedOut={() => setSession('signed-out')} />
  ) : (
    <SignIn onSignedIn={() => setSession('signed-in')} />
  );
}

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const outcome = await attempt(() => api('POST', '/session', { password }));
    setBusy(false);
    if (!outcome.ok) return setError(outcome.error);
    if (!location.hash) location.hash = '#/tables';
    onSignedIn();
  };
  return (
    <form class="login" onSubmit={(e) => void submit(e)}>
      <h2>Trellis Studio</h2>
      <p class="muted">
        The password was printed once when Trellis first started (trellis studio passwd sets another).
      </p>
      <TextField
        type="password"
        id="password"
        placeholder="dashboard password"
        autocomplete="current-password"
        autofocus
        value={password}
        onValue={setPassword}
      />
      <Button type="submit" busy={busy}>
        Sign in
      </Button>
      {error && <ErrorBanner error={error} />}
    </form>
  );
}

function Shell({ onSignedOut }: { onSignedOut: () => void }) {
  const [route, ...rest] = useHashRoute();
  const current = PAGES.find((p) => p.route === route) ?? PAGES[0]!;
  const Page = current.page;
  const signOut = async () => {
    await attempt(() => api('DELETE', '/session'));
    onSignedOut();
  };
  return (
    <NavLayout title="Trellis Studio" items={PAGES} current={current.route} onSignOut={() => void signOut()}>
      {/* A key per route: a page starts afresh (its polls stopped, its notices gone) when another is chosen. */}
      <ToastProvider key={current.route}>
        <PageBoundary>
          <Page path={current.route === route ? rest : []} />
        </PageBoundary>
      </ToastProvider>
    </NavLayout>
  );
}
