// A table that reflows on a narrow screen: each row becomes a card and each cell shows its
// column's header beside its value (styles.css, `.reflow`), so nothing scrolls sideways. The
// labels are copied from the table's header cells after every render.

import { useLayoutEffect, useRef, type ReactNode } from "react";

/** Sets `data-label` on every body cell from the header cell of its column. */
export function labelCells(root: HTMLElement | null) {
  if (!root) return;
  for (const table of Array.from(root.querySelectorAll("table"))) {
    const headers = Array.from(table.querySelectorAll("thead th")).map(headerLabel);
    for (const row of Array.from(table.querySelectorAll("tbody tr"))) {
      Array.from(row.children).forEach((cell, i) => {
        const label = headers[i] ?? "";
        if ((cell as HTMLElement).dataset.label !== label) (cell as HTMLElement).dataset.label = label;
      });
    }
  }
}

/** A header's visible text: a header that only names a column for screen readers gives none. */
function headerLabel(th: Element): string {
  const hidden = Array.from(th.querySelectorAll(".visually-hidden")).map((e) => e.textContent ?? "").join("");
  const text = (th.textContent ?? "").trim();
  return hidden && text === hidden.trim() ? "" : text;
}

export function ReflowTable({ children }: { children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => labelCells(ref.current));
  return (
    <div className="table-wrap reflow" ref={ref}>
      {children}
    </div>
  );
}
