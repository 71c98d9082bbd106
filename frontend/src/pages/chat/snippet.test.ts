import { describe, expect, it } from "vitest";
import { snippetParts } from "./snippet";

describe("snippetParts", () => {
  it("splits marked words from text and unescapes both", () => {
    expect(snippetParts("Tell me about &lt;<mark>volcanoes</mark>&gt; &amp; <mark>lava</mark>")).toEqual([
      { text: "Tell me about <", marked: false },
      { text: "volcanoes", marked: true },
      { text: "> & ", marked: false },
      { text: "lava", marked: true },
    ]);
  });

  it("keeps markup that was escaped as text", () => {
    expect(snippetParts("&lt;script&gt;x&lt;/script&gt;")).toEqual([{ text: "<script>x</script>", marked: false }]);
    expect(snippetParts("")).toEqual([]);
  });
});
