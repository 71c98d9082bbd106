import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { DateRange } from "./DateRange";

function Range() {
  const [from, setFrom] = useState("2026-12-01");
  const [to, setTo] = useState("2026-12-03");
  return <DateRange from={from} to={to} onFrom={setFrom} onTo={setTo} />;
}

describe("DateRange", () => {
  it("bounds each day by the other and keeps the last day when a field is cleared", () => {
    render(<Range />);
    const from = screen.getByLabelText("From") as HTMLInputElement;
    const to = screen.getByLabelText("To") as HTMLInputElement;
    expect([from.max, to.min]).toEqual(["2026-12-03", "2026-12-01"]);
    fireEvent.change(from, { target: { value: "2026-11-20" } });
    expect(from.value).toBe("2026-11-20");
    expect(to.min).toBe("2026-11-20");
    fireEvent.change(to, { target: { value: "" } });
    expect(to.value).toBe("2026-12-03");
    expect(from.max).toBe("2026-12-03");
  });
});
