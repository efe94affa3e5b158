/**
 * Observability: request rate, p95 latency, 5xx errors and database connections as charts, polled
 * from /studio/api/metrics each second; rates and the window's p95 come from the counters' deltas.
 */
import { api } from './api.js';
import { errorBox, h, replace } from './dom.js';

interface Summary {
  at: number;
  requests: { total: number; byClass: Record<string, number> };
  errors: number;
  latency: { p50: number | null; p95: number | null; p99: number | null };
  buckets: { le: number | null; count: number }[];
  db: { inUse: number; idle: number; waiting: number };
  realtime: { connections: number; channels: number };
  process: { rssBytes: number; heapUsedBytes: number; uptimeSeconds: number };
  routes: { route: string; count: number }[];
}

const POLL_MS = 1000;
const POINTS = 60;
const ms = (s: number | null) => (s === null ? '–' : `≤ ${Math.round(s * 1000 * 10) / 10} ms`);

/** The p95 of the requests between two polls (the bucket bound its rank falls under), in ms. */
function windowP95(before: Summary, now: Summary): number {
  const deltas = now.buckets.map((b, i) => ({ le: b.le, count: b.count - (before.buckets[i]?.count ?? 0) }));
  const total = deltas.at(-1)?.count ?? 0;
  if (total <= 0) return 0;
  const hit = deltas.find((d) => d.count >= total * 0.95);
  const bound = hit?.le ?? deltas.at(-2)?.le ?? 0;
  return bound * 1000;
}

/** An SVG line, newest on the right. */
function chart(id: string, title: string, unit: string, values: number[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const width = 420;
  const height = 130;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('id', id);
  svg.setAttribute('data-points', String(values.length));
  svg.setAttribute('data-max', String(Math.max(0, ...values)));
  svg.style.background = '#fff';
  svg.style.border = '1px solid #ddd';
  svg.style.margin = '0 12px 12px 0';
  const top = Math.max(1, ...values);
  const step = width / (POINTS - 1);
  const offset = POINTS - values.length;
  const points = values.map(
    (v, i) => `${((offset + i) * step).toFixed(1)},${(height - 8 - (v / top) * (height - 30)).toFixed(1)}`,
  );
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#3ecf8e');
  line.setAttribute('stroke-width', '2');
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', '8');
  label.setAttribute('y', '16');
  label.setAttribute('font-size', '12');
  label.textContent = `${title} (now ${(values.at(-1) ?? 0).toFixed(1)} ${unit}, max ${top.toFixed(1)})`;
  svg.append(line, label);
  return svg;
}

export function observabilityPage(root: HTMLElement): () => void {
  const cards = h('div', { className: 'cards' });
  const graphs = h('div', { className: 'row' });
  const routes = h('div', {});
  const statusFilter = h(
    'select',
    { id: 'log-status' },
    ...['', '2xx', '3xx', '4xx', '5xx'].map((v) => h('option', { value: v }, v === '' ? 'any status' : v)),
  );
  const textFilter = h('input', { id: 'log-filter', placeholder: 'path or route contains…' });
  const log = h('div', { id: 'request-log' });
  const series = { rate: [] as number[], p95: [] as number[], errors: [] as number[], db: [] as number[] };
  let last: Summary | undefined;
  replace(
    root,
    h('h2', {}, 'Observability'),
    cards,
    graphs,
    h('h3', {}, 'Recent requests (this process, newest first)'),
    h('div', { className: 'row' }, statusFilter, textFilter),
    log,
    h('h3', {}, 'Busiest routes (since start)'),
    routes,
  );
  const loadLog = async () => {
    const query = `status=${statusFilter.value}&q=${encodeURIComponent(textFilter.value)}&limit=50`;
    const { requests } = await api<{
      requests: {
        at: number;
        method: string;
        path: string;
        route: string;
        status: number;
        ms: number;
        reqId: string;
      }[];
    }>('GET', `/requests?${query}`);
    replace(
      log,
      h(
        'table',
        {},
        h('tr', {}, ...['time', 'method', 'path', 'status', 'ms', 'request id'].map((t) => h('th', {}, t))),
        ...requests.map((r) =>
          h(
            'tr',
            {},
            h('td', {}, new Date(r.at).toISOString().slice(11, 23)),
            h('td', {}, r.method),
            h('td', {}, r.path),
            h('td', {}, r.status),
            h('td', {}, r.ms),
            h('td', { className: 'muted' }, r.reqId),
          ),
        ),
      ),
    );
  };
  statusFilter.addEventListener('change', () => void loadLog());
  textFilter.addEventListener('input', () => void loadLog());
  const push = (list: number[], value: number) => {
    list.push(value);
    if (list.length > POINTS) list.shift();
  };
  const poll = async () => {
    try {
      const now = await api<Summary>('GET', '/metrics');
      if (last) {
        const seconds = (now.at - last.at) / 1000 || 1;
        push(series.rate, Math.max(0, (now.requests.total - last.requests.total) / seconds));
        push(series.p95, windowP95(last, now));
        push(series.errors, Math.max(0, (now.errors - last.errors) / seconds));
      }
      push(series.db, now.db.inUse);
      last = now;
      const card = (title: string, value: string | number) => h('div', { className: 'card' }, title, h('b', {}, value));
      replace(
        cards,
        card('requests', now.requests.total),
        card('req/s', (series.rate.at(-1) ?? 0).toFixed(1)),
        card('5xx errors', now.errors),
        card('p50 (since start)', ms(now.latency.p50)),
        card('p95 (since start)', ms(now.latency.p95)),
        card('p99 (since start)', ms(now.latency.p99)),
        card('db connections (in use / idle)', `${now.db.inUse} / ${now.db.idle}`),
        card('realtime sockets / channels', `${now.realtime.connections} / ${now.realtime.channels}`),
        card('memory (RSS)', `${Math.round(now.process.rssBytes / 1048576)} MB`),
      );
      replace(
        graphs,
        chart('request-chart', 'requests/s', 'req/s', series.rate),
        chart('latency-chart', 'p95 latency', 'ms', series.p95),
        chart('error-chart', '5xx/s', '/s', series.errors),
        chart('db-chart', 'db connections in use', '', series.db),
      );
      replace(
        routes,
        h('table', {}, ...now.routes.map((r) => h('tr', {}, h('td', {}, r.route), h('td', {}, r.count)))),
      );
    } catch (err) {
      replace(cards, errorBox(err));
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), POLL_MS);
  return () => clearInterval(timer);
}
