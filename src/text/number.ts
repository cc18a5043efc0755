// Whole numbers as command lines give them.

/** A whole number written as decimal digits only (no sign, exponent, spaces or separators); null otherwise. */
export function parseWholeNumber(text: string): number | null {
  return /^\d+$/.test(text) ? Number(text) : null;
}
