// The status lines screens show: a confirmation of what just happened ("Settings saved.") and
// the line shown while a screen's data arrives (role="status": a screen reader announces them
// without moving focus), and a form's own error (role="alert").

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

/** A form's error in words (an API error has `ErrorAlert`); nothing without one. */
export function FormError({ message }: { message: string | null }) {
  return message ? (
    <div role="alert" className="alert error">
      {message}
    </div>
  ) : null;
}
