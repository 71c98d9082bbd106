// A signed-in session for component tests of the screens behind sign-in.
import { afterEach, beforeEach, vi } from "vitest";
import { api } from "../api/client";

/** Every test of the file runs signed in; after each, the session ends and stubbed globals (fetch…) go. */
export function signedInEachTest() {
  beforeEach(() => api.setTokens({ access_token: "a", refresh_token: "r" }));
  afterEach(() => {
    vi.unstubAllGlobals();
    api.setTokens(null);
  });
}
