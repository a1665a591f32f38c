// relto console: live updates of an object list from the collection's stream (DESIGN §10).
// Values are set with textContent only: objects come from partners and are never markup.
"use strict";
(function () {
  const table = document.getElementById("objects");
  if (!table || !table.dataset.stream || !window.EventSource) return;
  const body = table.tBodies[0];
  const status = document.getElementById("live-status");
  const words = JSON.parse(table.dataset.labelWords || "{}");
  const collection = table.dataset.stream.split("/")[3];
  const source = new EventSource(table.dataset.stream);
  const say = (text) => { if (status) status.textContent = text; };
  const rowOf = (id) =>
    Array.prototype.find.call(body.rows, (r) => r.dataset.id === id);
  const titleOf = (o) => {
    for (const k of ["name", "value", "pattern", "abstract", "content", "opinion", "path", "key", "user_id", "number"]) {
      if (typeof o[k] === "string" && o[k] !== "") return o[k].length > 120 ? o[k].slice(0, 120) + "…" : o[k];
      if (typeof o[k] === "number") return String(o[k]);
    }
    return o.id;
  };
  const cell = (row, text) => { const td = row.insertCell(-1); td.textContent = text; return td; };
  source.addEventListener("object", (e) => {
    let o;
    try { o = JSON.parse(e.data); } catch (_) { return; }
    if (!o || typeof o.id !== "string") return;
    const old = rowOf(o.id);
    if (old) old.remove();
    const row = body.insertRow(-1);
    row.dataset.id = o.id;
    row.className = "live";
    cell(row, o.type);
    const link = document.createElement("a");
    link.href = "/ui/objects/" + encodeURIComponent(o.id) + "?collection=" + encodeURIComponent(collection);
    link.textContent = titleOf(o);
    row.insertCell(-1).appendChild(link);
    cell(row, o.modified || o.created || "");
    cell(row, (o.object_marking_refs || []).map((m) => words[m] || m).join("; "));
    say("New: " + titleOf(o));
  });
  source.addEventListener("withdrawn", (e) => {
    let w;
    try { w = JSON.parse(e.data); } catch (_) { return; }
    const row = w && rowOf(w.id);
    if (row) row.remove();
    say("Withdrawn: " + (w && w.id));
  });
  source.addEventListener("open", () => { table.dataset.live = "open"; });
})();

// A file input with data-fills: its file's text goes into that textarea (a MISP export picked
// from disk), read in the browser; nothing is sent until the form is.
(function () {
  document.querySelectorAll("input[type=file][data-fills]").forEach((input) => {
    const target = document.getElementById(input.dataset.fills);
    if (!target) return;
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      if (!file) return;
      file.text().then((text) => { target.value = text; });
    });
  });
})();
