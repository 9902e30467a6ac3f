// Brooklet's web console: an editor, results as they arrive, and the catalog with each
// query's operators. It uses the server's REST API only, as any client does.

import { h, render } from 'preact';
import { useState, useEffect, useRef, useCallback } from 'preact/hooks';
import htm from 'htm';
import * as api from './api.js';
import { ResultTable, Chart } from './results.js';
import { Topology } from './topology.js';

const html = htm.bind(h);

const SAMPLE = `CREATE STREAM clicks (user_id VARCHAR KEY, page VARCHAR, ms INT)
  WITH (KAFKA_TOPIC = 'clicks', PARTITIONS = 1, VALUE_FORMAT = 'JSON');
INSERT INTO clicks (user_id, page, ms) VALUES ('alice', '/home', 120);
SELECT * FROM clicks EMIT CHANGES;`;

/// A listing as the shell draws it (title, a table, footer), from `brooklet.shell` answers.
function Listing({ entity }) {
  const shown = entity.brooklet;
  if (!shown) return html`<pre class="json">${JSON.stringify(entity, null, 2)}</pre>`;
  return html`<div class="listing">
    ${shown.title && html`<pre>${shown.title}</pre>`}
    ${shown.headers && shown.headers.length > 0 && html`<table class="grid">
      <thead><tr>${shown.headers.map((x) => html`<th>${x}</th>`)}</tr></thead>
      <tbody>${shown.rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody>
    </table>`}
    ${shown.footer && html`<pre>${shown.footer}</pre>`}
  </div>`;
}

function Result({ result }) {
  if (result.error) {
    return html`<div class="result error" data-kind="error">
      <div class="stmt">${result.statement}</div><pre>${result.error}</pre></div>`;
  }
  if (result.query) return html`<${QueryResult} result=${result} />`;
  return html`<div class="result" data-kind="statement">
    <div class="stmt">${result.statement}</div>
    ${result.entities.map((e) =>
      e['@type'] === 'currentStatus'
        ? html`<div class="message">${e.commandStatus.message}</div>`
        : html`<${Listing} entity=${e} />`)}
  </div>`;
}

/// A query's rows as they arrive, with pause, resume and stop.
function QueryResult({ result }) {
  const q = result.query;
  const [, tick] = useState(0);
  const [paused, setPaused] = useState(false);
  useEffect(() => q.subscribe(() => tick((n) => n + 1)), [q]);
  const pausedRows = useRef(null);
  if (paused && !pausedRows.current) pausedRows.current = q.rows.length;
  if (!paused) pausedRows.current = null;
  const shownCount = paused ? pausedRows.current : q.rows.length;
  return html`<div class="result query" data-kind=${q.kind}>
    <div class="stmt">${result.statement}</div>
    <div class="toolbar">
      <span class="status" data-state=${q.state}>${q.state}</span>
      <span class="count">${q.rows.length} ${q.kind === 'print' ? 'records' : 'rows'}</span>
      <span class="rate">${q.rate.toFixed(0)} rows/s</span>
      ${q.state === 'running' && q.kind !== 'pull' && html`
        <button class="pause" onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button>
        <button class="stop" onClick=${() => q.stop()}>Stop</button>`}
    </div>
    ${q.error && html`<pre class="error">${q.error}</pre>`}
    ${q.kind === 'print' && html`<${PrintLines} lines=${q.rows} count=${shownCount} />`}
    ${q.columns && html`<${ResultTable} columns=${q.columns} rows=${q.rows} count=${shownCount} />`}
    ${q.columns && html`<${Chart} columns=${q.columns} types=${q.types} rows=${q.rows} count=${shownCount} />`}
  </div>`;
}

/// A running query's state, outside Preact's state so that thousands of rows a second do not
/// each cause a render: views subscribe and redraw at most once per frame. `kind` is `push`,
/// `pull` or `print` (PRINT's records arrive as text lines, kept in `rows`).
function runningQuery(statement, kind) {
  const controller = new AbortController();
  const listeners = new Set();
  let frame = 0;
  const q = {
    kind, rows: [], columns: null, types: null, state: 'running', error: null, rate: 0,
    stop: () => { controller.abort(); q.state = 'stopped'; notify(); },
    subscribe: (f) => { listeners.add(f); return () => listeners.delete(f); },
  };
  const notify = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; listeners.forEach((f) => f()); });
  };
  const started = performance.now();
  const onRows = (rows) => {
    for (const r of rows) q.rows.push(r);
    q.rate = q.rows.length / Math.max((performance.now() - started) / 1000, 0.001);
    notify();
  };
  const done = kind === 'print'
    ? api.print(statement, { signal: controller.signal, onLines: onRows })
    : api.query(statement, {
      signal: controller.signal,
      onHeader: (hd) => { q.columns = hd.columnNames; q.types = hd.columnTypes; notify(); },
      onRows,
    });
  done.then(
    () => { if (q.state === 'running') q.state = 'done'; notify(); },
    (e) => {
      if (q.state === 'running') { q.state = 'error'; q.error = e.message; }
      notify();
    },
  );
  return q;
}

/// PRINT's records as the server formats them, the last 500 shown.
function PrintLines({ lines, count }) {
  const from = Math.max(0, count - 500);
  return html`<pre class="print">${lines.slice(from, count).join('\n')}</pre>`;
}

function Catalog({ catalog, onTopology, onPrint, onChanged, errors }) {
  const act = async (statement, question) => {
    if (!confirm(question)) return;
    try { await api.ksql(statement); } catch (e) { alert(e.message); }
    onChanged();
  };
  const group = (kind) => catalog.sources.filter((s) => s.kind === kind);
  return html`<aside class="catalog">
    ${['STREAM', 'TABLE'].map((kind) => html`<section>
      <h3>${kind === 'STREAM' ? 'Streams' : 'Tables'}</h3>
      ${group(kind).map((s) => html`<details class="source" data-name=${s.name}
          onToggle=${(e) => e.currentTarget.open && describe(s.name, e.currentTarget)}>
        <summary>${s.name} <small>${s.topic}</small>
          ${s.name !== 'KSQL_PROCESSING_LOG' && html`<button class="drop" title="Drop"
            onClick=${(e) => { e.preventDefault(); act(`DROP ${kind} \`${s.name}\`;`, `Drop ${kind.toLowerCase()} ${s.name}?`); }}>✕</button>`}
        </summary>
        <ul>${(s.fields || []).map((f) => html`<li>${f.name} <small>${f.schema.type}${f.type === 'KEY' ? ' key' : ''}</small></li>`)}</ul>
        <pre class="extended"></pre>
      </details>`)}
    </section>`)}
    <section>
      <h3>Queries</h3>
      ${catalog.queries.map((q) => html`<div class="query-item" data-id=${q.id}>
        <a href="#" class="topology-link" onClick=${(e) => { e.preventDefault(); onTopology(q.id); }}>${q.id}</a>
        <small>${q.state}</small>
        <button class="terminate" title="Terminate"
          onClick=${() => act(`TERMINATE ${q.id};`, `Terminate ${q.id}?`)}>■</button>
      </div>`)}
    </section>
    <section>
      <h3>Topics</h3>
      ${(catalog.topics || []).map((t) => html`<div class="topic-item" data-name=${t.name}>
        <span title=${t.name}>${t.name}</span>
        <button class="print" title="Print its records from the beginning"
          onClick=${() => onPrint(t.name)}>▶</button>
        <small>${t.partitions} ${t.partitions === 1 ? 'partition' : 'partitions'}, ${t.readers} ${t.readers === 1 ? 'query reads' : 'queries read'}</small>
      </div>`)}
    </section>
    <section>
      <h3>Processing log</h3>
      ${errors.length === 0 ? html`<small>No errors.</small>` : errors.map((e) => html`<div class="plog">${e}</div>`)}
    </section>
  </aside>`;
}

function App() {
  const editorHost = useRef(null);
  const editor = useRef(null);
  const catalogRef = useRef(null);
  const shown = useRef([]);
  const [results, setResults] = useState([]);
  const [catalog, setCatalog] = useState({ sources: [], queries: [], topics: [] });
  const [errors, setErrors] = useState([]);
  const [topology, setTopology] = useState(null);
  const [editorReady, setEditorReady] = useState(false);

  const refresh = useCallback(async () => {
    try {
      const c = await api.catalog();
      setCatalog(c);
      catalogRef.current = [c, await api.functions()];
      if (editor.current) editor.current.setCatalog(...catalogRef.current);
      setErrors(await recentErrors());
    } catch (e) { /* the next statement refreshes again */ }
  }, []);

  const run = useCallback(async (text) => {
    const statements = api.splitStatements(text);
    const out = [];
    for (const st of statements) {
      const upper = st.text.trimStart().toUpperCase();
      if (upper.startsWith('SET ')) {
        const m = /^SET\s+'([^']+)'\s*=\s*'([^']*)'/i.exec(st.text.trim());
        if (m) api.session.properties[m[1]] = m[2];
      }
      const kind = queryKind(upper);
      if (kind) {
        out.push({ statement: st.text, query: runningQuery(st.text, kind) });
        continue;
      }
      try {
        const entities = await api.ksqlShell(st.text);
        out.push({ statement: st.text, entities });
      } catch (e) {
        out.push({ statement: st.text, error: e.message });
        const at = api.errorPosition(e.message);
        if (at && editor.current) {
          const line = st.line + at.line - 1;
          const column = at.line === 1 ? st.column + at.column - 1 : at.column;
          editor.current.markError(line, column, e.message);
        }
        break;
      }
    }
    // The results shown before are replaced: their queries stop, not to stream unseen.
    for (const r of shown.current) if (r.query && r.query.state === 'running') r.query.stop();
    shown.current = out.reverse();
    setResults(shown.current);
    refresh();
  }, [refresh]);

  // The page is drawn and the catalog asked for first; the editor (CodeMirror, most of the
  // script) is a second file, loaded at once but not waited for.
  useEffect(() => {
    performance.mark('brooklet:page');
    refresh();
    import('./editor.js').then(({ createEditor }) => {
      editor.current = createEditor(editorHost.current, SAMPLE, run);
      if (catalogRef.current) editor.current.setCatalog(...catalogRef.current);
      performance.mark('brooklet:editor');
      setEditorReady(true);
    });
  }, []);

  return html`<div class="app">
    <header><strong>Brooklet</strong> console
      <button class="run" disabled=${!editorReady}
        onClick=${() => run(editor.current.text())}>Run <small>Ctrl-Enter</small></button>
    </header>
    <${Catalog} catalog=${catalog} errors=${errors} onTopology=${setTopology} onChanged=${refresh}
      onPrint=${(topic) => run(`PRINT '${topic.replaceAll("'", "''")}' FROM BEGINNING LIMIT 1000;`)} />
    <main>
      <div class="editor" ref=${editorHost}></div>
      ${topology && html`<${Topology} id=${topology} onClose=${() => setTopology(null)} />`}
      <div class="results">${results.map((r) => html`<${Result} result=${r} />`)}</div>
    </main>
  </div>`;
}

/// How a statement's answer arrives: `print` (text lines), `push` (rows until stopped; a
/// SELECT with EMIT), `pull` (rows, then the end), or null (entities from `/ksql`).
function queryKind(upper) {
  if (upper.startsWith('PRINT')) return 'print';
  if (!upper.startsWith('SELECT')) return null;
  return /\bEMIT\s+(CHANGES|FINAL)\b/.test(upper) ? 'push' : 'pull';
}

/// DESCRIBE EXTENDED's figures (type, formats, topic, the queries that read and write it,
/// processing errors, late records, rows of state), into the source's details.
async function describe(name, details) {
  const out = details.querySelector('.extended');
  try {
    const [e] = await api.ksqlShell(`DESCRIBE \`${name}\` EXTENDED;`);
    const shown = e.brooklet || {};
    out.textContent = [shown.title, shown.footer].filter(Boolean).join('\n');
  } catch (err) {
    out.textContent = err.message;
  }
}

/// The processing log's last errors, newest first.
async function recentErrors() {
  const rows = [];
  await api.query('SELECT TIME, MESSAGE FROM KSQL_PROCESSING_LOG;', {
    onHeader: () => {},
    onRows: (r) => rows.push(...r),
  });
  return rows.slice(-10).reverse().map(([time, m]) => {
    const d = (m && (m.DESERIALIZATIONERROR || m.RECORDPROCESSINGERROR)) || {};
    return `${new Date(time).toISOString()} ${d.ERRORMESSAGE || JSON.stringify(m)}`;
  });
}

render(html`<${App} />`, document.getElementById('app'));
