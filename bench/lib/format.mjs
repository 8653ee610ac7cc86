// Number formatting and the results table.

/** 12345.6 -> "12,346" */
export function formatRate(n) {
  return Math.round(n).toLocaleString('en-US');
}

/** Milliseconds with precision that suits sub-millisecond latencies. */
export function formatMs(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '';
  if (ms < 10) return `${ms.toFixed(3)} ms`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(1)} ms`;
}

/** nova/bare ratio, two decimals. */
export function formatRatio(r) {
  return r.toFixed(2);
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Rows: { benchmark, case, rate?, unit?, p50Ms?, p99Ms?, note? } (any other fields only go to the JSON).
 * Columns are padded to their widest cell; numbers are right-aligned.
 */
export function formatTable(rows) {
  const cells = rows.map((r) => [
    r.benchmark,
    r.case ?? '',
    r.rate === undefined ? '' : `${formatRate(r.rate)} ${r.unit ?? ''}`.trimEnd(),
    r.p50Ms === undefined ? '' : `p50 ${formatMs(r.p50Ms)}`,
    r.p99Ms === undefined ? '' : `p99 ${formatMs(r.p99Ms)}`,
    r.note ?? '',
  ]);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(0, ...cells.map((c) => c[i].length)));
  const rightAligned = new Set([2, 3, 4]);
  return cells
    .map((c) => c.map((cell, i) => (i === 5 ? cell : rightAligned.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}
