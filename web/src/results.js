// Query results: a table that draws only the rows in view (so a fast query does not freeze
// the page), and a small chart of a numeric column over ROWTIME or WINDOWSTART.

import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const ROW = 24;
const HEIGHT = 320;

function cell(v) {
  if (v === null || v === undefined) return 'NULL';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/// The first `count` of `rows`, scrolled; newest rows at the bottom.
export function ResultTable({ columns, rows, count }) {
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const last = Math.min(count, first + Math.ceil(HEIGHT / ROW) + 10);
  const shown = [];
  for (let i = first; i < last; i++) shown.push(rows[i]);
  return html`<div class="rows" style=${`height:${Math.min(HEIGHT, (count + 1) * ROW + 2)}px`}
      onScroll=${(e) => setTop(e.currentTarget.scrollTop)}>
    <div style=${`height:${(count + 1) * ROW}px;position:relative`}>
      <table class="grid" style=${`position:absolute;top:${first * ROW}px`}>
        <thead><tr>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead>
        <tbody>${shown.map((r, i) => html`<tr class="row" data-row=${first + i}>
          ${r.map((v) => html`<td>${cell(v)}</td>`)}</tr>`)}</tbody>
      </table>
    </div>
  </div>`;
}

const NUMERIC = /^(INTEGER|INT|BIGINT|DOUBLE|DECIMAL)/;

/// A line of a numeric column (the first that is not a time column, or the one picked) over
/// ROWTIME or WINDOWSTART when the query has one, else over the row number; the last 500
/// points.
export function Chart({ columns, types, rows, count }) {
  const [picked, setPicked] = useState(null);
  if (!types || count < 2) return null;
  const time = columns.findIndex((c) => c === 'ROWTIME' || c === 'WINDOWSTART');
  const numeric = columns
    .map((c, i) => i)
    .filter((i) => i !== time && NUMERIC.test(types[i] || '')
      && !['ROWTIME', 'WINDOWSTART', 'WINDOWEND', 'ROWOFFSET', 'ROWPARTITION'].includes(columns[i]));
  if (numeric.length === 0) return null;
  const value = numeric.includes(picked) ? picked : numeric[0];
  const from = Math.max(0, count - 500);
  const points = [];
  for (let i = from; i < count; i++) {
    const y = Number(rows[i][value]);
    const x = time >= 0 ? Number(rows[i][time]) : i;
    if (Number.isFinite(x) && Number.isFinite(y)) points.push([x, y]);
  }
  if (points.length < 2) return null;
  const [W, H] = [600, 120];
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => ((x - x0) / (x1 - x0 || 1)) * (W - 10) + 5;
  const sy = (y) => H - 5 - ((y - y0) / (y1 - y0 || 1)) * (H - 10);
  const line = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H}`} width="100%" height=${H} preserveAspectRatio="none">
      <polyline points=${line} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
    <figcaption>
      <select class="chart-column" onChange=${(e) => setPicked(Number(e.currentTarget.value))}>
        ${numeric.map((i) => html`<option value=${i} selected=${i === value}>${columns[i]}</option>`)}
      </select>
      ${' '}over ${time >= 0 ? columns[time] : 'row'} (min ${y0}, max ${y1})
    </figcaption>
  </figure>`;
}
