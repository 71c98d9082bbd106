// Markdown to safe HTML for answers: marked (GFM), highlight.js core with the languages people
// paste most, citations "[n]" turned into buttons, everything sanitised by DOMPurify.

import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import { Marked, type Tokens } from "marked";

const languages = { bash, c, cpp, css, go, java, javascript, json, markdown, python, rust, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);
hljs.registerAliases(["sh", "shell", "zsh", "console"], { languageName: "bash" });
hljs.registerAliases(["js", "jsx", "mjs"], { languageName: "javascript" });
hljs.registerAliases(["ts", "tsx"], { languageName: "typescript" });
hljs.registerAliases(["py"], { languageName: "python" });
hljs.registerAliases(["rs"], { languageName: "rust" });
hljs.registerAliases(["html", "svg"], { languageName: "xml" });
hljs.registerAliases(["yml"], { languageName: "yaml" });
hljs.registerAliases(["md"], { languageName: "markdown" });

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function highlight(code: string, lang: string | undefined): { html: string; language?: string } {
  const name = (lang ?? "").trim().split(/\s+/)[0]?.toLowerCase();
  if (name && hljs.getLanguage(name)) {
    try {
      return { html: hljs.highlight(code, { language: name, ignoreIllegals: true }).value, language: name };
    } catch {
      // fall through to plain text
    }
  }
  return { html: escapeHtml(code), language: name || undefined };
}

const marked = new Marked({ gfm: true, breaks: false });
marked.use({
  renderer: {
    code({ text, lang }: Tokens.Code) {
      const { html, language } = highlight(text, lang);
      const cls = language ? ` class="hljs language-${escapeHtml(language)}"` : ` class="hljs"`;
      return `<pre><button type="button" class="copy-code" data-copy-code="">Copy</button><code${cls}>${html}</code></pre>\n`;
    },
  },
  extensions: [
    {
      name: "citation",
      level: "inline",
      start(src: string) {
        const i = src.search(/\[\d{1,3}\]/);
        return i === -1 ? undefined : i;
      },
      tokenizer(src: string) {
        // "[3]" (also "[1][2]"), not a link "[3](…)" nor a reference definition "[3]:".
        const m = /^\[(\d{1,3})\](?![(:])/.exec(src);
        if (!m) return undefined;
        return { type: "citation", raw: m[0], n: Number(m[1]) };
      },
      renderer(token) {
        const n = (token as unknown as { n: number }).n;
        return `<button type="button" class="cite" data-cite="${n}" aria-label="Citation ${n}">[${n}]</button>`;
      },
    },
  ],
});

/** Sanitised HTML of a Markdown answer. */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false });
  return DOMPurify.sanitize(html, {
    ADD_ATTR: ["data-cite", "data-copy-code", "target"],
    FORBID_TAGS: ["style", "form", "input"],
  });
}

export { hljs };
