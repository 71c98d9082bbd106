import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { FolderTree } from "./FolderTree";

const FOLDERS = [
  { path: "", documents: 1, total: 5 },
  { path: "project", documents: 0, total: 4 },
  { path: "project/a", documents: 1, total: 1 },
  { path: "project/b", documents: 3, total: 3 },
];

describe("FolderTree", () => {
  it("shows every folder once, nested by depth, with its total count, and says which is chosen", async () => {
    const onSelect = vi.fn();
    render(<FolderTree folders={FOLDERS} selected="project/b" onSelect={onSelect} />);
    const nav = screen.getByRole("navigation", { name: "Folders" });
    const buttons = within(nav).getAllByRole("button");
    expect(buttons.map((b) => b.textContent)).toEqual(["All documents5", "project4", "a1", "b3"]);
    const b = screen.getByRole("button", { name: "b3" });
    expect(b.getAttribute("aria-current")).toBe("true");
    expect(screen.getByRole("button", { name: /All documents/ }).getAttribute("aria-current")).toBeNull();
    // Deeper folders are indented further.
    const indent = (name: string) => parseFloat((screen.getByRole("button", { name }).parentElement as HTMLElement).style.paddingInlineStart);
    expect(indent("a1")).toBeGreaterThan(indent("project4"));
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "project4" }));
    expect(onSelect).toHaveBeenLastCalledWith("project");
    await user.click(screen.getByRole("button", { name: /All documents/ }));
    expect(onSelect).toHaveBeenLastCalledWith(null);
  });
});
