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

/**
 * Opens a branch's page and waits until its conversation and sandbox panels can be used:
 * their code loads after the rest of the page, and `body[data-hydrated]` comes before it.
 * The page's one event stream then follows the branch.
 */
export async function openBranch(page: Page, path: string) {
  const followed = page.waitForRequest(/\/streams\/page\?branch=\d+&after=\d+$/);
  await openWorkspace(page, path);
  await page.locator('[data-testid="conversation"][data-hydrated]').waitFor();
  await page.locator('[data-testid="sandbox"][data-hydrated]').waitFor();
  await followed;
}

/** The sidebar entry of a repository. */
export function repositoryItem(page: Page, fullName: string) {
  return page.locator(`li[data-repository="${fullName}"]`);
}

/** The sandboxed repository, added on first use: several spec files share it. */
export async function sandboxedRepositoryAdded(request: APIRequestContext) {
  const { repositories } = await call(request, "get_workspace", {});
  const added = repositories.find((r: { name: string }) => r.name === "app");
  return added ?? call(request, "add_git_repository", { url: sandboxedRepository });
}

/** Makes a branch of the sandboxed repository and returns the path of its page. */
export async function newBranch(request: APIRequestContext, name: string, agent = "claude-code") {
  const repository = await sandboxedRepositoryAdded(request);
  const model = { "claude-code": "sonnet", codex: "gpt-5.4", opencode: "opencode/big-pickle" }[agent];
  const branch = await call(request, "create_branch", {
    repository_id: repository.id,
    name,
    base_branch: "main",
    agent,
    model,
  });
  return { id: branch.id as number, path: `/r/${repository.owner}/app/${name}` };
}

/** Stores one of the agents' keys through the settings form, as the page posts it. */
export async function setAgentKey(request: APIRequestContext, kind: string, value: string) {
  const response = await request.post("/api/set_agent_key", { form: { kind, value } });
  expect(response.ok(), `set_agent_key: ${await response.text()}`).toBeTruthy();
}
