import { describe, expect, it } from "vitest";
import { effectiveModel, lastChoice, rememberChoice } from "./model";

describe("effectiveModel", () => {
  it("follows the server's rule: conversation, profile, preferences, catalog; blanks skipped", () => {
    expect(effectiveModel({ conversation: "c", profile: "p", preferences: "u", catalog: "d" })).toBe("c");
    expect(effectiveModel({ conversation: "", profile: "p", preferences: "u", catalog: "d" })).toBe("p");
    expect(effectiveModel({ profile: null, preferences: "u", catalog: "d" })).toBe("u");
    expect(effectiveModel({ catalog: "d" })).toBe("d");
    expect(effectiveModel({})).toBe("");
  });
});

describe("lastChoice", () => {
  it("is empty at first, then keeps what was remembered, field by field", () => {
    expect(lastChoice()).toEqual({ profile: "", model: "" });
    rememberChoice({ profile: "p1" });
    rememberChoice({ model: "claude" });
    expect(lastChoice()).toEqual({ profile: "p1", model: "claude" });
    rememberChoice({ model: "" });
    expect(lastChoice()).toEqual({ profile: "p1", model: "" });
  });

  it("ignores a damaged entry", () => {
    localStorage.setItem("ragenie.chat.last", "{not json");
    expect(lastChoice()).toEqual({ profile: "", model: "" });
    localStorage.setItem("ragenie.chat.last", JSON.stringify({ profile: 3, model: ["x"] }));
    expect(lastChoice()).toEqual({ profile: "", model: "" });
  });
});
