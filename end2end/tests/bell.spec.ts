import { test, expect } from "./fixtures";

test("the bell arrives server-rendered with the user's notifications, then hydrates and goes live", async ({ page, context, belfry }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await belfry.publish({ user_id: "1", message: "Rendered by the server", link: "/orders/7" });
  await context.addCookies([{ name: "belfry_token", value: belfry.token("1"), url: belfry.url }]);

  const response = await page.goto(belfry.url);
  expect(response?.status()).toBe(200);
  // In the HTML itself, before any script ran.
  const html = await response!.text();
  expect(html).toContain("Rendered by the server");
  expect(html).toContain('aria-label="Notifications, 1 unread"');

  const bell = page.getByRole("button", { name: /Notifications, \d+ unread/ });
  // Only a hydrated page reacts to the click; retried until the WASM has taken over.
  await expect(async () => {
    await bell.click();
    await expect(bell).toHaveAttribute("aria-expanded", "true", { timeout: 500 });
  }).toPass({ timeout: 15_000 });
  await expect(page.getByRole("menuitem", { name: /Rendered by the server/ })).toBeVisible();

  // Live: published through the API, it appears at the top without a reload.
  await belfry.publish({ user_id: "1", message: "Pushed live" });
  await expect(page.getByRole("menuitem").first()).toContainText("Pushed live", { timeout: 5_000 });
  await expect(bell).toHaveAccessibleName("Notifications, 2 unread");
  await page.setViewportSize({ width: 900, height: 420 });
  await page.screenshot({ path: "screenshots/bell.png" });
  expect(errors).toEqual([]);
});

test("the API answers beside the app", async ({ belfry }) => {
  const created = await belfry.publish({ user_id: "1", message: "hello" });
  expect(created.status).toBe(201);
  const list = await fetch(`${belfry.url}/notifications`, {
    headers: { Authorization: `Bearer ${belfry.token("1")}` },
  });
  expect(await list.json()).toMatchObject([{ user_id: "1", message: "hello" }]);
});
