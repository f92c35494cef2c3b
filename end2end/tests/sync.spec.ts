// Every tab in step: no gap between the first list and the stream at page load, and read state
// and removals made elsewhere reach an open tab.
import { test, expect, openApp, signIn } from "./fixtures";
import type { Belfry } from "./fixtures";
import type { Page } from "@playwright/test";

/** Holds the page's first stream request until `publish` has committed a notification. */
async function publishWhileTheStreamIsHeld(page: Page, belfry: Belfry, user: string, message: string) {
  let held = false;
  await page.route("**/notifications/stream**", async (route) => {
    if (!held) {
      held = true;
      const response = await belfry.publish({ user_id: user, message });
      expect(response.status).toBe(201);
    }
    await route.continue();
  });
}

test("page load: a notification committed before the stream opens shows once, without Refresh (SSR, empty list) @both", async ({ page, context, belfry }) => {
  await signIn(context, belfry, "1");
  await publishWhileTheStreamIsHeld(page, belfry, "1", "In the gap");
  const bell = await openApp(page, belfry);
  await expect(page.getByRole("menuitem", { name: /In the gap/ })).toHaveCount(1, { timeout: 15_000 });
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");
});

test("page load: the same for the embed", async ({ page, belfry, host }) => {
  await publishWhileTheStreamIsHeld(page, belfry, "7", "In the embed's gap");
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}`);
  const bell = page.getByRole("button", { name: /Notifications/ });
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread", { timeout: 15_000 });
  await bell.click();
  await expect(page.getByRole("menuitem", { name: /In the embed's gap/ })).toHaveCount(1);
});

test("read and removed elsewhere: a read by another program and a delete reach the open tab @both", async ({ page, context, belfry }) => {
  const [first] = await (await belfry.publish({ user_id: "1", message: "Read elsewhere" })).json();
  const [second] = await (await belfry.publish({ user_id: "1", message: "Deleted elsewhere" })).json();
  await belfry.publish({ user_id: "1", message: "Stays" });
  await signIn(context, belfry, "1");
  const bell = await openApp(page, belfry);
  await expect(bell).toHaveAccessibleName("Notifications, 3 unread");

  // Marked read through the API of the same server by "another tab" (a plain request).
  const read = await fetch(`${belfry.url}/notifications/${first._id}/read`, {
    method: "POST",
    headers: { Authorization: `Bearer ${belfry.token("1")}`, "X-Requested-With": "test" },
  });
  expect(read.status).toBe(204);
  await expect(bell).toHaveAccessibleName("Notifications, 2 unread");

  belfry.deleteDirectly(second._id);
  await expect(page.getByRole("menuitem", { name: /Deleted elsewhere/ })).toHaveCount(0);
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");
  await expect(page.getByRole("menuitem", { name: /Stays/ })).toHaveCount(1);
});
