import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ACTIONS_COLUMN, DataTable } from "./DataTable";
import { FormError, Loading, Notice } from "./Notice";

const files = [
  { name: "a.md", tokens: 12 },
  { name: "b.md", tokens: 7 },
];

function Files({ rows, withTokens = true }: { rows: typeof files; withTokens?: boolean }) {
  return (
    <DataTable
      columns={["Name", withTokens && { label: "Tokens", num: true }, ACTIONS_COLUMN]}
      rows={rows}
      empty="No files yet."
      row={(f) => (
        <tr key={f.name}>
          <td>{f.name}</td>
          {withTokens ? <td className="num">{f.tokens}</td> : null}
          <td>
            <button type="button">Delete</button>
          </td>
        </tr>
      )}
    />
  );
}

describe("DataTable", () => {
  it("heads its columns (numbers right-aligned, the actions column for screen readers only) and reflows its rows", () => {
    const { container } = render(<Files rows={files} />);
    const headers = [...container.querySelectorAll("thead th")];
    expect(headers.map((th) => th.textContent)).toEqual(["Name", "Tokens", "Actions"]);
    expect(headers.map((th) => th.className)).toEqual(["", "num", ""]);
    expect(headers[2].querySelector(".visually-hidden")?.textContent).toBe("Actions");
    const labels = [...container.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => (td as HTMLElement).dataset.label));
    expect(labels).toEqual([
      ["Name", "Tokens", ""],
      ["Name", "Tokens", ""],
    ]);
    expect(container.querySelector(".table-wrap.reflow table")).not.toBeNull();
  });

  it("leaves out a column given as false", () => {
    const { container } = render(<Files rows={files} withTokens={false} />);
    expect([...container.querySelectorAll("thead th")].map((th) => th.textContent)).toEqual(["Name", "Actions"]);
  });

  it("says there is nothing instead of an empty table, or shows nothing without an empty text", () => {
    const { container, rerender } = render(<Files rows={[]} />);
    expect(container.querySelector("table")).toBeNull();
    expect(screen.getByText("No files yet.").className).toBe("muted");
    rerender(<DataTable columns={["Name"]} rows={[]} row={() => null} />);
    expect(container.innerHTML).toBe("");
  });
});

describe("Notice and Loading", () => {
  it("announces a notice, and nothing while there is none", () => {
    const { container, rerender } = render(<Notice>{"Settings saved."}</Notice>);
    expect(screen.getByRole("status").textContent).toBe("Settings saved.");
    expect(screen.getByRole("status").className).toBe("alert ok");
    for (const nothing of [null, false, ""]) {
      rerender(<Notice>{nothing}</Notice>);
      expect(container.innerHTML).toBe("");
    }
  });

  it("announces loading, with its own words when given", () => {
    const { rerender } = render(<Loading />);
    expect(screen.getByRole("status").textContent).toBe("Loading…");
    rerender(<Loading>Loading the passage…</Loading>);
    expect(screen.getByRole("status").textContent).toBe("Loading the passage…");
  });
});

describe("FormError", () => {
  it("alerts with the message, and shows nothing without one", () => {
    const { container, rerender } = render(<FormError message="The two passwords differ." />);
    expect(screen.getByRole("alert").textContent).toBe("The two passwords differ.");
    expect(screen.getByRole("alert").className).toBe("alert error");
    rerender(<FormError message={null} />);
    expect(container.innerHTML).toBe("");
  });
});
