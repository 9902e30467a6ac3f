// The SQL editor: CodeMirror 6 with SQL highlighting, completion from the catalog (streams,
// tables, their columns, functions, ksqlDB's keywords), Ctrl-Enter to run, and errors marked
// where the server says they are.

import { EditorState, Compartment } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { sql, SQLDialect } from '@codemirror/lang-sql';
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching } from '@codemirror/language';
import { autocompletion, completionKeymap } from '@codemirror/autocomplete';
import { setDiagnostics, lintGutter } from '@codemirror/lint';

const KEYWORDS =
  'select from where group by partition having emit changes final window tumbling hopping session ' +
  'size advance grace period retention join left right full outer inner within on as and or not ' +
  'is null like between in case when then else end cast limit with key primary headers header ' +
  'create stream table insert into values drop delete topic terminate show list describe extended ' +
  'explain print set unset define undefine queries streams tables topics functions properties ' +
  'connectors variables source sink connector if exists replace deduplicate beginning struct map ' +
  'array true false seconds minutes hours days milliseconds';
const TYPES = 'int integer bigint double boolean string varchar decimal timestamp date time bytes';

const ksqlDialect = SQLDialect.define({
  keywords: KEYWORDS,
  types: TYPES,
  identifierQuotes: '`',
  backslashEscapes: false,
});

function language(catalog, functions) {
  const schema = {};
  for (const s of catalog.sources || []) {
    schema[s.name] = (s.fields || []).map((f) => f.name);
  }
  const fns = functions.map((name) => ({ label: name, type: 'function', apply: `${name}(` }));
  return [
    sql({ dialect: ksqlDialect, schema, upperCaseKeywords: true }),
    ksqlDialect.language.data.of({
      autocomplete: (ctx) => {
        const word = ctx.matchBefore(/[A-Za-z_][A-Za-z_0-9]*/);
        if (!word || (word.from === word.to && !ctx.explicit)) return null;
        return { from: word.from, options: fns, validFor: /^[A-Za-z_0-9]*$/ };
      },
    }),
  ];
}

/// An editor in `parent`; `run(text)` is called on Ctrl-Enter.
export function createEditor(parent, doc, run) {
  const lang = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(),
        highlightActiveLine(),
        history(),
        bracketMatching(),
        lintGutter(),
        syntaxHighlighting(defaultHighlightStyle),
        autocompletion(),
        keymap.of([
          { key: 'Mod-Enter', run: (v) => { run(v.state.doc.toString()); return true; } },
          ...completionKeymap,
          ...defaultKeymap,
          ...historyKeymap,
        ]),
        lang.of(language({}, [])),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) u.view.dispatch(setDiagnostics(u.state, []));
        }),
      ],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText: (t) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } }),
    setCatalog: (catalog, functions) =>
      view.dispatch({ effects: lang.reconfigure(language(catalog, functions)) }),
    /// Marks an error at `line`:`column` of the document (1-based).
    markError(line, column, message) {
      const doc = view.state.doc;
      const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
      const from = Math.min(l.from + Math.max(column - 1, 0), l.to);
      const to = Math.min(from + 1, doc.length) > from ? Math.max(from + 1, wordEnd(doc, from)) : from;
      view.dispatch(setDiagnostics(view.state, [{ from, to, severity: 'error', message }]));
    },
  };
}

function wordEnd(doc, from) {
  const text = doc.sliceString(from, Math.min(from + 64, doc.length));
  const m = /^[^\s;,()]+/.exec(text);
  return from + (m ? m[0].length : 1);
}
