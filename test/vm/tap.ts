// Reading node's test runner TAP output: which tests failed.

/** Test names that failed, from node's TAP: "file > suite > test". */
export function tapFailures(tap: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  for (const line of tap.split('\n')) {
    const sub = /^( *)# Subtest: (.*)$/.exec(line);
    if (sub) {
      stack.length = sub[1]!.length / 4;
      stack.push(sub[2]!);
      continue;
    }
    const nok = /^( *)not ok \d+ - (.*?)(?: # .*)?$/.exec(line);
    if (nok) {
      const depth = nok[1]!.length / 4;
      const pathTo = [...stack.slice(0, depth), nok[2]!];
      // a suite fails when a test in it does: keep the innermost names only
      const parent = pathTo.slice(0, -1).join(' > ');
      const i = names.indexOf(parent);
      if (i >= 0) names.splice(i, 1);
      if (!names.some((n) => n.startsWith(`${pathTo.join(' > ')} > `))) names.push(pathTo.join(' > '));
    }
  }
  return names;
}
