/** A line chart of the last `points` values, newest on the right (SVG, no library). */

export interface ChartProps {
  id: string;
  title: string;
  unit: string;
  values: readonly number[];
  points?: number;
  width?: number;
  height?: number;
}

export function LineChart({ id, title, unit, values, points = 60, width = 420, height = 130 }: ChartProps) {
  const max = Math.max(0, ...values);
  const top = Math.max(1, max);
  const step = width / (points - 1);
  const offset = points - values.length;
  const y = (v: number) => height - 8 - (v / top) * (height - 30);
  const line = values.map((v, i) => `${((offset + i) * step).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const now = values.at(-1) ?? 0;
  return (
    <svg
      id={id}
      class="chart"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      data-points={values.length}
      data-max={max}
      role="img"
      aria-label={`${title}: now ${now.toFixed(1)} ${unit}`}
    >
      <line x1="0" x2={width} y1={y(top)} y2={y(top)} class="chart-grid" />
      <line x1="0" x2={width} y1={y(0)} y2={y(0)} class="chart-grid" />
      {values.length > 1 && <polyline points={line} fill="none" stroke="#3ecf8e" stroke-width="2" />}
      <text x="8" y="16" font-size="12">
        {`${title} (now ${now.toFixed(1)} ${unit}, max ${top.toFixed(1)})`}
      </text>
    </svg>
  );
}
