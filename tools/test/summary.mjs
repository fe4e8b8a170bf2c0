// The closing lines of ./test.sh: totals over every test assembly's TRX file and the Python tests, and every
// skipped test with its reason. Node only (it is on every machine the README's commands run on).
//   node tools/test/summary.mjs RESULTS_DIR [PYTHON_RESULT_FILE]
// PYTHON_RESULT_FILE holds "passed failed skipped not-installed" and, on later lines, "skip: reason".
// Exit code: 1 when a test failed, none passed, or (CI=true) any test was skipped. Two kinds of skip are
// listed but do not fail CI: a test whose reason starts with "hardware: " (what no CI runner has: an audio
// input device), and the Python tests when PyTorch is not installed (a training tool the test run must never
// need).
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const [resultsDir, pythonFile] = process.argv.slice(2);
const decode = (s) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&amp;/g, "&");

let passed = 0;
let failed = 0;
let total = 0;
let executed = 0;
const skips = [];
let hardware = 0;
for (const name of existsSync(resultsDir) ? readdirSync(resultsDir) : []) {
  if (!name.endsWith(".trx")) continue;
  const trx = readFileSync(join(resultsDir, name), "utf8");
  const counters = trx.match(/<Counters [^>]*>/);
  if (counters) {
    const attr = (a) => Number((counters[0].match(new RegExp(` ${a}="(\\d+)"`)) || [0, 0])[1]);
    total += attr("total");
    executed += attr("executed");
    passed += attr("passed");
    failed += attr("failed");
  }
  for (const m of trx.matchAll(/<UnitTestResult [^>]*testName="([^"]*)"[^>]*outcome="NotExecuted"[^>]*>([\s\S]*?)<\/UnitTestResult>/g)) {
    const reason = decode((m[2].match(/<Message>([\s\S]*?)<\/Message>/) || [, "(no reason given)"])[1]).trim();
    if (reason.startsWith("hardware: ")) hardware++;
    skips.push(`${decode(m[1])}: ${reason}`);
  }
}
let python = "";
let notInstalled = 0;
if (pythonFile && existsSync(pythonFile)) {
  const [counts, ...reasons] = readFileSync(pythonFile, "utf8").trim().split("\n");
  const [p, f, s, n] = counts.split(" ").map(Number);
  notInstalled = n;
  passed += p;
  failed += f;
  total += p + f + s + n;
  executed += p + f;
  python = ` (Python: ${p} passed, ${f} failed, ${s + n} skipped)`;
  for (const r of reasons) if (r.startsWith("skip: ")) skips.push(`tools/model (Python): ${r.slice(6)}`);
}
const skipped = total - executed;
if (skips.length > 0) {
  console.log(`== skipped (${skipped}):`);
  for (const s of skips) console.log(`  ${s}`);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped${python}`);
if (failed > 0) process.exit(1);
if (passed === 0) {
  console.error("test.sh: no test ran");
  process.exit(1);
}
if (process.env.CI === "true" && skipped - notInstalled - hardware > 0) {
  console.error(
    `test.sh: CI=true and ${skipped - notInstalled - hardware} test(s) skipped for want of data or tools (listed above): under CI every test must run; give the run what they need.`
  );
  process.exit(1);
}
