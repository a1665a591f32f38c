// The console in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
// playwright-core, against `relto serve` on a fresh data directory holding the README's
// coalition example. Screenshots of the main pages go to target/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const ROOT = resolve(import.meta.dirname, "../..");
const RELTO = process.env.RELTO_BIN || join(ROOT, "target/debug/relto");
const SHOTS = join(ROOT, "target/screenshots");
const COLL = "d95d9fbf-6ffc-4dfc-bd9a-3bc1bb34c0d4";
const SITREP1 = "report--12f79b63-4971-488a-8b45-e113ec0cd18d";
const SITREP2 = "report--9d8c7b6a-5f4e-4d3c-a2b1-0f9e8d7c6b5a";
const ADMIN_PASSWORD = "admin-browser-test";
const HOSTILE = `<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2">`;

// The demo passwords the realm file names (its "#   export RELTO_PW_…=…" lines).
const passwords = Object.fromEntries(
  readFileSync(join(ROOT, "examples/coalition.toml"), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("#   export RELTO_PW"))
    .flatMap((l) => l.replace("#   export ", "").trim().split(/\s+/))
    .map((kv) => kv.split("=")),
);
const PW = {
  "nis-analyst": passwords.RELTO_PW_NIS,
  "nis-releaser": passwords.RELTO_PW_NIS_REL,
  "nis-releaser-2": passwords.RELTO_PW_NIS_REL2,
  "dia-reader": passwords.RELTO_PW_DIA,
  "intcen-reader": passwords.RELTO_PW_INTCEN,
  admin: ADMIN_PASSWORD,
};

let dataDir, server, base, browser;

function relto(args, extraEnv = {}) {
  return execFileSync(RELTO, [...args, "--data-dir", dataDir], {
    env: { ...process.env, ...passwords, ...extraEnv },
    encoding: "utf8",
  });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "relto-browser-"));
  mkdirSync(SHOTS, { recursive: true });
  relto(["apply", join(ROOT, "examples/coalition.toml")]);
  relto(["import", "--collection", COLL, "--as", "nis-analyst", join(ROOT, "examples/situation-report.json")]);
  server = spawn(RELTO, ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"], {
    env: { ...process.env, RELTO_ADMIN_PASSWORD: ADMIN_PASSWORD },
    stdio: ["ignore", "pipe", "inherit"],
  });
  base = await new Promise((ok, fail) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/relto listening on (http:\/\/\S+)/);
      if (m) ok(m[1]);
    });
    server.on("exit", (code) => fail(new Error(`relto serve exited with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function signIn(account, context) {
  const ctx = context || (await browser.newContext());
  const page = await ctx.newPage();
  await page.goto(`${base}/ui/`);
  await page.getByLabel("Username").fill(account);
  await page.getByLabel("Password").fill(PW[account]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Collections" }).waitFor();
  return page;
}

async function taxii(account, path) {
  const resp = await fetch(`${base}/coalition/collections/${COLL}/${path}`, {
    headers: {
      accept: "application/taxii+json;version=2.1",
      authorization: "Basic " + Buffer.from(`${account}:${PW[account]}`).toString("base64"),
    },
  });
  assert.equal(resp.status, 200);
  return resp.json();
}

const shown = async (page, selector = "pre.json") =>
  JSON.parse(await page.locator(selector).first().textContent());

test("each kind of account signs in, with the keyboard too", async () => {
  for (const [account, role] of [
    ["nis-analyst", "analyst"],
    ["nis-releaser", "releaser"],
    ["dia-reader", "reader"],
    ["admin", "admin"],
  ]) {
    const page = await signIn(account);
    assert.match(await page.locator(".who").textContent(), new RegExp(`${account} · .* · ${role}`));
    assert.equal(await page.getByRole("link", { name: "Situation reports" }).count(), 1);
    if (account === "nis-analyst") await page.screenshot({ path: join(SHOTS, "collections.png") });
    await page.context().close();
  }
  // Keyboard only: the username field has focus, Tab reaches the password, Enter submits.
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/ui/`);
  await page.screenshot({ path: join(SHOTS, "sign-in.png") });
  await page.keyboard.type("dia-reader");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PW["dia-reader"]);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1, name: "Collections" }).waitFor();
  // A wrong password says so, and signs no one in.
  const other = await (await browser.newContext()).newPage();
  await other.goto(`${base}/ui/`);
  await other.getByLabel("Username").fill("dia-reader");
  await other.getByLabel("Password").fill("wrong");
  await other.getByRole("button", { name: "Sign in" }).click();
  await other.getByRole("alert").filter({ hasText: "Wrong username or password" }).waitFor();
  await ctx.close();
  await other.context().close();
});

test("the release matrix of the example report matches relto release-preview cell for cell", async () => {
  const cli = JSON.parse(relto(["release-preview", "--collection", COLL, SITREP1]));
  const page = await signIn("nis-releaser");
  await page.goto(`${base}/ui/objects/${SITREP1}?collection=${COLL}&as=usa-dia`);
  const detail = (d) =>
    d.decision === "redact" ? d.removed.join(", ") : d.decision === "deny" ? d.reason : "";
  const word = (d) => d.decision[0].toUpperCase() + d.decision.slice(1);
  const rows = async (id) =>
    page.locator(`#${id} tbody tr`).evaluateAll((trs) =>
      trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())),
    );
  const orgs = await rows("matrix-organizations");
  assert.deepEqual(
    orgs.map((r) => r.slice(0, 4)),
    cli.organizations.map((o) => [o.organization, o.account, word(o), detail(o)]),
  );
  const communities = await rows("matrix-communities");
  assert.deepEqual(communities, cli.communities.map((c) => [c.community, word(c), detail(c)]));
  // Header cells: the matrix is a real table.
  assert.equal(await page.locator("#matrix-organizations thead th[scope=col]").count(), 5);
  // The copy shown for the DIA is what the DIA reads over TAXII.
  const dia = (await taxii("dia-reader", `objects/${SITREP1}/`)).objects[0];
  assert.deepEqual(await shown(page, "#copy + pre.json"), dia);
  await page.screenshot({ path: join(SHOTS, "object-release-matrix.png"), fullPage: true });
  await page.context().close();
});

test("a NATO reader's console shows exactly what its TAXII read does", async () => {
  const page = await signIn("dia-reader");
  await page.goto(`${base}/ui/collections/${COLL}`);
  const served = (await taxii("dia-reader", "objects/")).objects;
  const listed = await page.locator("#objects tbody tr").evaluateAll((trs) => trs.map((t) => t.dataset.id));
  assert.deepEqual(listed, served.map((o) => o.id));
  await page.screenshot({ path: join(SHOTS, "collection.png"), fullPage: true });
  for (const object of served) {
    await page.goto(`${base}/ui/objects/${object.id}?collection=${COLL}`);
    assert.deepEqual(await shown(page), object, object.id);
    assert.equal(await page.getByText("Release matrix").count(), 0);
  }
  // An object it does not receive answers as one that does not exist.
  const resp = await page.goto(`${base}/ui/objects/${SITREP2}`);
  assert.equal(resp.status(), 404);
  await page.context().close();
});

test("two releasers approve a stage and a NATO reader sees the object appear live", async () => {
  relto(["import", "--collection", COLL, "--as", "nis-analyst", join(ROOT, "examples/situation-update.json")]);
  const situation = JSON.parse(
    relto(["plan", "create", "--as", "nis-analyst", join(ROOT, "examples/situation-plan.toml")], {
      RELTO_PASSWORD: PW["nis-analyst"],
    }),
  );
  const reader = await signIn("dia-reader");
  await reader.goto(`${base}/ui/collections/${COLL}`);
  await reader.locator("#objects[data-live=open]").waitFor();
  const before = await reader.locator("#objects tbody tr").count();
  assert.equal(await reader.locator(`tr[data-id="${SITREP2}"]`).count(), 0);
  for (const officer of ["nis-releaser", "nis-releaser-2"]) {
    const page = await signIn(officer);
    await page.goto(`${base}/ui/situations/${situation.id}`);
    await page.getByRole("link", { name: "Preview stage 1" }).click();
    await page.getByRole("heading", { name: "Preview of stage 1" }).waitFor();
    if (officer === "nis-releaser") {
      await page.screenshot({ path: join(SHOTS, "situation-preview.png"), fullPage: true });
    }
    await page.getByRole("button", { name: "Approve stage 1 as previewed" }).click();
    await page.getByRole("status").filter({ hasText: "Your approval is recorded" }).waitFor();
    if (officer === "nis-releaser") {
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await reader.locator(`tr[data-id="${SITREP2}"]`).count(), 0, "one signature releases nothing");
    }
    await page.context().close();
  }
  // No reload: the row arrives from the stream.
  await reader.locator(`tr[data-id="${SITREP2}"]`).waitFor({ timeout: 15000 });
  assert.ok((await reader.locator("#objects tbody tr").count()) > before);
  assert.match(await reader.locator("#live-status").textContent(), /New:/);
  await reader.screenshot({ path: join(SHOTS, "live-update.png"), fullPage: true });
  // What arrived is what TAXII now serves the reader.
  const served = (await taxii("dia-reader", "objects/")).objects.map((o) => o.id);
  const listed = await reader.locator("#objects tbody tr").evaluateAll((trs) => trs.map((t) => t.dataset.id));
  assert.deepEqual(new Set(listed), new Set(served));
  await reader.context().close();
});

test("partner values render as text and forms need their CSRF token", async () => {
  const indicator = {
    type: "indicator", spec_version: "2.1", id: "indicator--5e0c1d2a-3b4c-4d5e-8f60-718293a4b5c6",
    created: "2026-12-01T00:00:00.000Z", modified: "2026-12-01T00:00:00.000Z",
    name: HOSTILE, description: HOSTILE, pattern: "[ipv4-addr:value = '203.0.113.9']",
    pattern_type: "stix", valid_from: "2026-12-01T00:00:00Z",
  };
  const resp = await fetch(`${base}/coalition/collections/${COLL}/objects/`, {
    method: "POST",
    headers: {
      "content-type": "application/taxii+json;version=2.1",
      accept: "application/taxii+json;version=2.1",
      authorization: "Basic " + Buffer.from(`nis-analyst:${PW["nis-analyst"]}`).toString("base64"),
    },
    body: JSON.stringify({ objects: [indicator] }),
  });
  assert.equal(resp.status, 202);
  const page = await signIn("nis-analyst");
  let dialogs = 0;
  page.on("dialog", (d) => { dialogs += 1; d.dismiss(); });
  for (const url of [`/ui/collections/${COLL}?text=onerror`, `/ui/objects/${indicator.id}`]) {
    await page.goto(base + url);
    assert.equal(await page.locator("main img").count(), 0, url);
    assert.equal(await page.evaluate(() => window.pwned), undefined, url);
  }
  assert.equal(await page.locator("h1").textContent(), HOSTILE);
  assert.equal(dialogs, 0);
  // A form posted without its token (or with another) is refused; the session stays.
  const ctx = page.context();
  for (const form of [{}, { csrf: "0123456789abcdef0123456789abcdef" }]) {
    const r = await ctx.request.post(`${base}/ui/logout`, { form, maxRedirects: 0 });
    assert.equal(r.status(), 403);
  }
  await page.goto(`${base}/ui/`);
  assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 1);
  // Signing out with the form ends it.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Username").waitFor();
  await page.goto(`${base}/ui/collections/${COLL}`);
  await page.getByLabel("Username").waitFor();
  await ctx.close();
});

test("an analyst drafts objects from a report's text, checks them and posts them", async () => {
  const report =
    readFileSync(join(ROOT, "tests/fixtures/drafts/00-situation-report.txt"), "utf8") +
    `\nAnnex: ${HOSTILE} C2 at 45.77.12[.]3.\n`;
  const page = await signIn("nis-analyst");
  await page.getByRole("link", { name: "Situation reports" }).click();
  await page.getByRole("link", { name: "Draft objects from a report" }).click();
  await page.getByLabel("Report text").fill(report);
  await page.getByRole("button", { name: "Draft" }).click();
  const table = page.locator("#extractions");
  await table.waitFor();
  const rows = await table.locator("tbody tr").allTextContents();
  for (const want of ["North Atlantic Council", "Brussels", "KP", "45.77.12.3"]) {
    assert.ok(rows.some((r) => r.includes(want)), `${want} not among ${rows.join(" | ")}`);
  }
  // Each name is marked where the text says it; the hostile annex stays text.
  assert.equal(await page.locator('#marked-text mark[title="city:Brussels"]').count(), 1);
  assert.equal(await page.locator('#marked-text mark[title="ipv4-addr:45.77.12.3"]').textContent(), "45.77.12[.]3");
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.match(await page.locator("#marked-text").textContent(), /<script>window\.pwned=1<\/script>/);
  // The realm's default label, in words.
  assert.match(await page.locator("dl.facts").textContent(), /KOR:II \/\/ REL TO KOR/);
  const bundle = await shown(page, "#bundle");
  assert.equal(bundle.type, "bundle");
  await page.screenshot({ path: join(SHOTS, "draft.png"), fullPage: true });
  await page.getByRole("button", { name: /Post these objects/ }).click();
  const notice = await page.getByRole("status").textContent();
  assert.match(notice, /\d+ objects added, 0 already there, 0 refused/);
  // The report is in the collection, over TAXII too.
  const reportId = bundle.objects.at(-1).id;
  const envelope = await taxii("nis-analyst", `objects/${reportId}/`);
  assert.equal(envelope.objects[0].name, "SITREP 1: North Korean troop deployment to the Russian Federation");
  // A text that names nothing says so, and keeps what was typed.
  await page.goto(`${base}/ui/collections/${COLL}/draft`);
  await page.getByLabel("Report text").fill("Nothing of note happened.");
  await page.getByRole("button", { name: "Draft" }).click();
  await page.getByRole("alert").filter({ hasText: "nothing in the report names" }).waitFor();
  assert.equal(await page.getByLabel("Report text").inputValue(), "Nothing of note happened.");
  // A reader that may not write is not offered the page.
  const reader = await signIn("dia-reader");
  await reader.getByRole("link", { name: "Situation reports" }).click();
  assert.equal(await reader.getByRole("link", { name: "Draft objects from a report" }).count(), 0);
  const resp = await reader.goto(`${base}/ui/collections/${COLL}/draft`);
  assert.equal(resp.status(), 403);
  await page.context().close();
  await reader.context().close();
});

test("an analyst imports a MISP event from its file, checks the conversion and posts it", async () => {
  // Fixture 01 as KOR-NIS's own MISP would export it (its Orgc is KOR-NIS's identity), so
  // that the write rules let an analyst of KOR-NIS post it.
  const nis = "db2e697d-e68a-51da-8b0a-6edb5d2575a4";
  const event = readFileSync(join(ROOT, "tests/fixtures/misp/01-kimsuky-phishing.json"), "utf8")
    .replaceAll("11111111-2222-4333-8444-555555555555", nis)
    .replaceAll("3f1c2b00-", "af1c2b00-")
    .replaceAll("5e1b6c7a-0001", "ae1b6c7a-0001");
  const file = join(dataDir, "event.json");
  writeFileSync(file, event);
  const page = await signIn("nis-analyst");
  await page.getByRole("link", { name: "Situation reports" }).click();
  await page.getByRole("link", { name: "Import a MISP event" }).click();
  await page.getByLabel("A MISP event export (JSON file)").setInputFiles(file);
  await page.waitForFunction(() => document.getElementById("m-event").value.length > 100);
  await page.getByRole("button", { name: "Convert" }).click();
  const notes = await page.locator("#misp-notes").textContent();
  assert.match(notes, /KOR:II \/\/ REL TO KOR/);
  const types = await page.locator("#misp-objects tbody tr").allTextContents();
  for (const t of ["report", "indicator", "observed-data", "identity"]) {
    assert.ok(types.some((r) => r.startsWith(t)), `${t} not among ${types.join(" | ")}`);
  }
  const bundle = await shown(page, "#bundle");
  await page.screenshot({ path: join(SHOTS, "misp-import.png"), fullPage: true });
  await page.getByRole("button", { name: /Post these objects/ }).click();
  const notice = await page.getByRole("status").textContent();
  assert.match(notice, /\d+ objects added, 0 already there, 0 refused/);
  const report = bundle.objects.find((o) => o.type === "report");
  const envelope = await taxii("nis-analyst", `objects/${report.id}/`);
  assert.equal(envelope.objects[0].name, report.name);
  // Not MISP: said, and the pasted text is kept.
  await page.goto(`${base}/ui/collections/${COLL}/misp`);
  await page.getByLabel("MISP event JSON").fill("{broken");
  await page.getByRole("button", { name: "Convert" }).click();
  await page.getByRole("alert").filter({ hasText: "not MISP JSON" }).waitFor();
  assert.equal(await page.getByLabel("MISP event JSON").inputValue(), "{broken");
  // A reader may not.
  const reader = await signIn("dia-reader");
  const resp = await reader.goto(`${base}/ui/collections/${COLL}/misp`);
  assert.equal(resp.status(), 403);
  await page.context().close();
  await reader.context().close();
});
