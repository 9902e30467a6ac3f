// The console's calls to the server: the same REST API every ksqlDB client uses.

const JSON_TYPE = 'application/vnd.ksql.v1+json';

/// Session properties sent with every request (SET in the editor changes them).
export const session = { properties: { 'auto.offset.reset': 'earliest' } };

/// The statements of a script, split at `;` outside quotes and comments, each with the line
/// and column it starts at (1-based), so errors can be placed in the editor.
export function splitStatements(text) {
  const out = [];
  let start = null;
  let line = 1, col = 1, startLine = 1, startCol = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (start === null && !/\s/.test(c)) {
      start = i; startLine = line; startCol = col;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j++;
      for (let k = i; k < j && k < text.length; k++) {
        if (text[k] === '\n') { line++; col = 1; } else col++;
      }
      i = j;
      col++;
      continue;
    }
    if (c === '-' && text[i + 1] === '-') {
      while (i < text.length && text[i] !== '\n') i++;
      line++; col = 1;
      if (start !== null && text.slice(start, i).trim().startsWith('--')) start = null;
      continue;
    }
    if (c === ';' && start !== null) {
      out.push({ text: text.slice(start, i + 1), line: startLine, column: startCol });
      start = null;
    }
    if (c === '\n') { line++; col = 1; } else col++;
  }
  if (start !== null && text.slice(start).trim()) {
    out.push({ text: text.slice(start).trim() + ';', line: startLine, column: startCol });
  }
  return out;
}

/// Runs a statement on `/ksql`: its entities, or throws the server's error.
export async function ksql(statement, requestProperties = {}) {
  const res = await fetch('/ksql', {
    method: 'POST',
    headers: { 'Content-Type': JSON_TYPE, Accept: JSON_TYPE },
    body: JSON.stringify({ ksql: statement, streamsProperties: session.properties, requestProperties }),
  });
  const body = await res.json().catch(() => ({ message: `HTTP ${res.status}` }));
  if (!res.ok) throw serverError(body);
  return body;
}

/// `ksql`, with listings also as the shell draws them (`brooklet` in each entity).
export function ksqlShell(statement) {
  return ksql(statement, { 'brooklet.shell': true });
}

function serverError(body) {
  const e = new Error(body.message || JSON.stringify(body));
  e.body = body;
  return e;
}

/// Posts `sql` to `/query-stream` and calls `onLines` with each arrival of complete,
/// non-empty lines; resolves when the answer ends. `signal` stops it.
async function streamLines(sql, signal, onLines) {
  const res = await fetch('/query-stream', {
    method: 'POST',
    headers: { 'Content-Type': JSON_TYPE, Accept: 'application/vnd.ksqlapi.delimited.v1' },
    body: JSON.stringify({ sql, properties: session.properties }),
    signal,
  });
  if (!res.ok) throw serverError(await res.json().catch(() => ({ message: `HTTP ${res.status}` })));
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split('\n');
    buffer = lines.pop();
    const complete = lines.filter((l) => l.trim());
    if (complete.length) onLines(complete);
  }
}

/// Runs a query on `/query-stream`, calling `onHeader` with its header and `onRows` with each
/// arrival of rows; resolves when the query ends. `signal` stops it.
export async function query(sql, { onHeader, onRows, signal }) {
  let header = null;
  await streamLines(sql, signal, (lines) => {
    const rows = [];
    for (const line of lines) {
      const v = JSON.parse(line);
      if (!header) { header = v; onHeader(v); continue; }
      if (Array.isArray(v)) rows.push(v);
      else if (v.errorMessage || v.message) throw serverError(v);
    }
    if (rows.length) onRows(rows);
  });
}

/// Runs PRINT on `/query-stream`, calling `onLines` with each arrival of the records' text
/// lines; resolves when it ends. `signal` stops it.
export function print(sql, { onLines, signal }) {
  return streamLines(sql, signal, onLines);
}

/// Streams and tables with their columns, queries and topics: what completion and the
/// catalog panel show, in one request (`SHOW ... EXTENDED` describes every source).
export async function catalog() {
  const listed = await ksql(
    'SHOW STREAMS EXTENDED; SHOW TABLES EXTENDED; SHOW QUERIES; SHOW TOPICS EXTENDED;');
  const sources = listed.flatMap((e) => e.sourceDescriptions || []).map((d) => ({
    name: d.name, kind: d.type, topic: d.topic, fields: d.fields,
  }));
  const queries = listed.flatMap((e) => e.queries || []);
  const topics = listed.flatMap((e) => e.topics || []).map((t) => ({
    name: t.name, partitions: t.replicaInfo.length, readers: t.consumerGroupCount || 0,
  }));
  return { sources, queries, topics };
}

let functionNames = null;
export async function functions() {
  if (!functionNames) {
    const [f] = await ksql('SHOW FUNCTIONS;');
    functionNames = (f.functions || []).map((x) => x.name);
  }
  return functionNames;
}

/// The line and column an error message names (`line 3:14: ...`), relative to its statement.
export function errorPosition(message) {
  const m = /line (\d+):(\d+)/.exec(message || '');
  return m ? { line: +m[1], column: +m[2] } : null;
}
