// A small SVG bar chart: one bar per label, value axis from zero, readable in both themes.

export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ bars, title, format }: { bars: Bar[]; title: string; format: (v: number) => string }) {
  const width = 720;
  const height = 240;
  const pad = { top: 16, right: 12, bottom: 46, left: 64 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = Math.max(0, ...bars.map((b) => b.value));
  const top = niceCeil(max);
  const step = bars.length ? innerW / bars.length : innerW;
  const barW = Math.max(2, Math.min(48, step * 0.7));
  // With nothing to show (all zero) one axis line at 0; five would sit on each other.
  const ticks = top ? [0, 0.25, 0.5, 0.75, 1].map((t) => t * top) : [0];
  const labelEvery = Math.max(1, Math.ceil(bars.length / 12));
  return (
    <figure className="chart" aria-label={title}>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-title">
        <title id="chart-title">{title}</title>
        {ticks.map((t) => {
          const y = pad.top + innerH - (top ? (t / top) * innerH : 0);
          return (
            <g key={t}>
              <line className="axis" x1={pad.left} x2={width - pad.right} y1={y} y2={y} />
              <text x={pad.left - 6} y={y + 4} textAnchor="end">
                {format(t)}
              </text>
            </g>
          );
        })}
        {bars.map((b, i) => {
          const h = top ? (b.value / top) * innerH : 0;
          const x = pad.left + i * step + (step - barW) / 2;
          return (
            <g key={b.label}>
              <rect className="bar" x={x} y={pad.top + innerH - h} width={barW} height={h} rx={2}>
                <title>{`${b.label}: ${format(b.value)}`}</title>
              </rect>
              {i % labelEvery === 0 ? (
                <text x={x + barW / 2} y={height - pad.bottom + 16} textAnchor="middle">
                  {b.label}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/** A round number at or above v, for the axis top. */
export function niceCeil(v: number): number {
  if (v <= 0) return 0;
  const magnitude = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= v) return m * magnitude;
  return 10 * magnitude;
}
