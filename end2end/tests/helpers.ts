import { expect, Page, APIRequestContext } from "@playwright/test";

/** The local git repository `.ci/e2e` made, with branches main and develop. */
export const localRepository = `${process.env.E2E_DIR}/repos/tools.git`;

/** A second local repository, with README.md and main.rs, for the sandbox tests. */
export const sandboxedRepository = `${process.env.E2E_DIR}/sandboxed/app.git`;

/** Calls a server function directly, for setting up what a test is not about. */
export async function call(request: APIRequestContext, name: string, args: object) {
  const response = await request.post(`/api/${name}`, { data: args });
  expect(response.ok(), `${name}: ${await response.text()}`).toBeTruthy();
  return response.json();
}

/** Opens the workspace and waits until the browser app has taken over the page. */
export async function openWorkspace(page: Page, path = "/") {
  await page.goto(path);
  await expect(page.getByTestId("user-login")).toHaveText("dev");
  await page.locator("body[data-hydrated]").waitFor();
}

/** The sidebar entry of a repository. */
export function repositoryItem(page: Page, fullName: string) {
  return page.locator(`li[data-repository="${fullName}"]`);
}
