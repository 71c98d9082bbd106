// How a usage row of an embedding model reads: the model tagged "embeddings", its count as
// calls (one per document indexed or question searched), not answers.

import type { UsageKind } from "../api/models";

export function KindBadge({ kind }: { kind?: UsageKind }) {
  return kind === "embedding" ? (
    <>
      {" "}
      <span className="badge">embeddings</span>
    </>
  ) : null;
}

/** A row's count: answers as a number, embedding calls as "N calls". */
export function countLabel(n: number | undefined, kind?: UsageKind): string {
  if (n === undefined) return "";
  return kind === "embedding" ? `${n} ${n === 1 ? "call" : "calls"}` : String(n);
}
