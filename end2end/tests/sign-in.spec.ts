import { test, expect } from "@playwright/test";

// The second server of this run signs people in with GitHub OAuth (the fake GitHub
// approves at once, as if the user had clicked "Authorize").
const oauthServer = "http://127.0.0.1:3302";

test("a visitor signs in with GitHub, lands in the workspace and signs out", async ({ page }) => {
  await page.goto(`${oauthServer}/`);
  await expect(page).toHaveURL(`${oauthServer}/sign-in`);

  await page.getByRole("link", { name: "Sign in with GitHub" }).click();
  await expect(page).toHaveURL(`${oauthServer}/`);
  await expect(page.getByTestId("user-login")).toHaveText("octo");

  await page.getByLabel("User menu").click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(`${oauthServer}/sign-in`);
  await page.goto(`${oauthServer}/`);
  await expect(page).toHaveURL(`${oauthServer}/sign-in`);
});
