import { test, expect } from "@playwright/test";
import { call, localRepository, openWorkspace, repositoryItem } from "./helpers";

test("dev mode signs the developer in without a sign-in step", async ({ page }) => {
  await openWorkspace(page);
  await expect(page.getByRole("heading", { name: "Upstream Agents" })).toBeVisible();
});

test("a repository is added from GitHub through search", async ({ page }) => {
  await openWorkspace(page);
  await page.getByRole("button", { name: "+ Add" }).click();
  const dialog = page.getByRole("dialog", { name: "Add repository" });
  await dialog.getByLabel("Search your repositories").fill("widg");
  await expect(dialog.getByRole("listitem")).toHaveCount(1);
  await dialog.getByRole("button", { name: "Add octo-org/widgets" }).click();
  await expect(dialog).toBeHidden();
  await expect(repositoryItem(page, "octo-org/widgets")).toBeVisible();
});

test("a repository is added from a local git path", async ({ page }) => {
  await openWorkspace(page);
  await page.getByRole("button", { name: "+ Add" }).click();
  const dialog = page.getByRole("dialog", { name: "Add repository" });
  await dialog.getByRole("tab", { name: "Clone URL or path" }).click();
  await dialog.getByLabel("Clone URL or local path").fill("/no/such/place");
  await dialog.getByRole("button", { name: "Add repository" }).click();
  await expect(dialog.getByText("/no/such/place does not exist on the server")).toBeVisible();

  await dialog.getByLabel("Clone URL or local path").fill(localRepository);
  await dialog.getByRole("button", { name: "Add repository" }).click();
  await expect(dialog).toBeHidden();
  await expect(repositoryItem(page, "repos/tools")).toBeVisible();
});

test("a branch is created, renamed and deleted", async ({ page }) => {
  await call(page.request, "add_github_repository", { full_name: "octo-org/gadgets" });
  await openWorkspace(page);
  const repository = repositoryItem(page, "octo-org/gadgets");
  await repository.getByRole("button", { name: "New branch in octo-org/gadgets" }).click();
  const dialog = page.getByRole("dialog", { name: "New branch in octo-org/gadgets" });

  await dialog.getByLabel("Branch name").fill("bad..name");
  await dialog.getByRole("button", { name: "Create branch" }).click();
  await expect(dialog.getByText("cannot contain '..'")).toBeVisible();

  await dialog.getByLabel("Branch name").fill("feature/search");
  await dialog.getByLabel("Agent").selectOption("codex");
  await expect(dialog.getByLabel("Model")).toHaveValue("gpt-5.4");
  await dialog.getByRole("button", { name: "Create branch" }).click();
  await expect(page).toHaveURL(/\/r\/octo-org\/gadgets\/feature\/search$/);
  await expect(page.getByTestId("branch-name")).toHaveText("feature/search");
  await expect(repository.getByRole("link", { name: "feature/search" })).toBeVisible();

  // A deep link opens the same branch after a reload.
  await page.reload();
  await expect(page.getByTestId("branch-name")).toHaveText("feature/search");
  // The branch's facts, apart from the prompt box's agent picker.
  await expect(page.getByRole("definition").getByText("Codex")).toBeVisible();

  const actionsReady = page.locator('[data-testid="branch-actions"][data-hydrated]');
  await actionsReady.waitFor();
  await page.getByRole("button", { name: "Rename" }).click();
  const rename = page.getByRole("dialog", { name: "Rename branch" });
  await rename.getByLabel("New name").fill("feature/find");
  await rename.getByRole("button", { name: "Rename" }).click();
  await expect(page).toHaveURL(/\/r\/octo-org\/gadgets\/feature\/find$/);
  await expect(repository.getByRole("link", { name: "feature/find" })).toBeVisible();
  await expect(repository.getByRole("link", { name: "feature/search" })).toHaveCount(0);

  await actionsReady.waitFor();
  await page.getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete branch" });
  await confirm.getByRole("button", { name: "Delete branch" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(repository.getByText("No branches yet")).toBeVisible();
});

test("repositories reorder by drag and drop and keep their order after a reload", async ({ page }) => {
  for (const name of ["octo/sample-001", "octo/sample-002", "octo/sample-003"]) {
    await call(page.request, "add_github_repository", { full_name: name });
  }
  await openWorkspace(page);
  const names = () =>
    page.locator("li[data-repository]").evaluateAll((items) =>
      items.map((i) => i.getAttribute("data-repository")).filter((n) => n!.startsWith("octo/sample")),
    );
  expect(await names()).toEqual(["octo/sample-001", "octo/sample-002", "octo/sample-003"]);

  // A new order shows at once and is saved in the background: a reload before the save
  // has answered would cancel it.
  const save = () => page.waitForResponse((r) => r.url().endsWith("/api/reorder_repositories"));
  let saved = save();
  await repositoryItem(page, "octo/sample-003").dragTo(repositoryItem(page, "octo/sample-001"));
  await expect.poll(names).toEqual(["octo/sample-003", "octo/sample-001", "octo/sample-002"]);
  expect((await saved).ok(), "the dragged order is saved").toBeTruthy();

  // The keyboard way: Alt+Down on the repository's row.
  await repositoryItem(page, "octo/sample-003").getByRole("button", { name: "octo/sample-003", exact: true }).focus();
  saved = save();
  await page.keyboard.press("Alt+ArrowDown");
  await expect.poll(names).toEqual(["octo/sample-001", "octo/sample-003", "octo/sample-002"]);
  expect((await saved).ok(), "the moved order is saved").toBeTruthy();

  await page.reload();
  await expect.poll(names).toEqual(["octo/sample-001", "octo/sample-003", "octo/sample-002"]);

  // Moves made faster than they are saved: the last order is the one kept. The focus
  // stays on the moved row, so Alt+Down can be pressed again and again.
  await page.locator("body[data-hydrated]").waitFor();
  await repositoryItem(page, "octo/sample-001").getByRole("button", { name: "octo/sample-001", exact: true }).focus();
  await page.keyboard.press("Alt+ArrowDown");
  await page.keyboard.press("Alt+ArrowDown");
  const last = ["octo/sample-003", "octo/sample-002", "octo/sample-001"];
  await expect.poll(names).toEqual(last);
  const kept = async () => {
    const workspace = await call(page.request, "get_workspace", {});
    return workspace.repositories
      .map((r: { owner: string; name: string }) => `${r.owner}/${r.name}`)
      .filter((n: string) => n.startsWith("octo/sample"));
  };
  await expect.poll(kept).toEqual(last);
  await page.reload();
  await expect.poll(names).toEqual(last);
});

test("dark mode is remembered across a reload without a flash of light", async ({ page }) => {
  await openWorkspace(page);
  await page.getByRole("group", { name: "Theme" }).getByRole("button", { name: "Dark" }).click();
  await expect(page.locator("html")).toHaveClass(/dark/);

  // The class must already be there in the first paint, before the app hydrates.
  await page.route("**/pkg/upstream.wasm", (route) => route.abort());
  await page.reload();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.unroute("**/pkg/upstream.wasm");

  await openWorkspace(page);
  await expect(page.getByRole("button", { name: "Dark" })).toHaveAttribute("aria-pressed", "true");
  await page.getByRole("button", { name: "Light" }).click();
  await expect(page.locator("html")).not.toHaveClass(/dark/);
});

test.describe("on a phone", () => {
  test.use({ viewport: { width: 390, height: 800 } });

  test("the sidebar is a drawer that opens and closes", async ({ page }) => {
    await openWorkspace(page);
    const sidebar = page.locator("#sidebar");
    await expect(sidebar).not.toBeInViewport();
    await page.getByRole("button", { name: "Open menu" }).click();
    await expect(sidebar).toBeInViewport();
    await page.getByRole("button", { name: "Close menu" }).click();
    await expect(sidebar).not.toBeInViewport();
  });
});
