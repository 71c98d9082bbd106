// The conversation list with search (titles and message text, server-side).

import { useEffect, useState } from "react";
import { NavLink } from "react-router";
import { conversations } from "../../api/endpoints";
import type { Conversation, ConversationHit } from "../../api/models";
import { ErrorAlert } from "../../components/ErrorAlert";

interface Props {
  items: Conversation[] | undefined;
  error: unknown;
  onRetry: () => void;
  onNew: () => void;
}

export function Sidebar({ items, error, onRetry, onNew }: Props) {
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

  const shown: { conversation: Conversation; snippet?: string }[] = hits ?? (items ?? []).map((conversation) => ({ conversation }));
  return (
    <aside className="sidebar" aria-label="Conversations">
      <button type="button" onClick={onNew}>
        + New chat
      </button>
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
            <NavLink to={`/app/chat/${c.id}`} className={({ isActive }) => (isActive ? "active" : undefined)} title={c.title ?? undefined}>
              {c.title || "Untitled conversation"}
              {snippet ? <span className="snippet">{stripTags(snippet)}</span> : null}
            </NavLink>
          </li>
        ))}
      </ul>
      {hits && hits.length === 0 && !searching ? <p className="muted small">No conversation matches “{query}”.</p> : null}
      {!hits && items && items.length === 0 ? <p className="muted small">No conversations yet.</p> : null}
    </aside>
  );
}

/** Snippets may carry highlight markup; show them as text. */
function stripTags(s: string): string {
  return s.replace(/<[^>]*>/g, "");
}
