import { describe, expect, it } from "vitest";
import { effectiveModel } from "./model";

describe("effectiveModel", () => {
  it("follows the server's rule: conversation, profile, preferences, catalog; blanks skipped", () => {
    expect(effectiveModel({ conversation: "c", profile: "p", preferences: "u", catalog: "d" })).toBe("c");
    expect(effectiveModel({ conversation: "", profile: "p", preferences: "u", catalog: "d" })).toBe("p");
    expect(effectiveModel({ profile: null, preferences: "u", catalog: "d" })).toBe("u");
    expect(effectiveModel({ catalog: "d" })).toBe("d");
    expect(effectiveModel({})).toBe("");
  });
});
