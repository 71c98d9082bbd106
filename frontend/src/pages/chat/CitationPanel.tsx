// The passage a citation points at: document, heading, the cited text, and the surrounding
// document text on demand.

import { useEffect, useRef, useState } from "react";
import { documents } from "../../api/endpoints";
import type { Citation } from "../../api/models";
import { ErrorAlert } from "../../components/ErrorAlert";

export function citationNumber(c: Citation, index: number): number {
  return c.n ?? index + 1;
}

/**
 * Characters start..end of a text. The server counts Unicode characters (Rust `char`s); JS
 * strings count UTF-16 units, which differ only when the text has characters beyond the BMP.
 */
export function sliceChars(text: string, start: number, end: number): [string, string, string] {
  if (!/[\uD800-\uDFFF]/.test(text)) return [text.slice(0, start), text.slice(start, end), text.slice(end)];
  const chars = Array.from(text);
  return [chars.slice(0, start).join(""), chars.slice(start, end).join(""), chars.slice(end).join("")];
}

export function CitationPanel({ n, citation, onClose }: { n: number; citation: Citation | undefined; onClose: () => void }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [context, setContext] = useState(false);
  const closeRef = useRef<HTMLButtonElement>(null);
  const documentId = citation?.document_id;

  useEffect(() => {
    closeRef.current?.focus();
  }, [n, citation]);

  // The passage lives in the document's extracted text: fetch it and cut the cited range.
  useEffect(() => {
    setText(null);
    setError(null);
    setContext(false);
    if (!documentId) return;
    let live = true;
    documents.text(documentId).then(
      (t) => live && setText(t),
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [documentId]);

  const heading = citation?.heading_path?.length ? citation.heading_path.join(" › ") : undefined;
  const start = citation?.start;
  const end = citation?.end;
  const ranged = text !== null && start !== undefined && end !== undefined && start < end;
  const [before, passage, after] = ranged ? sliceChars(text, start, end) : ["", text ?? "", ""];

  return (
    <div className="panel" role="dialog" aria-label={`Citation ${n}`} onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div className="row">
        <h2>Source [{n}]</h2>
        <span className="spacer" />
        <button ref={closeRef} type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
      {!citation ? (
        <p className="muted">This answer has no source numbered {n}.</p>
      ) : (
        <>
          <p>
            <strong>{citation.document_name ?? citation.document_id}</strong>
            {citation.version ? <span className="muted"> · version {citation.version}</span> : null}
          </p>
          {heading ? <p className="muted">{heading}</p> : null}
          <ErrorAlert error={error} context="Document text" />
          {text === null && !error ? <p className="loading" role="status">Loading the passage…</p> : null}
          {text !== null ? (
            context ? (
              <DocumentExcerpt before={before} passage={passage} after={after} />
            ) : (
              <>
                <blockquote data-testid="cited-passage">{passage.trim() || "(empty passage)"}</blockquote>
                {ranged ? (
                  <button type="button" className="secondary" onClick={() => setContext(true)}>
                    Show it in the document
                  </button>
                ) : null}
              </>
            )
          ) : null}
        </>
      )}
    </div>
  );
}

function DocumentExcerpt({ before, passage, after }: { before: string; passage: string; after: string }) {
  const markRef = useRef<HTMLElement>(null);
  useEffect(() => markRef.current?.scrollIntoView?.({ block: "center" }), [passage]);
  return (
    <div className="preview" data-testid="cited-context">
      {before.slice(-2000)}
      <mark ref={markRef}>{passage}</mark>
      {after.slice(0, 2000)}
    </div>
  );
}
