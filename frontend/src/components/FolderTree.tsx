// The Documents page's folder tree: every folder with how many documents it holds (its own and
// its subfolders'), indented by depth; choosing one filters the list and becomes the upload
// target. Each folder can be renamed or moved (a new path), subfolders included.

import { useRef, useState } from "react";
import type { FolderSummary } from "../api/models";

export function FolderTree({
  folders,
  selected,
  onSelect,
  onRename,
  busy = false,
}: {
  folders: FolderSummary[];
  /** The chosen folder's path, or null for every document. */
  selected: string | null;
  onSelect: (path: string | null) => void;
  /** Renames or moves the folder `from` to the path `to`; absent: no rename action. */
  onRename?: (from: string, to: string) => void;
  /** A rename is under way: no other starts. */
  busy?: boolean;
}) {
  const root = folders.find((f) => f.path === "");
  const rows = folders.filter((f) => f.path !== "");
  const [editing, setEditing] = useState<{ path: string; value: string } | null>(null);
  const renameButtons = useRef(new Map<string, HTMLButtonElement>());

  function close(path: string) {
    setEditing(null);
    // Back where the user was, for the keyboard.
    renameButtons.current.get(path)?.focus();
  }

  return (
    <nav aria-label="Folders" className="folder-tree">
      <ul className="list-plain">
        <li>
          <button
            type="button"
            className={`folder${selected === null ? " current" : ""}`}
            aria-current={selected === null ? "true" : undefined}
            onClick={() => onSelect(null)}
          >
            <span className="folder-name">All documents</span>
            <span className="badge">{root?.total ?? 0}</span>
          </button>
        </li>
        {rows.map((f) => {
          const parts = f.path.split("/");
          const name = parts[parts.length - 1];
          const current = selected === f.path;
          const edit = editing?.path === f.path ? editing : null;
          return (
            <li key={f.path} style={{ paddingInlineStart: `${Math.min(parts.length, 8) * 0.75}rem` }}>
              <div className="folder-row">
                <button
                  type="button"
                  className={`folder${current ? " current" : ""}`}
                  aria-current={current ? "true" : undefined}
                  title={f.documents === f.total ? f.path : `${f.path}: ${f.documents} here, ${f.total} with subfolders`}
                  onClick={() => onSelect(f.path)}
                >
                  <span className="folder-name">{name}</span>
                  <span className="badge">{f.total}</span>
                </button>
                {onRename ? (
                  <button
                    type="button"
                    className="icon"
                    ref={(el) => {
                      if (el) renameButtons.current.set(f.path, el);
                      else renameButtons.current.delete(f.path);
                    }}
                    aria-label={`Rename or move folder ${f.path}`}
                    aria-expanded={edit !== null}
                    disabled={busy}
                    onClick={() => setEditing(edit ? null : { path: f.path, value: f.path })}
                  >
                    Rename
                  </button>
                ) : null}
              </div>
              {edit && onRename ? (
                <form
                  className="row folder-rename"
                  onSubmit={(e) => {
                    e.preventDefault();
                    const to = edit.value.trim().replace(/^\/+|\/+$/g, "");
                    if (to && to !== f.path) onRename(f.path, to);
                    close(f.path);
                  }}
                  onKeyDown={(e) => {
                    if (e.key === "Escape") {
                      e.preventDefault();
                      close(f.path);
                    }
                  }}
                >
                  <label className="grow">
                    <span className="small">New path for {f.path} (subfolders move too)</span>
                    <input
                      autoFocus
                      value={edit.value}
                      maxLength={400}
                      onChange={(e) => setEditing({ path: f.path, value: e.target.value })}
                    />
                  </label>
                  <button type="submit">Move</button>
                  <button type="button" className="secondary" onClick={() => close(f.path)}>
                    Cancel
                  </button>
                </form>
              ) : null}
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
