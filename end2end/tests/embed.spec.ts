import { test, expect } from "./fixtures";

test("the bell embedded in another origin's page works with a token and CORS", async ({ page, belfry, host }) => {
  await belfry.publish({ user_id: "7", message: "Waiting for you" });
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}`);
  const bell = page.getByRole("button", { name: "Notifications, 1 unread" });
  await expect(bell).toBeVisible({ timeout: 15_000 });

  await belfry.publish({ user_id: "7", message: "Pushed across origins" });
  await expect(page.getByRole("button", { name: "Notifications, 2 unread" })).toBeVisible();
  await page.getByRole("button", { name: /Notifications/ }).click();
  await expect(page.getByRole("menuitem").first()).toContainText("Pushed across origins");
});

test("from an origin that is not allowed, the embedded bell fails visibly", async ({ page, belfry, host }) => {
  await page.goto(`${host.otherOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}`);
  await expect(page.getByRole("alert")).toContainText("Notifications are unavailable", { timeout: 15_000 });
});
