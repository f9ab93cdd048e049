// Builds the Custom UI resource static/gitint/ (index.html there is written by hand):
//   gitint-forge.js       esbuild bundle of src/gitint-forge.js with @forge/bridge
//   app.css, app.js,      copies of the app's own static files (../static/...), so the frame
//   htmx-2.0.11.min.js    runs exactly what the Flask pages run
// The built files are committed (the demo runs without npm).
//
//   node build.mjs            write them into static/gitint/
//   node build.mjs --check    build into a temporary folder; exit 1 if any differs from
//                             static/gitint/ (someone changed src/ or ../static/ without a build)
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const resource = join(here, "static", "gitint");
const BUNDLE = "gitint-forge.js";
const COPIES = {
  "app.css": join(repo, "static", "app.css"),
  "app.js": join(repo, "static", "app.js"),
  "htmx-2.0.11.min.js": join(repo, "static", "vendor", "htmx-2.0.11.min.js"),
};

async function buildInto(folder) {
  await build({
    absWorkingDir: here,
    entryPoints: [join(here, "src", "gitint-forge.js")],
    outfile: join(folder, BUNDLE),
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2019",
    minify: true,
    sourcemap: false,
    legalComments: "eof",
    charset: "ascii",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
  for (const [name, source] of Object.entries(COPIES)) {
    await copyFile(source, join(folder, name));
  }
}

async function contentOf(file) {
  try {
    return await readFile(file);
  } catch {
    return null;
  }
}

if (process.argv.includes("--check")) {
  const folder = await mkdtemp(join(tmpdir(), "gitint-forge-"));
  try {
    await buildInto(folder);
    const stale = [];
    for (const name of [BUNDLE, ...Object.keys(COPIES)]) {
      const built = await contentOf(join(folder, name));
      const committed = await contentOf(join(resource, name));
      if (committed === null || !built.equals(committed)) {
        stale.push(relative(repo, join(resource, name)));
      }
    }
    if (stale.length) {
      console.error(`error: not rebuilt (run: npm run build --prefix forge): ${stale.join(", ")}`);
      process.exit(1);
    }
    console.log(`OK: ${relative(repo, resource)} is up to date`);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
} else {
  await buildInto(resource);
  console.log(`built ${relative(repo, resource)}: ${BUNDLE}, ${Object.keys(COPIES).join(", ")}`);
}
