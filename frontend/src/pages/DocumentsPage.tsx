// Documents: drag-and-drop upload with progress, the list by kind and profile with status
// (ingested in the background: pending → processing → ready | failed, with retry), files or
// whole folders keeping their structure, a folder tree with counts, the list by folder, folders
// renamed or moved with their subfolders, document rename, move, replace, delete, a preview of the extracted text, and the search index: which documents
// carry the embedding model's vectors (hybrid search) and a background re-index.

import { useEffect, useRef, useState, type DragEvent } from "react";
import { documents, profiles } from "../api/endpoints";
import { errorMessage } from "../api/problem";
import type { DocumentKind, DocumentMeta, ReindexProgress } from "../api/models";
import { ACTIONS_COLUMN, DataTable } from "../components/DataTable";
import { ErrorAlert } from "../components/ErrorAlert";
import { FolderTree } from "../components/FolderTree";
import { ProfileOptions } from "../components/Options";
import { joinFolder, placedFromDrop, placedFromInput, type PlacedFile } from "../lib/folderFiles";
import { formatBytes, formatDate, formatTokens } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { usePaged } from "../lib/usePaged";

interface Upload {
  key: string;
  name: string;
  loaded: number;
  total: number;
  error?: string;
  done?: boolean;
  note?: string;
}

/** After this long `pending` or `processing`, ingestion counts as stalled and may be retried
 * (the server's INGEST_STALLED_AFTER, crates/corpus/src/ingestion.rs). */
const INGEST_STALLED_AFTER_MS = 20 * 60 * 1000;

/** Whether the document waits for (or is in) ingestion. */
function ingesting(doc: DocumentMeta): boolean {
  return doc.status === "pending" || doc.status === "processing";
}

/** Whether the user may retry the document's ingestion: it failed, or stalled. */
function canRetry(doc: DocumentMeta, now = Date.now()): boolean {
  if (doc.status === "failed") return true;
  const since = Date.parse(doc.updated_at ?? doc.created_at ?? "");
  return ingesting(doc) && Number.isFinite(since) && now - since >= INGEST_STALLED_AFTER_MS;
}

const ACCEPT = ".md,.markdown,.txt,.text,.html,.htm,.pdf,text/markdown,text/plain,text/html,application/pdf";

export default function DocumentsPage() {
  const [kind, setKind] = useState<DocumentKind | "">("");
  const [profile, setProfile] = useState("");
  const [folder, setFolder] = useState<string | null>(null);
  const [target, setTarget] = useState("");
  const [uploadKind, setUploadKind] = useState<DocumentKind>("dataset");
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [over, setOver] = useState(false);
  const [preview, setPreview] = useState<{ doc: DocumentMeta; text?: string; error?: unknown } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [folderMove, setFolderMove] = useState<{ from: string; to: string; moved: number; remaining: number | null; done: boolean } | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const list = usePaged(
    (cursor) => documents.list({ kind, profile, cursor, ...(folder !== null ? { folder, recursive: true } : {}) }),
    [kind, profile, folder],
  );
  const tree = useAsync(() => documents.folders().catch(() => null), []);
  const profileList = useAsync(() => profiles.list(), []);
  // Optional: a server without the re-index endpoint (or an error) just hides the panel.
  const index = useAsync(() => documents.reindexProgress().catch(() => null), []);
  const items = list.data?.items ?? [];

  // Ingestion runs after upload, embedding during a re-index: poll while either is under
  // way (ingestion up to 15 minutes, a large PDF's worst case; a re-index as long as it
  // reports progress).
  const pendingCount = items.filter(ingesting).length;
  const reindexing = (index.data?.queued ?? 0) > 0;
  const polls = useRef(0);
  useEffect(() => {
    if (!reindexing && (pendingCount === 0 || polls.current > 450)) return;
    const t = window.setTimeout(() => {
      polls.current++;
      void list.reload();
      void index.reload();
      void tree.reload();
    }, 2000);
    return () => window.clearTimeout(t);
  }, [pendingCount, reindexing, list, index, tree]);

  /** Uploads files into the target folder, each below it in the folder it was chosen or
   * dropped from. */
  async function uploadFiles(placed: PlacedFile[]) {
    const chosen = placed.map((p) => p.file);
    const folders = placed.map((p) => joinFolder(target, p.folder));
    const batch = chosen.map((f, i) => ({
      key: `${Date.now()}-${i}-${folders[i]}/${f.name}`,
      name: folders[i] ? `${folders[i]}/${f.name}` : f.name,
      loaded: 0,
      total: f.size,
    }));
    setUploads((u) => [...batch, ...u].slice(0, 20));
    await Promise.all(
      chosen.map(async (file, i) => {
        const key = batch[i].key;
        const update = (patch: Partial<Upload>) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, ...patch } : x)));
        try {
          const doc = await documents.upload(file, uploadKind, (loaded, total) => update({ loaded, total }), undefined, folders[i]);
          const note = doc?.duplicate ? `already stored as “${doc.name}”` : "uploaded";
          update({ done: true, loaded: file.size, total: file.size, note });
        } catch (e) {
          update({ error: errorMessage(e) });
        }
      }),
    );
    polls.current = 0;
    void list.reload();
    void tree.reload();
    // The search index summary counts ready documents: it changes with every upload.
    void index.reload();
  }

  function drop(e: DragEvent) {
    e.preventDefault();
    setOver(false);
    void placedFromDrop(e.dataTransfer).then((placed) => {
      if (placed.length) void uploadFiles(placed);
    });
  }

  async function act(fn: () => Promise<unknown>) {
    setActionError(null);
    try {
      await fn();
      await Promise.all([list.reload(), index.reload(), tree.reload()]);
    } catch (e) {
      setActionError(e);
    }
  }

  /** Renames or moves a folder with its subfolders: the server moves a batch per call and says
   * what remains, so this repeats the call until it is done, showing the progress. */
  async function renameFolder(from: string, to: string) {
    setActionError(null);
    let moved = 0;
    let left = Infinity;
    setFolderMove({ from, to, moved, remaining: null, done: false });
    try {
      for (;;) {
        const step = await documents.renameFolder(from, to);
        moved += step.moved;
        setFolderMove({ from: step.from, to: step.to, moved, remaining: step.remaining, done: step.done });
        if (step.done) {
          const within = (p: string) => p === step.from || p.startsWith(`${step.from}/`);
          const mapped = (p: string) => `${step.to}${p.slice(step.from.length)}`;
          if (folder !== null && within(folder)) setFolder(mapped(folder));
          if (within(target)) setTarget(mapped(target));
          break;
        }
        // Each call takes at least one document out of the folder: a call that does not stops
        // the loop instead of repeating forever.
        if (step.remaining >= left) throw new Error(`Moving ${from} made no progress; try again.`);
        left = step.remaining;
      }
    } catch (e) {
      setFolderMove(null);
      setActionError(e);
    }
    await Promise.all([list.reload(), tree.reload()]);
  }

  async function showPreview(doc: DocumentMeta) {
    setPreview({ doc });
    try {
      setPreview({ doc, text: await documents.text(doc.id) });
    } catch (error) {
      setPreview({ doc, error });
    }
  }

  const groups: [DocumentKind, string][] = [
    ["instructions", "Instructions"],
    ["dataset", "Datasets"],
  ];

  return (
    <div className="page">
      <h1>Documents</h1>
      <section className="card" aria-labelledby="upload-title">
        <h2 id="upload-title">Upload</h2>
        <div className="row">
          <label className="inline">
            Upload as
            <select value={uploadKind} onChange={(e) => setUploadKind(e.target.value as DocumentKind)}>
              <option value="dataset">Dataset (knowledge)</option>
              <option value="instructions">Instructions (always included)</option>
            </select>
          </label>
          <label className="inline">
            Into folder
            <input value={target} placeholder="(top level)" onChange={(e) => setTarget(e.target.value)} maxLength={400} />
          </label>
        </div>
        <div
          className={`dropzone${over ? " over" : ""}`}
          onDragOver={(e) => {
            e.preventDefault();
            setOver(true);
          }}
          onDragLeave={() => setOver(false)}
          onDrop={drop}
          data-testid="dropzone"
        >
          <p>Drop Markdown, text, HTML or PDF files — or a whole folder — here, or</p>
          <div className="row center">
            <button type="button" onClick={() => fileInput.current?.click()}>
              Choose files
            </button>
            <button type="button" className="secondary" onClick={() => folderInput.current?.click()}>
              Choose a folder
            </button>
          </div>
          <input
            ref={(el) => {
              folderInput.current = el;
              // Not in React's typings: the browser's directory picker.
              el?.setAttribute("webkitdirectory", "");
            }}
            type="file"
            multiple
            hidden
            aria-label="Folder to upload"
            onChange={(e) => {
              if (e.target.files?.length) void uploadFiles(placedFromInput(e.target.files));
              e.target.value = "";
            }}
          />
          <input
            ref={fileInput}
            type="file"
            multiple
            accept={ACCEPT}
            hidden
            aria-label="Files to upload"
            onChange={(e) => {
              if (e.target.files?.length) void uploadFiles(placedFromInput(e.target.files));
              e.target.value = "";
            }}
          />
        </div>
        {uploads.length ? (
          <ul className="list-plain" aria-label="Uploads">
            {uploads.map((u) => (
              <li key={u.key}>
                <div className="row">
                  <span>{u.name}</span>
                  <span className="spacer" />
                  <span className="muted small">
                    {u.error ? "failed" : u.done ? u.note : `${Math.round((100 * u.loaded) / Math.max(1, u.total))}%`}
                  </span>
                </div>
                <progress max={Math.max(1, u.total)} value={u.loaded} aria-label={`Upload of ${u.name}`} />
                {u.error ? <div role="alert" className="alert error">{u.error}</div> : null}
              </li>
            ))}
          </ul>
        ) : null}
      </section>

      <section className="card docs-layout" aria-labelledby="list-title">
        {tree.data?.items.length ? (
          <FolderTree
            folders={tree.data.items}
            selected={folder}
            onSelect={(path) => {
              setFolder(path);
              setTarget(path ?? "");
            }}
            onRename={(from, to) => void renameFolder(from, to)}
            busy={folderMove !== null && !folderMove.done}
          />
        ) : null}
        <div className="docs-main">
        <div className="row">
          <h2 id="list-title">{folder ? `Documents in ${folder}` : "Your documents"}</h2>
          <span className="spacer" />
          <label className="inline">
            Kind
            <select value={kind} onChange={(e) => setKind(e.target.value as DocumentKind | "")}>
              <option value="">All</option>
              <option value="instructions">Instructions</option>
              <option value="dataset">Datasets</option>
            </select>
          </label>
          <label className="inline">
            Profile
            <select value={profile} onChange={(e) => setProfile(e.target.value)}>
              <option value="">All profiles</option>
              <ProfileOptions profiles={profileList.data?.items ?? []} />
            </select>
          </label>
        </div>
        {index.data?.model ? (
          <SearchIndex
            progress={index.data}
            onReindex={() =>
              act(async () => {
                await documents.reindex();
                await index.reload();
              })
            }
          />
        ) : null}
        <ErrorAlert error={list.error} onRetry={list.reload} context="Documents" />
        <ErrorAlert error={actionError} />
        {folderMove ? (
          <p role="status" className="small" aria-label="Folder move">
            {folderMove.done
              ? `Moved ${folderMove.from} to ${folderMove.to}: ${folderMove.moved} document${folderMove.moved === 1 ? "" : "s"}.`
              : `Moving ${folderMove.from} to ${folderMove.to}… ${folderMove.moved} moved${folderMove.remaining !== null ? `, ${folderMove.remaining} to go` : ""}.`}
          </p>
        ) : null}
        {list.loading && !list.data ? <p className="loading" role="status">Loading…</p> : null}
        {list.data && items.length === 0 ? <p className="muted">No documents here yet. Upload some above.</p> : null}
        {groups.map(([k, title]) => {
          const docs = items.filter((d) => d.kind === k);
          if (!docs.length) return null;
          return (
            <div key={k}>
              <h3>{title}</h3>
              <DataTable
                columns={["Name", "Status", { label: "Tokens", num: true }, { label: "Size", num: true }, { label: "Version", num: true }, "Updated", ACTIONS_COLUMN]}
                rows={docs}
                row={(d) => (
                  <DocumentRow
                    key={d.id}
                    doc={d}
                    onPreview={() => showPreview(d)}
                    onRename={(name) => act(() => documents.rename(d.id, name))}
                    onMove={(to) => act(() => documents.move(d.id, to))}
                    onReplace={(file) => act(() => documents.replace(d.id, file))}
                    onDelete={() => act(() => documents.remove(d.id))}
                    model={index.data?.model ?? null}
                    onReindex={() =>
                      act(async () => {
                        await documents.reindexOne(d.id);
                        await index.reload();
                      })
                    }
                    onRetry={() =>
                      act(async () => {
                        // The same route: for a failed or stalled document it ingests again.
                        await documents.reindexOne(d.id);
                        polls.current = 0;
                      })
                    }
                  />
                )}
              />
            </div>
          );
        })}
        {list.hasMore ? (
          <button type="button" className="secondary" onClick={() => void list.loadMore()} disabled={list.loadingMore}>
            {list.loadingMore ? "Loading…" : "Load more documents"}
          </button>
        ) : null}
        </div>
      </section>

      {preview ? (
        <section className="card" aria-labelledby="preview-title">
          <div className="row">
            <h2 id="preview-title">Extracted text: {preview.doc.name}</h2>
            <span className="spacer" />
            <button type="button" className="secondary" onClick={() => setPreview(null)}>
              Close
            </button>
          </div>
          <ErrorAlert error={preview.error} context="Preview" />
          {preview.text !== undefined ? (
            <div className="preview" data-testid="document-preview">
              {preview.text || "(no text was extracted)"}
            </div>
          ) : !preview.error ? (
            <p className="loading">Loading…</p>
          ) : null}
        </section>
      ) : null}
    </div>
  );
}

/** Hybrid search coverage: how many ready documents carry the model's vectors, and re-index. */
function SearchIndex({ progress, onReindex }: { progress: ReindexProgress; onReindex: () => void }) {
  const { model, documents: total, embedded, queued, failed } = progress;
  return (
    <div className="row" role="status" aria-label="Search index">
      <span className="small">
        Hybrid search with <strong>{model}</strong>: {embedded} of {total} documents embedded
        {queued ? `, ${queued} re-indexing…` : ""}
        {failed ? `, ${failed} failed` : ""}
      </span>
      <span className="spacer" />
      {total > 0 && embedded < total && !queued ? (
        <button type="button" className="secondary" onClick={onReindex}>
          Re-index {total - embedded} document{total - embedded === 1 ? "" : "s"}
        </button>
      ) : null}
      {queued ? <progress max={Math.max(1, total)} value={embedded} aria-label="Re-index progress" /> : null}
    </div>
  );
}

/** How a document ranks: hybrid with the model, BM25 alone, or its re-index state. */
function indexLabel(doc: DocumentMeta, model: string | null): string | null {
  if (doc.status !== "ready" || !model) return null;
  if (doc.reindex === "queued") return "re-index queued";
  if (doc.reindex === "embedding") return "embedding…";
  if (doc.reindex === "failed") return "embedding failed (BM25 only)";
  return doc.embedding_model === model ? "hybrid" : "BM25 only";
}

function DocumentRow({
  doc,
  onPreview,
  onRename,
  onMove,
  onReplace,
  onDelete,
  model,
  onReindex,
  onRetry,
}: {
  doc: DocumentMeta;
  onPreview: () => void;
  onRename: (name: string) => void;
  onMove: (folder: string) => void;
  onReplace: (file: File) => void;
  onDelete: () => void;
  model: string | null;
  onReindex: () => void;
  onRetry: () => void;
}) {
  const index = indexLabel(doc, model);
  const canReindex = index === "BM25 only" || index === "embedding failed (BM25 only)";
  const replaceInput = useRef<HTMLInputElement>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [moving, setMoving] = useState<string | null>(null);
  const reason = doc.failure_reason;
  return (
    <tr>
      <td>
        {renaming !== null ? (
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              if (renaming.trim()) onRename(renaming.trim());
              setRenaming(null);
            }}
          >
            <input aria-label={`New name for ${doc.name}`} autoFocus value={renaming} onChange={(e) => setRenaming(e.target.value)} />
            <button type="submit">Save</button>
            <button type="button" className="secondary" onClick={() => setRenaming(null)}>
              Cancel
            </button>
          </form>
        ) : moving !== null ? (
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              onMove(moving.trim());
              setMoving(null);
            }}
          >
            <input aria-label={`Folder for ${doc.name}`} autoFocus value={moving} placeholder="(top level)" onChange={(e) => setMoving(e.target.value)} />
            <button type="submit">Move</button>
            <button type="button" className="secondary" onClick={() => setMoving(null)}>
              Cancel
            </button>
          </form>
        ) : (
          <span>{doc.name}</span>
        )}
        <div className="muted small">
          {doc.folder ? <span className="doc-folder">{doc.folder}/ · </span> : null}
          {doc.media_type}
        </div>
      </td>
      <td>
        <span className={`badge ${doc.status}`}>{doc.status}</span>
        {doc.status === "pending" ? <div className="muted small">waiting to be indexed</div> : null}
        {doc.status === "processing" ? (
          <div className="muted small">
            indexing… <progress aria-label={`Indexing ${doc.name}`} />
          </div>
        ) : null}
        {doc.status === "failed" && reason ? <div className="small" style={{ color: "var(--danger)" }}>{reason}</div> : null}
        {index ? (
          <div className="muted small" data-testid={`index-${doc.id}`}>
            {index}
          </div>
        ) : null}
      </td>
      <td className="num">{formatTokens(doc.token_count)}</td>
      <td className="num">{formatBytes(doc.size)}</td>
      <td className="num">{doc.version ?? ""}</td>
      <td className="small">{formatDate(doc.updated_at ?? doc.created_at)}</td>
      <td>
        <div className="row">
          <button type="button" className="icon" onClick={onPreview} aria-label={`Preview ${doc.name}`}>
            Preview
          </button>
          <button type="button" className="icon" onClick={() => setRenaming(doc.name)} aria-label={`Rename ${doc.name}`}>
            Rename
          </button>
          <button type="button" className="icon" onClick={() => setMoving(doc.folder ?? "")} aria-label={`Move ${doc.name}`}>
            Move
          </button>
          <button type="button" className="icon" onClick={() => replaceInput.current?.click()} aria-label={`Replace ${doc.name}`}>
            Replace
          </button>
          {canRetry(doc) ? (
            <button type="button" className="icon" onClick={onRetry} aria-label={`Retry indexing ${doc.name}`}>
              Retry
            </button>
          ) : null}
          {canReindex ? (
            <button type="button" className="icon" onClick={onReindex} aria-label={`Re-index ${doc.name}`}>
              Re-index
            </button>
          ) : null}
          <input
            ref={replaceInput}
            type="file"
            hidden
            accept={ACCEPT}
            aria-label={`New version of ${doc.name}`}
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) onReplace(f);
              e.target.value = "";
            }}
          />
          <button
            type="button"
            className="icon"
            onClick={() => window.confirm(`Delete “${doc.name}”? Its text and index go too.`) && onDelete()}
            aria-label={`Delete ${doc.name}`}
          >
            Delete
          </button>
        </div>
      </td>
    </tr>
  );
}
