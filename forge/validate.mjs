// Validates manifest.yml offline with @forge/manifest's own full validation, the one the Forge
// CLI runs (schema, modules, resources, remotes and their token scopes, permissions, ...).
//
//   node validate.mjs [path/to/manifest.yml]     exit 0: prints one OK line; 1: prints the errors
//   node validate.mjs --json                     prints the interpolated manifest as JSON
//
// ${VAR} values are interpolated from process.env for the variables listed under
// environment.variables; GITINT_BASE_URL is set to an example URL for the check.
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { validate } = require("@forge/manifest");

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes("--json");
const file = resolve(args.find((arg) => !arg.startsWith("--")) ?? resolve(here, "manifest.yml"));

process.env.GITINT_BASE_URL = "https://gitint.example.com";

const result = await validate(false, file); // false: the full validation, not the basic one
const errors = (result.errors ?? []).filter((error) => error.level !== "warning");
// One check of our own: a ${VAR} whose VAR is not under environment.variables is left as it is
// by the interpolator (and deployed literally), so nothing of that shape may remain.
const leftover = JSON.stringify(result.manifestObject?.typedContent ?? {}).match(/\$\{[^}]*\}/g);
for (const name of new Set(leftover ?? [])) {
  errors.push({ message: `${name} is not interpolated: list it under environment.variables` });
}
const warnings = (result.errors ?? []).filter((error) => error.level === "warning");
const where = (error) => `${file}:${error.line ?? 0}:${error.column ?? 0}`;

for (const warning of warnings) {
  console.error(`warning: ${where(warning)}: ${warning.message}`);
}
if (!result.success || errors.length) {
  for (const error of errors) {
    console.error(`error: ${where(error)}: ${error.message}`);
  }
  if (!errors.length) {
    console.error(`error: ${file}: validation failed without a message`);
  }
  process.exit(1);
}
if (json) {
  console.log(JSON.stringify(result.manifestObject.typedContent, null, 2));
} else {
  const modules = Object.values(result.manifestObject.typedContent.modules ?? {}).flat().length;
  console.log(`OK: ${file} is a valid Forge manifest (${modules} modules, @forge/manifest full validation)`);
}
