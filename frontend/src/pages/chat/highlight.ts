// Syntax highlighting for code blocks, loaded lazily: until highlight.js has arrived a block is
// shown as plain (escaped) text, and `loadHighlighter` tells the caller when to render again.

import type { HLJSApi } from "highlight.js";

let hljs: HLJSApi | null = null;
let loading: Promise<void> | null = null;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** True once highlight.js is loaded (code blocks rendered from now on are highlighted). */
export function highlighterReady(): boolean {
  return hljs !== null;
}

/** Loads highlight.js and its languages once; resolves when highlighting is available. */
export function loadHighlighter(): Promise<void> {
  loading ??= import("./highlighter").then(
    (m) => {
      hljs = m.default;
    },
    (e) => {
      loading = null; // a failed chunk load (e.g. offline) may be retried by a later answer
      throw e;
    },
  );
  return loading;
}

/** HTML of a code block: highlighted when the language is known and the highlighter loaded. */
export function highlight(code: string, lang: string | undefined): { html: string; language?: string } {
  const name = (lang ?? "").trim().split(/\s+/)[0]?.toLowerCase();
  if (name && hljs?.getLanguage(name)) {
    try {
      return { html: hljs.highlight(code, { language: name, ignoreIllegals: true }).value, language: name };
    } catch {
      // fall through to plain text
    }
  }
  return { html: escapeHtml(code), language: name || undefined };
}
