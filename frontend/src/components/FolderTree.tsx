// The Documents page's folder tree: every folder with how many documents it holds (its own and
// its subfolders'), indented by depth; choosing one filters the list and becomes the upload
// target.

import type { FolderSummary } from "../api/models";

export function FolderTree({
  folders,
  selected,
  onSelect,
}: {
  folders: FolderSummary[];
  /** The chosen folder's path, or null for every document. */
  selected: string | null;
  onSelect: (path: string | null) => void;
}) {
  const root = folders.find((f) => f.path === "");
  const rows = folders.filter((f) => f.path !== "");
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
          return (
            <li key={f.path} style={{ paddingInlineStart: `${Math.min(parts.length, 8) * 0.75}rem` }}>
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
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
