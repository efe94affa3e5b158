/**
 * Observability: request rate, p95 latency, 5xx errors and database connections as charts, polled
 * from /studio/api/metrics each second; rates and the window's p95 come from the counters' deltas.
 * Below: the last `trellis bench` capacity statement, the recent requests, warnings and errors.
 */
import { useRef, useState } from 'preact/hooks';
import { api, attempt, StudioError, type Outcome } from '../api.js';
import { Button } from '../components/Button.js';
import { windowP95 } from '../derive.js';
import { LineChart } from '../components/Chart.js';
import { DataTable, type Column } from '../components/DataTable.js';
import { Select, TextField, Toolbar } from '../components/Field.js';
import { StatCards } from '../components/Layout.js';
import { Await } from '../components/Notice.js';
import { Tabs } from '../components/Tabs.js';
import { useLoad, useInterval } from '../hooks.js';
import type { LogRecord, Logs, Metrics, RequestRecord, SavedBench } from '../types.js';

const POLL_MS = 1000;
const POINTS = 60;
const ms = (s: number | null) => (s === null ? '–' : `≤ ${Math.round(s * 1000 * 10) / 10} ms`);

interface Series {
  rate: number[];
  p95: number[];
  errors: number[];
  db: number[];
}
const push = (list: number[], value: number) => [...list, value].slice(-POINTS);

export function ObservabilityPage() {
  const [metrics, setMetrics] = useState<Outcome<Metrics> | undefined>(undefined);
  const [series, setSeries] = useState<Series>({ rate: [], p95: [], errors: [], db: [] });
  const last = useRef<Metrics | undefined>(undefined);
  useInterval(() => {
    void attempt(() => api<Metrics>('GET', '/metrics')).then((outcome) => {
      setMetrics(outcome);
      if (!outcome.ok) return;
      const now = outcome.value;
      const before = last.current;
      last.current = now;
      setSeries((s) => {
        if (!before) return { ...s, db: push(s.db, now.db.inUse) };
        const seconds = (now.at - before.at) / 1000 || 1;
        return {
          rate: push(s.rate, Math.max(0, (now.requests.total - before.requests.total) / seconds)),
          p95: push(s.p95, windowP95(before.buckets, now.buckets)),
          errors: push(s.errors, Math.max(0, (now.errors - before.errors) / seconds)),
          db: push(s.db, now.db.inUse),
        };
      });
    });
  }, POLL_MS);

  return (
    <>
      <h2>Observability</h2>
      <Await value={metrics}>
        {(now) => (
          <StatCards
            items={[
              ['requests', now.requests.total],
              ['req/s', (series.rate.at(-1) ?? 0).toFixed(1)],
              ['5xx errors', now.errors],
              ['p50 (since start)', ms(now.latency.p50)],
              ['p95 (since start)', ms(now.latency.p95)],
              ['p99 (since start)', ms(now.latency.p99)],
              ['db connections (in use / idle)', `${now.db.inUse} / ${now.db.idle}`],
              ['realtime sockets / channels', `${now.realtime.connections} / ${now.realtime.channels}`],
              ['memory (RSS)', `${Math.round(now.process.rssBytes / 1048576)} MB`],
            ]}
          />
        )}
      </Await>
      {metrics?.ok && (
        <div class="row charts">
          <LineChart id="request-chart" title="requests/s" unit="req/s" values={series.rate} points={POINTS} />
          <LineChart id="latency-chart" title="p95 latency" unit="ms" values={series.p95} points={POINTS} />
          <LineChart id="error-chart" title="5xx/s" unit="/s" values={series.errors} points={POINTS} />
          <LineChart id="db-chart" title="db connections in use" unit="" values={series.db} points={POINTS} />
        </div>
      )}
      <LastBench />
      <Tabs
        tabs={[
          { id: 'requests', title: 'Recent requests', content: <RequestLog /> },
          { id: 'logs', title: 'Warnings and errors', content: <LogView /> },
          {
            id: 'routes',
            title: 'Busiest routes',
            content: metrics?.ok ? (
              <>
                <p class="muted">Since start, this process.</p>
                <DataTable
                  id="routes"
                  columns={[
                    { key: 'route', header: 'route', sortable: true },
                    { key: 'count', header: 'requests', sortable: true },
                  ]}
                  rows={metrics.value.routes}
                  rowKey={(r) => r.route}
                />
              </>
            ) : null,
          },
        ]}
      />
    </>
  );
}

const LOG_COLUMNS: Column<RequestRecord>[] = [
  { key: 'at', header: 'time', sortable: true, render: (r) => new Date(r.at).toISOString().slice(11, 23) },
  { key: 'method', header: 'method', sortable: true },
  { key: 'path', header: 'path', sortable: true },
  { key: 'status', header: 'status', sortable: true },
  { key: 'ms', header: 'ms', sortable: true },
  { key: 'reqId', header: 'request id', class: 'muted' },
];

const STATUSES = [
  { value: '', label: 'any status' },
  ...['2xx', '3xx', '4xx', '5xx'].map((v) => ({ value: v, label: v })),
];

function RequestLog() {
  const [status, setStatus] = useState('');
  const [text, setText] = useState('');
  const [log, reload] = useLoad(
    () =>
      api<{ requests: RequestRecord[] }>('GET', `/requests?status=${status}&q=${encodeURIComponent(text)}&limit=200`),
    [status, text],
  );
  return (
    <>
      <p class="muted">This process, newest first.</p>
      <Toolbar>
        <Select id="log-status" value={status} options={STATUSES} onValue={setStatus} />
        <TextField id="log-filter" placeholder="path or route contains…" value={text} onValue={setText} />
        <Button variant="plain" onClick={() => void reload()}>
          Refresh
        </Button>
      </Toolbar>
      <div id="request-log">
        <Await value={log}>
          {({ requests }) => <DataTable columns={LOG_COLUMNS} rows={requests} rowKey={(r) => r.reqId} pageSize={50} />}
        </Await>
      </div>
    </>
  );
}

/** How the bench was run, from what the saved report holds. */
function benchContext({ command, savedAt, report: r }: SavedBench): string {
  return [
    command,
    r.scenario && r.target ? `${r.scenario} against ${r.target}` : r.scenario,
    r.instances !== undefined ? `${r.instances} instance(s)` : undefined,
    r.machine,
    `saved ${savedAt.slice(0, 16).replace('T', ' ')} UTC`,
    r.budget ? `budget p99 ≤ ${r.budget.p99Ms} ms, errors ≤ ${r.budget.maxErrorRate * 100}%` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** The capacity statement of the last `trellis bench` run in this project (GET /bench/last; 404 before the first). */
function LastBench() {
  const [bench] = useLoad(
    () =>
      api<SavedBench>('GET', '/bench/last').catch((err: unknown) => {
        if (err instanceof StudioError && err.status === 404) return null;
        throw err;
      }),
    [],
  );
  return (
    <section id="bench-last" class="panel">
      <h3>
        Capacity (the last <code>trellis bench</code>)
      </h3>
      <Await value={bench}>
        {(saved) =>
          saved === null ? (
            <p class="muted">
              No <code>trellis bench</code> has been run in this project yet (docs/cli.md): its capacity statement shows
              here once one has.
            </p>
          ) : (
            <>
              <p class="statement">{saved.report.statement}</p>
              <p class="muted">{benchContext(saved)}</p>
              {saved.report.atCapacity && saved.report.atCapacity.length > 0 && (
                <DataTable
                  columns={[
                    { key: 'op', header: 'operation', sortable: true },
                    { key: 'perSecond', header: 'per second', sortable: true, value: (o) => o.perSecond.toFixed(1) },
                    { key: 'p50', header: 'p50 ms', sortable: true },
                    { key: 'p95', header: 'p95 ms', sortable: true },
                    { key: 'p99', header: 'p99 ms', sortable: true },
                    { key: 'errors', header: 'errors', sortable: true },
                  ]}
                  rows={saved.report.atCapacity}
                  rowKey={(o) => o.op}
                />
              )}
            </>
          )
        }
      </Await>
    </section>
  );
}

const LEVELS = [
  { value: 'warn', label: 'warnings and errors' },
  { value: 'error', label: 'errors' },
  { value: 'fatal', label: 'fatal only' },
];

const LOG_LINE_COLUMNS: Column<LogRecord>[] = [
  { key: 'time', header: 'time', sortable: true, render: (r) => r.time.slice(11, 23) },
  {
    key: 'level',
    header: 'level',
    sortable: true,
    render: (r) => <span class={`badge level-${r.level}`}>{r.level}</span>,
  },
  { key: 'msg', header: 'message', sortable: true },
  {
    key: 'fields',
    header: 'fields',
    class: 'code',
    render: (r) => {
      const text = JSON.stringify(r.fields);
      return text === '{}' ? (
        ''
      ) : text.length <= 120 ? (
        text
      ) : (
        <details>
          <summary>{text.slice(0, 100)}…</summary>
          <pre>{JSON.stringify(r.fields, null, 2)}</pre>
        </details>
      );
    },
  },
];

/** This process's last warnings and errors (GET /logs), polled while shown. */
function LogView() {
  const [level, setLevel] = useState('warn');
  const [text, setText] = useState('');
  const [logs, setLogs] = useState<Outcome<Logs> | undefined>(undefined);
  useInterval(
    () =>
      void attempt(() => api<Logs>('GET', `/logs?level=${level}&q=${encodeURIComponent(text)}&limit=500`)).then(
        setLogs,
      ),
    2000,
    [level, text],
  );
  return (
    <>
      <p class="muted">This process, newest first (the last {logs?.ok ? logs.value.capacity : 500} kept).</p>
      <Toolbar>
        <Select id="log-level" value={level} options={LEVELS} onValue={setLevel} />
        <TextField id="log-text" placeholder="message or fields contain…" value={text} onValue={setText} />
      </Toolbar>
      <div id="log-lines">
        <Await value={logs}>
          {({ logs: lines }) => (
            <DataTable
              columns={LOG_LINE_COLUMNS}
              rows={lines}
              pageSize={50}
              empty="No warning or error since the start."
            />
          )}
        </Await>
      </div>
    </>
  );
}
