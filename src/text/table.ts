// Text tables: cells padded to their column's width. A cell wider than its
// column is kept whole (the row goes out of line rather than losing text).

export interface Column {
  width: number;
  /** numbers are right-aligned; default left */
  align?: 'left' | 'right';
}

/** One row: each cell padded to its column (cells beyond the columns as they are), joined by `gap`. */
export function tableRow(cells: readonly string[], columns: readonly Column[], gap = '  '): string {
  let out = '';
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    const col = columns[i];
    if (i > 0) out += gap;
    out += col === undefined ? c : col.align === 'right' ? c.padStart(col.width) : c.padEnd(col.width);
  }
  return out;
}

/** Left-aligned columns as wide as their widest cell. */
export function fitColumns(rows: ReadonlyArray<readonly string[]>): Column[] {
  const widths: number[] = [];
  for (const r of rows)
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  return widths.map((width) => ({ width }));
}
