// A table of records: a header row from the column names, one row per record, reflowing into
// cards on a narrow screen (ReflowTable); or, with no records, the line that says so.

import type { ReactNode } from "react";
import { ReflowTable } from "./ReflowTable";

/** A column: its name, right-aligned for numbers, or named for screen readers only. */
export type Column = string | { label: string; num?: boolean; hidden?: boolean };

/** The buttons' column, named only for screen readers (and given no label when reflowed). */
export const ACTIONS_COLUMN: Column = { label: "Actions", hidden: true };

export function DataTable<T>({
  columns,
  rows,
  row,
  empty,
}: {
  /** `false` leaves a column out (a column shown only in some views). */
  columns: (Column | false)[];
  rows: readonly T[];
  /** One `<tr>` per record. */
  row: (record: T) => ReactNode;
  /** Shown instead of the table when there are no rows; without it, nothing is. */
  empty?: ReactNode;
}) {
  if (rows.length === 0) return empty ? <p className="muted">{empty}</p> : null;
  return (
    <ReflowTable>
      <table>
        <thead>
          <tr>
            {columns.filter((c) => c !== false).map((c) => {
              const { label, num, hidden } = typeof c === "string" ? { label: c, num: false, hidden: false } : c;
              return (
                <th key={label} className={num ? "num" : undefined}>
                  {hidden ? <span className="visually-hidden">{label}</span> : label}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>{rows.map(row)}</tbody>
      </table>
    </ReflowTable>
  );
}
