// The bell embedded in a page of another origin (examples/embed.html, served by the host site).
import { test, expect } from "./fixtures";

test("embed: works from an allowed origin with a token and CORS", async ({ page, belfry, host }) => {
  await belfry.publish({ user_id: "7", message: "Waiting for you" });
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}`);
  await expect(page.getByRole("button", { name: "Notifications, 1 unread" })).toBeVisible({ timeout: 15_000 });

  await belfry.publish({ user_id: "7", message: "Pushed across origins" });
  await expect(page.getByRole("button", { name: "Notifications, 2 unread" })).toBeVisible();
  await page.getByRole("button", { name: /Notifications/ }).click();
  await expect(page.getByRole("menuitem").first()).toContainText("Pushed across origins");
});

test("embed: from an origin that is not allowed, it fails visibly", async ({ page, belfry, host }) => {
  await page.goto(`${host.otherOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}`);
  await expect(page.getByRole("alert")).toContainText("Notifications are unavailable", { timeout: 15_000 });
});

test("token expiry: the widget gets a fresh token from token-url and misses nothing meanwhile", async ({ page, belfry, host }) => {
  // Hold the token URL's answer until a notification was published in the gap.
  let publishedInGap: () => void = () => {};
  const gap = new Promise<void>((resolve) => (publishedInGap = resolve));
  let renewing = false;
  await page.route("**/token?**", async (route) => {
    renewing = true;
    await gap;
    await route.continue();
  });
  const tokenUrl = encodeURIComponent(`${host.allowedOrigin}/token?user=7&ttl=600`);
  // A token of one second: the server ends the stream when it expires (plus its 5 s leeway).
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7", 1)}&token-url=${tokenUrl}`);
  const bell = page.getByRole("button", { name: /Notifications/ });
  await expect(bell).toHaveAccessibleName("Notifications, none unread", { timeout: 15_000 });
  await belfry.publish({ user_id: "7", message: "Before expiry" });
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");

  await expect.poll(() => renewing, { timeout: 30_000 }).toBe(true);
  await belfry.publish({ user_id: "7", message: "Published while renewing" });
  publishedInGap();

  await expect(bell).toHaveAccessibleName("Notifications, 2 unread", { timeout: 30_000 });
  await bell.click();
  await expect(page.getByRole("menuitem", { name: /Published while renewing/ })).toHaveCount(1);
  expect(host.tokensMinted()).toBeGreaterThan(0);
});
