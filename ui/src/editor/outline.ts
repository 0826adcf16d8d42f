//! The rule outline: each rule's id and where it starts, read from the YAML syntax tree
//! (a JSON document parses as YAML flow syntax). Only the shape of the document is read
//! here; what a rule means is the back end's business.

import { yamlLanguage } from "@codemirror/lang-yaml";
import type { SyntaxNode, Tree } from "@lezer/common";

export interface OutlineEntry {
  /** 0-based position among the rules, as lint findings' `index`. */
  index: number;
  /** The rule's id, or null when it has none (or it is not a plain scalar). */
  id: string | null;
  /** Document offset where the rule starts (its first key, or its `{`). */
  from: number;
}

const SEQUENCES = new Set(["BlockSequence", "FlowSequence"]);
const MAPPINGS = new Set(["BlockMapping", "FlowMapping"]);

function scalar(text: string, node: SyntaxNode | null): string | null {
  if (!node) return null;
  const raw = text.slice(node.from, node.to).trim();
  if (node.name === "Literal") return raw;
  if (node.name !== "QuotedLiteral") return null;
  if (raw.startsWith("'")) return raw.slice(1, -1).replaceAll("''", "'");
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "string" ? value : null;
  } catch {
    return raw.slice(1, -1);
  }
}

/** The value node of a pair: the first child after its `:`. */
function pairValue(pair: SyntaxNode): SyntaxNode | null {
  let seenColon = false;
  for (let c = pair.firstChild; c; c = c.nextSibling) {
    if (seenColon && c.name !== "Comment") return c;
    if (c.name === ":") seenColon = true;
  }
  return null;
}

function pairKey(text: string, pair: SyntaxNode): string | null {
  const key = pair.getChild("Key");
  return scalar(text, key?.firstChild ?? null);
}

function findPair(text: string, mapping: SyntaxNode, name: string): SyntaxNode | null {
  for (const pair of mapping.getChildren("Pair")) if (pairKey(text, pair) === name) return pair;
  return null;
}

/** Skips wrappers (Document, Item, anchors, tags) down to the first collection or scalar. */
function unwrap(node: SyntaxNode | null): SyntaxNode | null {
  let n = node;
  while (n && !SEQUENCES.has(n.name) && !MAPPINGS.has(n.name)) {
    if (n.name === "Literal" || n.name === "QuotedLiteral") return n;
    let next: SyntaxNode | null = null;
    for (let c = n.firstChild; c; c = c.nextSibling) {
      if (
        SEQUENCES.has(c.name) ||
        MAPPINGS.has(c.name) ||
        c.name === "Item" ||
        c.name === "Document"
      ) {
        next = c;
        break;
      }
    }
    n = next;
  }
  return n;
}

export function parseYaml(text: string): Tree {
  return yamlLanguage.parser.parse(text);
}

/** The rules of a bundle document (a mapping with `rules`, or a bare list of rules). */
export function ruleOutline(text: string, tree: Tree = parseYaml(text)): OutlineEntry[] {
  const root = unwrap(tree.topNode.getChild("Document"));
  if (!root) return [];
  let rules: SyntaxNode | null = null;
  if (SEQUENCES.has(root.name)) rules = root;
  else if (MAPPINGS.has(root.name)) {
    const pair = findPair(text, root, "rules");
    rules = pair ? unwrap(pairValue(pair)) : null;
  }
  if (!rules || !SEQUENCES.has(rules.name)) return [];
  return rules.getChildren("Item").map((item, index) => {
    const rule = unwrap(item);
    let id: string | null = null;
    let from = item.from;
    if (rule && MAPPINGS.has(rule.name)) {
      const idPair = findPair(text, rule, "id");
      id = idPair ? scalar(text, unwrap(pairValue(idPair))) : null;
      from = rule.name === "FlowMapping" ? rule.from : (rule.firstChild?.from ?? rule.from);
    }
    while (from < item.to && /\s/.test(text[from] ?? "")) from++;
    return { index, id, from };
  });
}
