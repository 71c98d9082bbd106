// The passage a citation points at: document, heading, the cited text, and the surrounding
// document text on demand.

import { useEffect, useRef, useState } from "react";
import { documents } from "../../api/endpoints";
import type { Citation } from "../../api/types";
import { ErrorAlert } from "../../components/ErrorAlert";

export function citationNumber(c: Citation, index: number): number {
  return c.n ?? c.index ?? index + 1;
}

export function CitationPanel({ n, citation, onClose }: { n: number; citation: Citation | undefined; onClose: () => void }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const closeRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    setText(null);
    setError(null);
    closeRef.current?.focus();
  }, [n, citation]);

  const heading = Array.isArray(citation?.heading_path)
    ? citation.heading_path.join(" › ")
    : Array.isArray(citation?.heading)
      ? citation.heading.join(" › ")
      : citation?.heading;
  const start = citation?.start ?? citation?.char_start;
  const end = citation?.end ?? citation?.char_end;
  const passage = citation?.text ?? citation?.snippet;

  async function loadDocument() {
    if (!citation?.document_id) return;
    try {
      setText(await documents.text(citation.document_id));
    } catch (e) {
      setError(e);
    }
  }

  return (
    <aside className="panel" role="dialog" aria-label={`Citation ${n}`} onKeyDown={(e) => e.key === "Escape" && onClose()}>
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
            <strong>{citation.document_name ?? citation.document_id ?? "Document"}</strong>
            {citation.version ? <span className="muted"> · version {citation.version}</span> : null}
          </p>
          {heading ? <p className="muted">{heading}</p> : null}
          {passage ? <blockquote data-testid="cited-passage">{passage}</blockquote> : null}
          {start !== undefined && end !== undefined ? (
            <p className="muted small">
              Characters {start}–{end}
            </p>
          ) : null}
          {citation.document_id && text === null ? (
            <button type="button" className="secondary" onClick={loadDocument}>
              Show in the document
            </button>
          ) : null}
          <ErrorAlert error={error} context="Document text" />
          {text !== null ? <DocumentExcerpt text={text} start={start} end={end} /> : null}
        </>
      )}
    </aside>
  );
}

function DocumentExcerpt({ text, start, end }: { text: string; start?: number; end?: number }) {
  const markRef = useRef<HTMLElement>(null);
  useEffect(() => markRef.current?.scrollIntoView?.({ block: "center" }), [text]);
  if (start === undefined || end === undefined || start < 0 || end > text.length || start >= end) {
    return <div className="preview">{text}</div>;
  }
  return (
    <div className="preview">
      {text.slice(Math.max(0, start - 2000), start)}
      <mark ref={markRef}>{text.slice(start, end)}</mark>
      {text.slice(end, end + 2000)}
    </div>
  );
}
