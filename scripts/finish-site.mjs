// The last step of scripts/build-site.sh: gives the bundles content-hashed names (so a browser
// may keep them for good, and an upgrade can never pair an old cached bundle with a new
// server), points embed.js at them, records the names in target/site/manifest.json for the
// server, and writes a brotli and a gzip copy of every asset beside it (served by
// Accept-Encoding, so nothing is compressed per request).
//   node scripts/finish-site.mjs target/site
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const site = process.argv[2];
const hashOf = (...files) => {
  const hash = createHash("sha256");
  for (const file of files) hash.update(readFileSync(file));
  return hash.digest("hex").slice(0, 16);
};
const move = (from, to) => renameSync(path.join(site, from), path.join(site, to));

// The app's bundle: one name for its JS, WASM and CSS (the server reads it from the manifest).
const app = `belfry-${hashOf(...["js", "wasm", "css"].map((x) => path.join(site, "pkg", `belfry.${x}`)))}`;
for (const x of ["js", "wasm", "css"]) move(`pkg/belfry.${x}`, `pkg/${app}.${x}`);

// The embed's bundle, and the loader that names it (which keeps its own, unhashed, name).
const embedFiles = ["belfry-embed.js", "belfry-embed_bg.wasm"].map((f) => path.join(site, "embed", f));
const embed = `belfry-embed-${hashOf(...embedFiles)}`;
move("embed/belfry-embed.js", `embed/${embed}.js`);
move("embed/belfry-embed_bg.wasm", `embed/${embed}_bg.wasm`);
const loader = path.join(site, "embed.js");
const replace = (text, from, to) => {
  if (!text.includes(from)) throw new Error(`embed.js no longer names ${from}`);
  return text.split(from).join(to);
};
let text = readFileSync(loader, "utf8");
text = replace(text, "/embed/belfry-embed.js", `/embed/${embed}.js`);
text = replace(text, "/embed/belfry-embed_bg.wasm", `/embed/${embed}_bg.wasm`);
text = replace(text, "/pkg/belfry.css", `/pkg/${app}.css`);
writeFileSync(loader, text);
writeFileSync(path.join(site, "manifest.json"), JSON.stringify({ app, embed }, null, 2) + "\n");

// Compressed copies of everything the browser downloads.
const assets = [loader, ...["pkg", "embed"].flatMap((dir) => readdirSync(path.join(site, dir)).map((f) => path.join(site, dir, f)))];
for (const file of assets.filter((f) => !/\.(br|gz)$/.test(f) && statSync(f).isFile())) {
  const bytes = readFileSync(file);
  writeFileSync(`${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  writeFileSync(`${file}.gz`, gzipSync(bytes, { level: 9 }));
}
console.log(`site: ${app} (app), ${embed} (embed), brotli and gzip copies of ${assets.length} files`);
