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
    const indent = (name: string) => parseFloat((screen.getByRole("button", { name }).closest("li") as HTMLElement).style.paddingInlineStart);
    expect(indent("a1")).toBeGreaterThan(indent("project4"));
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "project4" }));
    expect(onSelect).toHaveBeenLastCalledWith("project");
    await user.click(screen.getByRole("button", { name: /All documents/ }));
    expect(onSelect).toHaveBeenLastCalledWith(null);
  });

  it("renames a folder from the keyboard: the path is edited in place, Escape gives up", async () => {
    const onRename = vi.fn();
    render(<FolderTree folders={FOLDERS} selected={null} onSelect={vi.fn()} onRename={onRename} />);
    const user = userEvent.setup();
    const rename = screen.getByRole("button", { name: "Rename or move folder project/a" });
    rename.focus();
    await user.keyboard("{Enter}");
    expect(rename.getAttribute("aria-expanded")).toBe("true");
    const input = screen.getByLabelText(/New path for project\/a/) as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    expect(input.value).toBe("project/a");
    await user.keyboard("{Escape}");
    expect(screen.queryByLabelText(/New path for project\/a/)).toBeNull();
    expect(document.activeElement).toBe(rename);
    expect(onRename).not.toHaveBeenCalled();

    await user.keyboard("{Enter}");
    await user.clear(screen.getByLabelText(/New path for project\/a/));
    await user.keyboard("archive/a/{Enter}");
    expect(onRename).toHaveBeenCalledWith("project/a", "archive/a");
    expect(screen.queryByLabelText(/New path for/)).toBeNull();
    // The same path, or none, moves nothing.
    await user.click(screen.getByRole("button", { name: "Rename or move folder project" }));
    await user.keyboard("{Enter}");
    expect(onRename).toHaveBeenCalledTimes(1);
  });

  it("offers no rename without a handler, and none while a move runs", () => {
    const { rerender } = render(<FolderTree folders={FOLDERS} selected={null} onSelect={vi.fn()} />);
    expect(screen.queryByRole("button", { name: /Rename or move/ })).toBeNull();
    rerender(<FolderTree folders={FOLDERS} selected={null} onSelect={vi.fn()} onRename={vi.fn()} busy />);
    const buttons = screen.getAllByRole("button", { name: /Rename or move/ });
    expect(buttons).toHaveLength(3);
    expect(buttons.every((b) => (b as HTMLButtonElement).disabled)).toBe(true);
  });
});
