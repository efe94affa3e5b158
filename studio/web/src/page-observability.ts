/** Observability: request rate, errors, latency percentiles and pool connections, polled from /studio/api/metrics. */
import { api } from './api.js';
import { errorBox, h, replace } from './dom.js';

interface Summary {
  at: number;
  requests: { total: number; byClass: Record<string, number> };
  errors: number;
  latency: { p50: number | null; p95: number | null; p99: number | null };
  db: { inUse: number; idle: number; waiting: number };
  realtime: { connections: number; channels: number };
  process: { rssBytes: number; heapUsedBytes: number; uptimeSeconds: number };
  routes: { route: string; count: number }[];
}

const POLL_MS = 1000;
const POINTS = 60;
const ms = (s: number | null) => (s === null ? '–' : `≤ ${Math.round(s * 1000 * 10) / 10} ms`);

/** An SVG line of requests per second, newest on the right. */
function chart(rates: number[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const width = 600;
  const height = 160;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('id', 'request-chart');
  svg.setAttribute('data-points', String(rates.length));
  svg.setAttribute('data-max', String(Math.max(0, ...rates)));
  svg.style.background = '#fff';
  svg.style.border = '1px solid #ddd';
  const top = Math.max(1, ...rates);
  const step = width / (POINTS - 1);
  const offset = POINTS - rates.length;
  const points = rates.map(
    (r, i) => `${((offset + i) * step).toFixed(1)},${(height - 10 - (r / top) * (height - 30)).toFixed(1)}`,
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
  label.textContent = `requests/s (max ${top.toFixed(1)})`;
  svg.append(line, label);
  return svg;
}

export function observabilityPage(root: HTMLElement): () => void {
  const cards = h('div', { className: 'cards' });
  const graph = h('div', {});
  const routes = h('div', {});
  const rates: number[] = [];
  let last: Summary | undefined;
  replace(root, h('h2', {}, 'Observability'), cards, graph, h('h3', {}, 'Busiest routes'), routes);
  const poll = async () => {
    try {
      const now = await api<Summary>('GET', '/metrics');
      if (last) {
        rates.push(Math.max(0, (now.requests.total - last.requests.total) / ((now.at - last.at) / 1000 || 1)));
        if (rates.length > POINTS) rates.shift();
      }
      last = now;
      const card = (title: string, value: string | number) => h('div', { className: 'card' }, title, h('b', {}, value));
      replace(
        cards,
        card('requests', now.requests.total),
        card('req/s', (rates.at(-1) ?? 0).toFixed(1)),
        card('5xx errors', now.errors),
        card('p50', ms(now.latency.p50)),
        card('p95', ms(now.latency.p95)),
        card('p99', ms(now.latency.p99)),
        card('db connections (in use / idle)', `${now.db.inUse} / ${now.db.idle}`),
        card('realtime sockets / channels', `${now.realtime.connections} / ${now.realtime.channels}`),
        card('memory (RSS)', `${Math.round(now.process.rssBytes / 1048576)} MB`),
      );
      replace(graph, chart(rates));
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
