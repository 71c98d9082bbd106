import { describe, expect, it } from "vitest";
import type { Message } from "../../api/models";
import { activePath } from "./tree";

const m = (id: string, parent: string | null, role: Message["role"], t: number): Message => ({
  id,
  conversation_id: "c1",
  parent_id: parent,
  role,
  content: id,
  created_at: `2026-01-01T00:00:${String(t).padStart(2, "0")}Z`,
});

// u1 → a1, a1b (regenerated); a1 → u2; u1b is an edit of u1 with answer a3.
const TREE = [m("u1", null, "user", 1), m("a1", "u1", "assistant", 2), m("u2", "a1", "user", 3), m("a2", "u2", "assistant", 4), m("a1b", "u1", "assistant", 5), m("u1b", null, "user", 6), m("a3", "u1b", "assistant", 7)];

describe("activePath", () => {
  it("follows the newest branch at every fork by default", () => {
    expect(activePath(TREE).map((s) => s.message.id)).toEqual(["u1b", "a3"]);
  });

  it("follows the chosen sibling and reports the position among siblings", () => {
    const path = activePath(TREE, { "": 0 });
    expect(path.map((s) => s.message.id)).toEqual(["u1", "a1b"]);
    expect(path[0]).toMatchObject({ index: 0 });
    expect(path[0].siblings.map((s) => s.id)).toEqual(["u1", "u1b"]);
    expect(path[1].siblings.map((s) => s.id)).toEqual(["a1", "a1b"]);
    expect(activePath(TREE, { "": 0, u1: 0 }).map((s) => s.message.id)).toEqual(["u1", "a1", "u2", "a2"]);
  });

  it("ignores an out-of-range choice and orders siblings by time, not list order", () => {
    const shuffled = [...TREE].reverse();
    expect(activePath(shuffled, { "": 9 }).map((s) => s.message.id)).toEqual(["u1b", "a3"]);
  });

  it("treats a message whose parent is missing as a root and survives cycles", () => {
    expect(activePath([m("x", "gone", "user", 1)]).map((s) => s.message.id)).toEqual(["x"]);
    const cyc = [m("a", null, "user", 1), { ...m("b", "a", "assistant", 2) }, { ...m("a", "b", "user", 3) }];
    expect(activePath(cyc).length).toBeLessThan(5);
  });

  it("follows the conversation's head branch when the user chose nothing", () => {
    expect(activePath(TREE, {}, "a2").map((s) => s.message.id)).toEqual(["u1", "a1", "u2", "a2"]);
    // The user's choice wins over the head.
    expect(activePath(TREE, { "": 1 }, "a2").map((s) => s.message.id)).toEqual(["u1b", "a3"]);
  });
});
