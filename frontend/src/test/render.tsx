// Rendering for component tests: a screen in a memory router opened at a path, inside the
// AuthProvider where it needs one (as main.tsx mounts the app).
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter, Route, Routes } from "react-router";
import { AuthProvider } from "../auth";

/** `ui` in a router at `path`; with `auth`, inside the AuthProvider. */
export function renderInRouter(path: string, ui: ReactNode, { auth = false }: { auth?: boolean } = {}) {
  return render(<MemoryRouter initialEntries={[path]}>{auth ? <AuthProvider>{ui}</AuthProvider> : ui}</MemoryRouter>);
}

/** The routes `{ pattern: element }` in a router at `path`, as renderInRouter. */
export function renderRoutes(path: string, routes: Record<string, ReactNode>, options?: { auth?: boolean }) {
  return renderInRouter(
    path,
    <Routes>
      {Object.entries(routes).map(([pattern, element]) => (
        <Route key={pattern} path={pattern} element={element} />
      ))}
    </Routes>,
    options,
  );
}
