// The two status lines every screen shows: a confirmation of what just happened ("Settings
// saved.") and the line shown while a screen's data arrives. Both are role="status", so a screen
// reader announces them without moving focus.

import type { ReactNode } from "react";

/** A success notice; nothing while there is nothing to say (null, false or ""). */
export function Notice({ children }: { children: ReactNode }) {
  if (children === null || children === undefined || children === false || children === "") return null;
  return (
    <p role="status" className="alert ok">
      {children}
    </p>
  );
}

export function Loading({ children = "Loading…" }: { children?: ReactNode }) {
  return (
    <p className="loading" role="status">
      {children}
    </p>
  );
}
