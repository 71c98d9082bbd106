// Documents attached to a message: chips on the message, and in the composer the chips of what
// the next message carries (files dropped or chosen are uploaded as the user's documents first).

import { useState } from "react";
import { documents } from "../../api/endpoints";
import { errorMessage } from "../../api/problem";
import type { DocumentMeta } from "../../api/models";

export interface ComposerAttachment {
  /** The document's id once stored (absent while uploading or after a failure). */
  id?: string;
  name: string;
  key: string;
  error?: string;
}

/** The chips of a message's attachments (read-only), or of the composer's (removable). */
export function AttachmentChips({
  items,
  onRemove,
  label = "Attachments",
}: {
  items: { key?: string; id?: string; document_id?: string; name: string; error?: string }[];
  onRemove?: (index: number) => void;
  label?: string;
}) {
  if (!items.length) return null;
  return (
    <ul className="chips" aria-label={label}>
      {items.map((a, i) => (
        <li key={a.key ?? a.document_id ?? a.id ?? i} className={`chip${a.error ? " failed" : ""}`} title={a.error ?? a.name}>
          <span className="chip-name">📎 {a.name}</span>
          {a.error ? <span className="visually-hidden">: {a.error}</span> : null}
          {!a.error && !(a.id ?? a.document_id) ? <span className="muted small"> uploading…</span> : null}
          {onRemove ? (
            <button type="button" className="icon" aria-label={`Remove ${a.name}`} onClick={() => onRemove(i)}>
              ×
            </button>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

/** Uploads `files` as datasets and reports each as it settles. */
export async function uploadAttachments(
  files: File[],
  update: (key: string, patch: Partial<ComposerAttachment>) => void,
  add: (items: ComposerAttachment[]) => void,
) {
  const items = files.map((f, i) => ({ key: `${Date.now()}-${i}-${f.name}`, name: f.name }));
  add(items);
  await Promise.all(
    files.map(async (file, i) => {
      try {
        const doc = await documents.upload(file, "dataset");
        update(items[i].key, { id: doc.id, name: doc.name });
      } catch (e) {
        update(items[i].key, { error: errorMessage(e) });
      }
    }),
  );
}

/** A picker of the user's ready documents (loaded when first opened). */
export function DocumentPicker({ onPick }: { onPick: (doc: DocumentMeta) => void }) {
  const [docs, setDocs] = useState<DocumentMeta[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => {
    if (docs !== null) return;
    setDocs([]);
    documents
      .list({ limit: 200 })
      .then((page) => setDocs(page.items.filter((d) => d.status === "ready")))
      .catch((e) => setError(errorMessage(e)));
  };
  return (
    <label className="inline small">
      <span className="visually-hidden">Attach a document</span>
      <select
        aria-label="Attach a document"
        value=""
        onFocus={load}
        onMouseDown={load}
        onChange={(e) => {
          const doc = docs?.find((d) => d.id === e.target.value);
          if (doc) onPick(doc);
        }}
      >
        <option value="">{error ? `Documents unavailable: ${error}` : "Attach a document…"}</option>
        {(docs ?? []).map((d) => (
          <option key={d.id} value={d.id}>
            {d.folder ? `${d.folder}/${d.name}` : d.name}
          </option>
        ))}
      </select>
    </label>
  );
}
