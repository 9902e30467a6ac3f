// A persistent query's operators as a graph (EXPLAIN's `operators`), sink at the top, inputs
// below, each with its rows in and out, state and rows per second, refreshed every second.

import { h } from 'preact';
import { useState, useEffect } from 'preact/hooks';
import htm from 'htm';
import * as api from './api.js';

const html = htm.bind(h);

function figures(n) {
  const f = [];
  if (n.rowsIn != null) f.push(`in ${n.rowsIn}`);
  if (n.rowsOut != null) f.push(`out ${n.rowsOut}`);
  if (n.rowsPerSecond != null) f.push(`${n.rowsPerSecond.toFixed(0)} rows/s`);
  if (n.stateRows != null) f.push(`state ${n.stateRows}`);
  if (n.lateRecords) f.push(`late ${n.lateRecords}`);
  return f.join(' · ');
}

function Operator({ node }) {
  return html`<div class="op-tree">
    <div class="op" data-operator=${node.operator}>
      <div class="op-name">${node.operator}</div>
      <div class="op-detail">${node.detail}</div>
      <div class="op-figures">${figures(node)}</div>
    </div>
    ${node.inputs.length > 0 && html`<div class="op-inputs">
      ${node.inputs.map((i) => html`<${Operator} node=${i} />`)}</div>`}
  </div>`;
}

export function Topology({ id, onClose }) {
  const [d, setD] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const [e] = await api.ksql(`EXPLAIN ${id};`);
        if (live) { setD(e.queryDescription); setError(null); }
      } catch (e) { if (live) setError(e.message); }
    };
    load();
    const timer = setInterval(load, 1000);
    return () => { live = false; clearInterval(timer); };
  }, [id]);
  return html`<section class="topology" data-id=${id}>
    <h3>${id} <small>${d && d.state}</small> <button onClick=${onClose}>Close</button></h3>
    ${error && html`<pre class="error">${error}</pre>`}
    ${d && html`<div class="query-schema">
      ${d.sources.join(', ')} → ${d.sinks.join(', ')}:
      ${d.fields.map((f) => html` <span class="field">${f.name} <small>${f.schema.type}${f.type === 'KEY' ? ' key' : ''}</small></span>`)}
    </div>`}
    ${d && html`<${Operator} node=${d.operators} />`}
  </section>`;
}
