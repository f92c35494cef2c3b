// What a browser downloads: bytes transferred (headers and encoded bodies, as Chromium reports
// them; the bundles apart) for a cold load and a warm reload of the SSR page (signed in, with its hydrate bundle)
// and of examples/embed.html on another origin (the embed). Debian's Chromium through
// Playwright, as the journeys use it. Prints one JSON line per page for bench/results.jsonl.
//   node bench/assets.mjs --server URL --host URL --token JWT --label NAME
import { createRequire } from "node:module";

const require = createRequire(new URL("../end2end/package.json", import.meta.url));
const { chromium } = require("@playwright/test");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
// The bundles: the files whose names carry a content hash (embed.js, the loader, keeps its name
// and is revalidated: a 304 on a warm reload, counted with the page).
const bundle = /-[0-9a-f]{16}(_bg)?\.(wasm|js|css)(\?|$)/;

/** Loads `url` in `page` until the bell is up; the bytes its responses took, in all and bundles. */
async function load(page, url, reload) {
  const responses = [];
  const listener = (response) => {
    // The event stream never ends: its bytes are not part of a page load.
    if (!response.url().includes("/notifications/stream")) responses.push(response);
  };
  page.on("response", listener);
  if (reload) await page.reload({ waitUntil: "load" });
  else await page.goto(url, { waitUntil: "load" });
  await page.getByRole("button", { name: /^Notifications, / }).waitFor({ timeout: 30_000 });
  // The bell has mounted: its list requests are answered.
  await page.waitForTimeout(0);
  page.off("response", listener);
  let all = 0;
  let bundles = 0;
  for (const response of responses) {
    const sizes = await sizesOf(response);
    if (!sizes) continue;
    // A response from the browser's cache reports its body as minus its headers: 0 on the wire.
    const bytes = Math.max(0, sizes.responseBodySize + sizes.responseHeadersSize);
    all += bytes;
    if (bundle.test(response.url())) bundles += bytes;
  }
  return { all, bundles };
}

/**
 * The request's sizes, or `null` when Chromium has not said within 10 s; named on stderr. (Once
 * this script stalled a whole run without an error, on a load where every step but this one has
 * its own timeout; which request it waited for was not caught.)
 */
async function sizesOf(response) {
  const never = new Promise((resolve) => setTimeout(resolve, 10_000, null).unref());
  const sizes = await Promise.race([response.request().sizes(), never]);
  if (!sizes) console.error(`assets: no sizes for ${response.url()} within 10 s; not counted`);
  return sizes;
}

// However the browser behaves, the benchmark run goes on.
setTimeout(() => {
  console.error("assets: gave up after 5 minutes");
  process.exit(1);
}, 300_000).unref();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const pages = {
  ssr: `${args.server}/`,
  embed: `${args.host}/embed.html?server=${encodeURIComponent(args.server)}&token=${args.token}`,
};
for (const [name, url] of Object.entries(pages)) {
  const context = await browser.newContext();
  await context.addCookies([{ name: "belfry_token", value: args.token, url: args.server }]);
  const page = await context.newPage();
  const cold = await load(page, url, false);
  const warm = await load(page, url, true);
  console.log(
    JSON.stringify({
      scenario: "assets",
      target: args.label,
      page: name,
      cold_bytes: cold.all,
      cold_bundle_bytes: cold.bundles,
      warm_bytes: warm.all,
      warm_bundle_bytes: warm.bundles,
    }),
  );
  await context.close();
}
await browser.close();
