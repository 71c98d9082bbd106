// The signed-in account as the shell needs it: who it is, whether it is an admin, and whether it
// may act at all (an account waiting for approval or suspended gets 403 on every call; the
// shell then shows that instead of screens that cannot load).

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, standingOf, type Standing } from "./api/client";
import { auth } from "./api/endpoints";
import type { Me } from "./api/models";
import { ApiError } from "./api/problem";

export interface AccountState {
  me: Me | undefined;
  /** Set once the server said so: `pending` or `suspended` block the app. */
  standing: Standing | "active" | undefined;
  /** Loading `me` failed for another reason. */
  error: unknown;
  isAdmin: boolean;
  reload: () => Promise<void>;
}

/** How often a waiting account asks whether an admin approved it. */
export const PENDING_POLL_MS = 10_000;

const AccountContext = createContext<AccountState | null>(null);

export function AccountProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | undefined>(undefined);
  const [standing, setStanding] = useState<AccountState["standing"]>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  const reload = useCallback(async () => {
    try {
      const account = await auth.me();
      setMe(account);
      setStanding("active");
      setError(undefined);
    } catch (e) {
      const said = e instanceof ApiError && e.status === 403 ? standingOf(e.problem) : undefined;
      if (said) setStanding(said);
      else setError(e);
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  // Any request may be the first to learn that the account was suspended.
  useEffect(() => api.onStanding(setStanding), []);

  useEffect(() => {
    if (standing !== "pending") return;
    const timer = setInterval(() => void reload(), PENDING_POLL_MS);
    return () => clearInterval(timer);
  }, [standing, reload]);

  const value = useMemo(
    () => ({ me, standing, error, isAdmin: standing === "active" && me?.role === "admin", reload }),
    [me, standing, error, reload],
  );
  return <AccountContext.Provider value={value}>{children}</AccountContext.Provider>;
}

export function useAccount(): AccountState {
  const value = useContext(AccountContext);
  if (!value) throw new Error("useAccount outside AccountProvider");
  return value;
}
