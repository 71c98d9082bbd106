import { render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ErrorBoundary } from "./ErrorBoundary";

function Boom(): never {
  throw new Error("profiles is undefined");
}

describe("ErrorBoundary", () => {
  it("shows the error and a way out instead of a blank screen", () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    render(
      <ErrorBoundary>
        <Boom />
      </ErrorBoundary>,
    );
    expect(screen.getByRole("alert").textContent).toContain("profiles is undefined");
    expect(screen.getByRole("button", { name: "Reload the page" })).toBeTruthy();
  });
});
