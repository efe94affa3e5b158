/** Operations: the project's migrations, applied and pending (`trellis migrate` applies them). */
import { api } from './api.js';
import { dataTable, errorBox, h, replace } from './dom.js';

interface Migrations {
  applied: { version: string; name: string | null }[];
  pending: { version: string; name: string }[];
}

export function operationsPage(root: HTMLElement): void {
  replace(root, h('h2', {}, 'Operations'), 'Loading…');
  api<Migrations>('GET', '/migrations').then(
    (m) =>
      replace(
        root,
        h('h2', {}, 'Operations'),
        h('h3', {}, `Migrations applied (${m.applied.length})`),
        dataTable(
          ['version', 'name'],
          m.applied.map((a) => [a.version, a.name]),
        ),
        h('h3', {}, `Migrations pending (${m.pending.length})`),
        m.pending.length === 0
          ? h('p', { className: 'muted', id: 'no-pending' }, 'None: the database is up to date.')
          : h(
              'div',
              {},
              dataTable(
                ['version', 'name'],
                m.pending.map((p) => [p.version, p.name]),
              ),
              h('p', { className: 'muted' }, 'Run `trellis migrate` (or restart Trellis) to apply them.'),
            ),
      ),
    (err: unknown) => replace(root, h('h2', {}, 'Operations'), errorBox(err)),
  );
}
