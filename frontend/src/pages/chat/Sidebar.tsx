// The conversation list with search (titles and message text, server-side; matches marked). Beside the chat on
// a wide screen; on a phone a drawer over it, opened from the chat's toolbar (styles.css).

import { useEffect, useRef, useState } from "react";
import { NavLink } from "react-router";
import { conversations } from "../../api/endpoints";
import type { Conversation, ConversationHit } from "../../api/models";
import { ErrorAlert } from "../../components/ErrorAlert";
import { snippetParts } from "./snippet";

interface Props {
  items: Conversation[] | undefined;
  error: unknown;
  onRetry: () => void;
  /** More conversations than shown: the next page loads on demand. */
  hasMore?: boolean;
  loadingMore?: boolean;
  onLoadMore?: () => void;
  onNew: () => void;
  /** The drawer is open (narrow screens; a wide screen always shows the list). */
  open: boolean;
  onClose: () => void;
}

export function Sidebar({ items, error, onRetry, hasMore, loadingMore, onLoadMore, onNew, open, onClose }: Props) {
  const newRef = useRef<HTMLButtonElement>(null);
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<ConversationHit[] | null>(null);
  const [searchError, setSearchError] = useState<unknown>(null);
  const [searching, setSearching] = useState(false);

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setHits(null);
      setSearchError(null);
      return;
    }
    let live = true;
    const timer = window.setTimeout(async () => {
      setSearching(true);
      try {
        const page = await conversations.search(q);
        if (live) {
          setHits(page.items ?? []);
          setSearchError(null);
        }
      } catch (e) {
        if (live) setSearchError(e);
      } finally {
        if (live) setSearching(false);
      }
    }, 250);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [query]);

  // An opened drawer takes the focus to its first control.
  useEffect(() => {
    if (open) newRef.current?.focus();
  }, [open]);

  const shown: { conversation: Conversation; snippet?: string }[] = hits ?? (items ?? []).map((conversation) => ({ conversation }));
  return (
    <aside
      id="conversations"
      className={`sidebar${open ? " open" : ""}`}
      aria-label="Conversations"
      onKeyDown={(e) => {
        if (e.key === "Escape" && open) {
          e.stopPropagation();
          onClose();
        }
      }}
    >
      <div className="row">
        <button ref={newRef} type="button" onClick={onNew}>
          + New chat
        </button>
        <span className="spacer" />
        <button type="button" className="secondary drawer-close" onClick={onClose}>
          Close
        </button>
      </div>
      <label>
        <span className="visually-hidden">Search conversations</span>
        <input
          type="search"
          placeholder="Search conversations"
          aria-label="Search conversations"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
      </label>
      {searchError ? <ErrorAlert error={searchError} context="Search" /> : null}
      {!hits && error ? <ErrorAlert error={error} onRetry={onRetry} context="Conversations" /> : null}
      {searching ? <span className="muted small" role="status">Searching…</span> : null}
      <ul aria-label={hits ? "Search results" : "Conversation list"}>
        {shown.map(({ conversation: c, snippet }) => (
          <li key={c.id}>
            <NavLink to={`/app/chat/${c.id}`} onClick={onClose} className={({ isActive }) => (isActive ? "active" : undefined)} title={c.title ?? undefined}>
              {c.title || "Untitled conversation"}
              {snippet ? <Snippet snippet={snippet} /> : null}
            </NavLink>
          </li>
        ))}
      </ul>
      {hits && hits.length === 0 && !searching ? <p className="muted small">No conversation matches “{query}”.</p> : null}
      {!hits && items && items.length === 0 ? <p className="muted small">No conversations yet.</p> : null}
      {!hits && hasMore && onLoadMore ? (
        <button type="button" className="secondary" onClick={onLoadMore} disabled={loadingMore}>
          {loadingMore ? "Loading…" : "Load more conversations"}
        </button>
      ) : null}
    </aside>
  );
}

/** The best message's excerpt, its matched words highlighted (rendered as text, never HTML). */
function Snippet({ snippet }: { snippet: string }) {
  return (
    <span className="snippet">
      {snippetParts(snippet).map((p, i) => (p.marked ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </span>
  );
}
