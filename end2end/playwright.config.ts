import { defineConfig } from "@playwright/test";

// Debian's Chromium, never a downloaded browser (this machine cannot download one).
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const chromium = {
  browserName: "chromium" as const,
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: chromiumArgs,
  },
};

export default defineConfig<{ store: "sqlite" | "mongo" }>({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 5_000 },
  forbidOnly: !!process.env.CI,
  retries: 0,
  // Every test file starts its own belfry server on its own port and database (see
  // tests/fixtures.ts), so files can run side by side.
  workers: 2,
  reporter: process.env.CI ? "list" : [["list"], ["html", { open: "never" }]],
  use: {
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
  },
  // Journeys tagged @both run on both stores, @mongo only on MongoDB, the rest on SQLite.
  projects: [
    { name: "sqlite", grepInvert: /@mongo/, use: { ...chromium, store: "sqlite" } },
    { name: "mongo", grep: /@both|@mongo/, use: { ...chromium, store: "mongo" } },
  ],
});
