/** Operations: the project's migrations, applied and pending (`trellis migrate` applies them). */
import { api } from './api.js';
import { dataTable, errorBox, h, replace } from './dom.js';

interface Backups {
  where: string;
  backups: {
    id: string;
    complete: boolean;
    kind: string | null;
    label: string | null;
    stopTime: string | null;
    size: number | null;
    problem: string | null;
  }[];
}

interface Migrations {
  applied: { version: string; name: string | null }[];
  pending: { version: string; name: string }[];
}

export function operationsPage(root: HTMLElement): void {
  replace(root, h('h2', {}, 'Operations'), 'Loading…');
  Promise.all([api<Migrations>('GET', '/migrations'), api<Backups>('GET', '/backups')]).then(
    ([m, b]) =>
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
        h('h3', {}, `Backups in ${b.where}`),
        b.backups.length === 0
          ? h(
              'p',
              { className: 'muted', id: 'no-backups' },
              'None yet: `trellis backup create`, or BACKUP_SCHEDULE (docs/backups.md).',
            )
          : dataTable(
              ['id', 'state', 'kind', 'label', 'ends', 'bytes'],
              b.backups.map((x) => [
                x.id,
                x.complete ? 'complete' : (x.problem ?? 'incomplete'),
                x.kind,
                x.label,
                x.stopTime,
                x.size,
              ]),
            ),
      ),
    (err: unknown) => replace(root, h('h2', {}, 'Operations'), errorBox(err)),
  );
}
