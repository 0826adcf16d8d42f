//! The CodeMirror 6 editor: YAML highlighting, search, history, lint diagnostics that
//! the screen pushes (the back end lints; nothing here decides a finding), a read-only
//! switch, and helpers to jump to a position or replace the text.

import { autocompletion, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import {
  bracketMatching,
  foldGutter,
  foldKeymap,
  HighlightStyle,
  indentOnInput,
  syntaxHighlighting,
} from "@codemirror/language";
import { type Diagnostic, lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";
import { highlightSelectionMatches, search, searchKeymap } from "@codemirror/search";
import { Compartment, EditorSelection, EditorState, type Extension } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import { tags as t } from "@lezer/highlight";
import { type Placeable, toDiagnostic } from "./positions";

export interface EditorOptions {
  doc: string;
  readOnly: boolean;
  /** Called on every change; read the text from the view when needed (copying it is O(n)). */
  onChange: () => void;
  onCursor?: (line: number, column: number) => void;
}

const readOnlyCompartment = new Compartment();

const theme = EditorView.theme({
  "&": { color: "var(--text)" },
  ".cm-gutters": {
    background: "var(--panel-2)",
    color: "var(--muted)",
    borderRight: "1px solid var(--border)",
  },
  ".cm-activeLine": { background: "color-mix(in srgb, var(--selected) 45%, transparent)" },
  ".cm-activeLineGutter": { background: "var(--selected)" },
  ".cm-cursor": { borderLeftColor: "var(--text)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground": {
    background: "color-mix(in srgb, var(--accent) 30%, transparent) !important",
  },
  ".cm-panels": { background: "var(--panel-2)", color: "var(--text)" },
});

/** Syntax colours from the stylesheet's variables, so light and dark themes both read well. */
const highlight = HighlightStyle.define([
  { tag: [t.definition(t.propertyName), t.propertyName], color: "var(--syn-key)" },
  { tag: [t.string, t.special(t.string)], color: "var(--syn-string)" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "var(--syn-number)" },
  { tag: [t.comment, t.lineComment], color: "var(--syn-comment)", fontStyle: "italic" },
  { tag: [t.keyword, t.meta, t.typeName, t.labelName], color: "var(--syn-keyword)" },
  { tag: [t.separator, t.punctuation, t.squareBracket, t.brace], color: "var(--muted)" },
]);

function readOnlyExtension(readOnly: boolean): Extension {
  return [EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)];
}

export function createEditor(parent: HTMLElement, options: EditorOptions): EditorView {
  const state = EditorState.create({
    doc: options.doc,
    extensions: [
      lineNumbers(),
      highlightActiveLineGutter(),
      foldGutter(),
      lintGutter(),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      closeBrackets(),
      autocompletion(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      search({ top: true }),
      syntaxHighlighting(highlight),
      yaml(),
      theme,
      EditorState.tabSize.of(2),
      EditorView.contentAttributes.of({ "aria-label": "Bundle document" }),
      readOnlyCompartment.of(readOnlyExtension(options.readOnly)),
      keymap.of([
        ...closeBracketsKeymap,
        ...defaultKeymap,
        ...searchKeymap,
        ...historyKeymap,
        ...foldKeymap,
        ...lintKeymap,
        indentWithTab,
      ]),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) options.onChange();
        if (options.onCursor && (update.selectionSet || update.docChanged)) {
          const head = update.state.selection.main.head;
          const line = update.state.doc.lineAt(head);
          options.onCursor(line.number, head - line.from + 1);
        }
      }),
    ],
  });
  return new EditorView({ state, parent });
}

export function setReadOnly(view: EditorView, readOnly: boolean): void {
  view.dispatch({ effects: readOnlyCompartment.reconfigure(readOnlyExtension(readOnly)) });
}

/** Shows `findings` as inline diagnostics (the text they were computed for must be the current one). */
export function showFindings(view: EditorView, findings: readonly Placeable[]): void {
  const doc = view.state.doc;
  const diagnostics: Diagnostic[] = findings.map((f) => toDiagnostic(doc, f));
  view.dispatch(setDiagnostics(view.state, diagnostics));
}

/** Moves the cursor to `offset`, scrolls it to the middle and focuses the editor. */
export function jumpTo(view: EditorView, offset: number): void {
  const pos = Math.min(Math.max(0, offset), view.state.doc.length);
  view.dispatch({
    selection: EditorSelection.cursor(pos),
    effects: EditorView.scrollIntoView(pos, { y: "center" }),
  });
  view.focus();
}

/** Replaces the whole text (one undoable change) and puts the cursor at `cursor`. */
export function replaceText(view: EditorView, text: string, cursor: number): void {
  view.dispatch({
    changes: { from: 0, to: view.state.doc.length, insert: text },
    selection: EditorSelection.cursor(Math.min(cursor, text.length)),
    effects: EditorView.scrollIntoView(Math.min(cursor, text.length), { y: "center" }),
  });
  view.focus();
}
