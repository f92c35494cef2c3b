import { test, expect } from "./fixtures";

test("the server-rendered page hydrates: the button changes state in the browser", async ({ page, belfry }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));

  const response = await page.goto(belfry.url);
  expect(response?.status()).toBe(200);
  const bell = page.getByTestId("bell");
  // Server-rendered: present before any script ran.
  expect(await response?.text()).toContain('data-testid="bell"');
  await expect(bell).toHaveAttribute("aria-expanded", "false");

  // Only a hydrated page reacts to the click; retried until the WASM has taken over.
  await expect(async () => {
    await bell.click();
    await expect(bell).toHaveAttribute("aria-expanded", "true", { timeout: 500 });
  }).toPass({ timeout: 15_000 });
  await expect(bell).toHaveText("Notifications (open)");
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
