// Who is signed in, shared with every screen; sign-in, sign-up and sign-out.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api } from "./api/client";
import { auth } from "./api/endpoints";

interface AuthState {
  signedIn: boolean;
  signIn(email: string, password: string): Promise<void>;
  signUp(email: string, password: string, invite?: string): Promise<void>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [signedIn, setSignedIn] = useState(api.signedIn);

  useEffect(() => api.onAuthChange(setSignedIn), []);

  const signIn = useCallback(async (email: string, password: string) => {
    api.setTokens(await auth.login(email, password));
  }, []);

  const signUp = useCallback(async (email: string, password: string, invite?: string) => {
    api.setTokens(await auth.register(email, password, invite));
  }, []);

  const signOut = useCallback(async () => {
    const refresh = api.refreshToken;
    try {
      if (refresh) await auth.logout(refresh);
    } catch {
      // The server may be gone or the session already revoked: signing out locally still holds.
    }
    api.setTokens(null);
  }, []);

  const value = useMemo(() => ({ signedIn, signIn, signUp, signOut }), [signedIn, signIn, signUp, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
