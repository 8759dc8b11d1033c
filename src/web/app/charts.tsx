/** Small charts as inline SVG (no chart library: the first load stays small), each with a text alternative. */

export function Bars({ values, label, title, unit = '' }: { values: number[]; label: string; title: string; unit?: string }) {
  const w = 240, h = 48;
  const max = Math.max(1, ...values);
  const bw = w / Math.max(1, values.length);
  return (
    <svg class="chart" viewBox={`0 0 ${w} ${h + 12}`} role="img" aria-label={label}>
      <title>{title}</title>
      <line class="axis" x1="0" y1={h + 0.5} x2={w} y2={h + 0.5} />
      {values.map((v, i) => (v > 0 ? <rect class="bar" x={i * bw + 0.5} y={h - (v / max) * h} width={Math.max(1, bw - 1)} height={(v / max) * h} /> : null))}
      <text x="0" y={h + 11}>-{values.length} min</text>
      <text x={w} y={h + 11} text-anchor="end">now · max {max}{unit}</text>
    </svg>
  );
}

export function Line({ values, label, title, unit = '' }: { values: number[]; label: string; title: string; unit?: string }) {
  const w = 240, h = 48;
  const max = Math.max(1e-9, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(h - (v / max) * h).toFixed(1)}`).join(' ');
  return (
    <svg class="chart" viewBox={`0 0 ${w} ${h + 12}`} role="img" aria-label={label}>
      <title>{title}</title>
      <line class="axis" x1="0" y1={h + 0.5} x2={w} y2={h + 0.5} />
      {values.length > 1 && <polyline class="line" points={pts} />}
      {values.length < 40 && values.map((v, i) => <circle class="bar" cx={i * step + (values.length === 1 ? w / 2 : 0)} cy={h - (v / max) * h} r="2.5" />)}
      <text x="0" y={h + 11}>last {values.length}</text>
      <text x={w} y={h + 11} text-anchor="end">max {round(max)}{unit}</text>
    </svg>
  );
}

export const round = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

export function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}
