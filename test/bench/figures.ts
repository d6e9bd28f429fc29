/** One measured figure of a benchmark. */
export interface Figure {
  bench: string;
  metric: string;
  value: number;
  unit: string;
}

export type Bench = (args: string[]) => Promise<Figure[]>;

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/** A human table of figures, aligned in columns. */
export function formatTable(figures: Figure[]): string {
  const rows = [['bench', 'metric', 'value', 'unit'], ...figures.map((f) => [f.bench, f.metric, formatValue(f.value), f.unit])];
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  const line = (row: string[]) => row.map((cell, col) => (col === 2 ? cell.padStart(widths[col]) : cell.padEnd(widths[col]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The same figures as a markdown table (for README). */
export function formatMarkdown(figures: Figure[]): string {
  return ['| bench | metric | value | unit |', '|---|---|---:|---|', ...figures.map((f) => `| ${f.bench} | ${f.metric} | ${formatValue(f.value)} | ${f.unit} |`)].join('\n');
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(3);
}
