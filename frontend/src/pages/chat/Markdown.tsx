// A rendered answer: Markdown with highlighted code, copy buttons on code blocks, and citation
// buttons that call `onCite`.

import { useEffect, useMemo, useState, type MouseEvent } from "react";
import { copyText } from "./copy";
import { highlighterReady, loadHighlighter } from "./highlight";
import { renderMarkdown } from "./markdown";

export function Markdown({ text, onCite, streaming }: { text: string; onCite?: (n: number) => void; streaming?: boolean }) {
  // Code blocks show as plain text until highlight.js (its own chunk) has loaded; then again.
  const [highlighted, setHighlighted] = useState(highlighterReady);
  // `highlighted` is a dependency on purpose: the same text renders again, highlighted.
  const html = useMemo(() => renderMarkdown(text), [text, highlighted]);
  const hasCode = html.includes("<pre>");
  useEffect(() => {
    if (!hasCode || highlighted) return;
    let live = true;
    loadHighlighter().then(
      () => live && setHighlighted(true),
      () => undefined, // plain code blocks are still readable
    );
    return () => {
      live = false;
    };
  }, [hasCode, highlighted]);

  function click(e: MouseEvent<HTMLDivElement>) {
    const target = e.target as HTMLElement;
    const cite = target.closest<HTMLElement>("[data-cite]");
    if (cite) {
      e.preventDefault();
      onCite?.(Number(cite.dataset.cite));
      return;
    }
    const copy = target.closest<HTMLElement>("[data-copy-code]");
    if (copy) {
      const code = copy.parentElement?.querySelector("code")?.textContent ?? "";
      void copyText(code).then((ok) => {
        copy.textContent = ok ? "Copied" : "Copy failed";
        window.setTimeout(() => (copy.textContent = "Copy"), 1500);
      });
    }
    const link = target.closest<HTMLAnchorElement>("a[href]");
    if (link && link.origin !== window.location.origin) {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
  }

  return (
    <div
      className={`markdown${streaming ? " typing" : ""}`}
      onClick={click}
      // Sanitised by DOMPurify in renderMarkdown.
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
}
