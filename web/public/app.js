// ocrpipe's web page: upload documents, follow each one's stage, show its word counts.
//
// It talks to the same HTTP API as every other client (/openapi.json): POST /uploads opens an
// upload (a presigned POST and the document's access token), GET /documents/{id} with that
// token gives the stage, totals and short-lived links to the text and counts. The page is
// served from the API's own origin (the local API at "/", CloudFront on AWS routing
// /uploads and /documents* to the APIs), so every address below is relative.
//
// No framework and no library: nothing is fetched from a CDN, nothing needs a build step.
"use strict";

(() => {
  const STORE_KEY = "ocrpipe.documents.v1";
  const MAX_TOKENS_PER_CALL = 100; // the status API's own limit (status/access.py)
  const POLL_MS = 1000;
  const SLOW_POLL_MS = 3000;
  const SLOW_AFTER_MS = 30000;
  const GIVE_UP_MS = 15 * 60 * 1000;
  const PAGE_ROWS = 200;
  const CHART_WORDS = 20;
  const TYPES_BY_EXTENSION = {
    png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg",
    tif: "image/tiff", tiff: "image/tiff", pdf: "application/pdf",
  };
  const FAILED = new Set(["rejected", "ocr_failed", "count_failed"]);
  const STAGE_WORDS = {
    uploading: "Uploading",
    waiting: "Uploaded, waiting to be checked",
    uploaded: "Reading the text",
    ocr_completed: "Counting the words",
    counted: "Counted",
    notified: "Counted and sent",
    rejected: "Rejected",
    ocr_failed: "Could not be read",
    count_failed: "Could not be counted",
    notification_failed: "Counted, but sending failed",
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  };
  const number = (n) => (typeof n === "number" ? n.toLocaleString() : "–");
  const bytes = (n) => (n < 1024 * 1024 ? `${Math.max(1, Math.round(n / 1024))} KB`
    : `${(n / 1024 / 1024).toFixed(1)} MB`);

  // -- the documents this browser uploaded (their tokens never leave it but to the API) ----

  const store = {
    all() {
      try {
        const kept = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
        return Array.isArray(kept) ? kept.filter((d) => d && d.id && d.token) : [];
      } catch (_) {
        return [];
      }
    },
    save(list) { localStorage.setItem(STORE_KEY, JSON.stringify(list)); },
    add(doc) { this.save([doc, ...this.all().filter((d) => d.id !== doc.id)]); },
    get(id) { return this.all().find((d) => d.id === id); },
    forget(id) { this.save(this.all().filter((d) => d.id !== id)); },
  };

  // -- the API -----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function explain(response) {
    let detail = "";
    try {
      const body = await response.json();
      detail = body.message || body.error || "";
    } catch (_) { /* not JSON */ }
    return new ApiError(detail || `The service answered ${response.status} ${response.statusText}.`,
      response.status);
  }

  async function call(path, { method = "GET", token, tokens, body } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (tokens) headers.Authorization = `Bearer ${tokens.join(",")}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(`Could not reach the service (${err.message}).`, 0);
    }
    if (!response.ok) throw await explain(response);
    return response.json();
  }

  function sendForm(url, fields, file, onProgress) {
    // XMLHttpRequest, not fetch: only it reports upload progress.
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append("file", file); // last: S3 ignores fields after the file
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else {
          const code = (xhr.responseText.match(/<Message>([^<]*)<\/Message>/) || [])[1];
          reject(new ApiError(`The upload was refused (${xhr.status}${code ? `: ${code}` : ""}).`,
            xhr.status));
        }
      });
      xhr.addEventListener("error", () => reject(new ApiError("The upload failed: the storage could not be reached.", 0)));
      xhr.addEventListener("abort", () => reject(new ApiError("The upload was cancelled.", 0)));
      xhr.send(form);
    });
  }

  // -- uploading ---------------------------------------------------------------------------

  function contentType(file) {
    if (file.type && Object.values(TYPES_BY_EXTENSION).includes(file.type)) return file.type;
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    return TYPES_BY_EXTENSION[ext] || file.type || "application/octet-stream";
  }

  function notifyFields() {
    const choice = document.querySelector('input[name="notify"]:checked').value;
    if (choice === "email") {
      const email = $("email").value.trim();
      if (!email) throw new Error("Enter the email address to send the result to, or choose “Show it here only”.");
      return { email };
    }
    if (choice === "webhook") {
      const url = $("webhook").value.trim();
      if (!url) throw new Error("Enter the webhook URL, or choose “Show it here only”.");
      return { webhook_url: url };
    }
    return {};
  }

  class UploadRow {
    constructor(file) {
      this.file = file;
      this.stage = "uploading";
      this.progress = el("progress", { max: 1, value: 0, "aria-label": `Upload of ${file.name}` });
      this.status = el("span", { class: "stage" }, STAGE_WORDS.uploading);
      this.reason = el("p", { class: "reason", hidden: true });
      this.open = el("button", { type: "button", class: "button small", hidden: true }, "Show result");
      this.node = el("li", { class: "upload", dataset: { stage: "uploading" } },
        el("div", { class: "upload-head" },
          el("span", { class: "name" }, file.name),
          el("span", { class: "size" }, bytes(file.size))),
        this.progress,
        el("div", { class: "upload-foot" }, this.status, this.open),
        this.reason);
    }

    show(stage, { words, reason } = {}) {
      this.stage = stage;
      this.node.dataset.stage = stage;
      let text = STAGE_WORDS[stage] || stage;
      if (typeof words === "number" && !FAILED.has(stage)) text += ` — ${number(words)} words`;
      this.status.textContent = text;
      if (reason) {
        this.reason.textContent = reason;
        this.reason.hidden = false;
      }
      if (stage !== "uploading") this.progress.hidden = true;
    }
  }

  async function uploadOne(row, extra) {
    const file = row.file;
    let grant;
    try {
      grant = await call("uploads", {
        method: "POST",
        body: { filename: file.name, content_type: contentType(file), size_bytes: file.size, ...extra },
      });
      await sendForm(grant.upload.url, grant.upload.fields, file, (done) => { row.progress.value = done; });
    } catch (err) {
      row.show("rejected", { reason: err.message });
      return;
    }
    row.progress.value = 1;
    store.add({ id: grant.document_id, token: grant.access_token, filename: file.name,
      uploaded_at: new Date().toISOString(), notify: Boolean(extra.email || extra.webhook_url) });
    row.show("waiting");
    renderMine();
    row.open.addEventListener("click", () => openResult(grant.document_id));
    await follow(grant.document_id, row);
  }

  function isDone(view, wantsNotification) {
    if (FAILED.has(view.stage) || view.stage === "notified" || view.stage === "notification_failed") return true;
    return view.stage === "counted" && !wantsNotification;
  }

  async function follow(id, row) {
    const doc = store.get(id);
    const started = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, Date.now() - started > SLOW_AFTER_MS ? SLOW_POLL_MS : POLL_MS));
      if (!store.get(id)) return; // forgotten meanwhile
      let view;
      try {
        view = await call(`documents/${encodeURIComponent(id)}`, { token: doc.token });
      } catch (err) {
        if (err.status === 404) { // not seen by the pipeline yet
          if (Date.now() - started > GIVE_UP_MS) {
            row.show("rejected", { reason: "The service has not picked this document up; try again later." });
            return;
          }
          continue;
        }
        row.status.textContent = `${STAGE_WORDS[row.stage]} (status unavailable: ${err.message})`;
        continue;
      }
      row.show(view.stage, { words: view.total_words, reason: view.failure_reason });
      if (view.total_words !== null && view.total_words !== undefined) row.open.hidden = false;
      if (isDone(view, doc.notify)) {
        renderMine();
        if ($("result").hidden && view.total_words !== null && view.total_words !== undefined) {
          openResult(id, { focus: false });
        }
        return;
      }
      if (Date.now() - started > GIVE_UP_MS) {
        row.status.textContent += " (still running; see My documents later)";
        return;
      }
    }
  }

  function chosenFiles() {
    return [...$("files").files, ...$("camera").files, ...dropped];
  }

  let dropped = [];

  function describeChosen() {
    const files = chosenFiles();
    $("chosen").textContent = files.length === 0 ? ""
      : `${files.length} file${files.length > 1 ? "s" : ""} chosen: ${files.map((f) => f.name).join(", ")}`;
  }

  async function onSubmit(event) {
    event.preventDefault();
    const error = $("form-error");
    error.hidden = true;
    const files = chosenFiles();
    let extra;
    try {
      if (files.length === 0) throw new Error("Choose at least one file first.");
      extra = notifyFields();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      return;
    }
    const language = $("language").value;
    if (language) extra.language = language;
    $("progress-heading").hidden = false;
    const list = $("uploads");
    const rows = files.map((f) => new UploadRow(f));
    for (const row of rows) list.prepend(row.node);
    $("upload-form").reset();
    dropped = [];
    describeChosen();
    toggleNotify();
    await Promise.all(rows.map((row) => uploadOne(row, extra)));
  }

  // -- one document's result ----------------------------------------------------------------

  const table = { words: [], sort: "count", descending: true, filter: "", shown: PAGE_ROWS };

  async function openResult(id, { focus = true } = {}) {
    const doc = store.get(id);
    const section = $("result");
    const error = $("result-error");
    if (!doc) return;
    section.hidden = false;
    error.hidden = true;
    $("result-heading").textContent = `Result: ${doc.filename}`;
    if (focus) section.focus();
    history.replaceState(null, "", `#/documents/${id}`);
    try {
      const view = await call(`documents/${encodeURIComponent(id)}`, { token: doc.token });
      showView(view);
      if (view.links && view.links["counts.json"]) {
        const response = await fetch(view.links["counts.json"], { cache: "no-store" });
        if (!response.ok) throw await explain(response);
        showCounts(await response.json());
      } else {
        showCounts(null);
      }
    } catch (err) {
      error.textContent = err.status === 404
        ? "The service does not know this document (any more)."
        : `Could not load the result: ${err.message}`;
      error.hidden = false;
    }
  }

  function showView(view) {
    const when = view.updated_at ? new Date(view.updated_at).toLocaleString() : "";
    const language = view.language ? `, language ${view.language}` : "";
    $("result-meta").textContent = `${STAGE_WORDS[view.stage] || view.stage}${language}${when ? ` — ${when}` : ""}`;
    if (view.failure_reason) {
      $("result-error").textContent = view.failure_reason;
      $("result-error").hidden = false;
    }
    $("total-words").textContent = number(view.total_words);
    $("unique-words").textContent = number(view.unique_words);
    $("characters").textContent = number(view.characters);
    const downloads = $("downloads");
    downloads.replaceChildren();
    const labels = { "text.txt": "Text (.txt)", "counts.json": "Counts (JSON)", "counts.csv": "Counts (CSV)" };
    for (const [name, label] of Object.entries(labels)) {
      const href = view.links && view.links[name];
      if (href) downloads.append(el("a", { class: "button secondary", href, download: "", dataset: { file: name } }, `Download ${label}`));
    }
  }

  function showCounts(result) {
    const warnings = $("warnings");
    warnings.replaceChildren();
    if (!result) {
      $("pages").textContent = "–";
      table.words = [];
      renderChart();
      renderTable();
      return;
    }
    $("pages").textContent = number((result.pages || []).length || null);
    for (const warning of result.warnings || []) warnings.append(el("li", {}, warning));
    table.words = Object.entries(result.counts || {});
    table.filter = "";
    $("word-search").value = "";
    table.shown = PAGE_ROWS;
    renderChart();
    renderTable();
  }

  const byCount = (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

  function renderChart() {
    const svg = $("chart");
    const ns = "http://www.w3.org/2000/svg";
    const top = [...table.words].sort(byCount).slice(0, CHART_WORDS);
    svg.replaceChildren();
    // Drawn at the width it is shown at, so its text stays readable on a phone.
    const rowHeight = 22;
    const width = Math.max(280, Math.round(svg.parentElement.clientWidth || 600));
    const labelWidth = Math.min(130, Math.round(width * 0.3));
    const height = Math.max(rowHeight, top.length * rowHeight);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    const most = top.length ? top[0][1] : 1;
    top.forEach(([word, count], i) => {
      const y = i * rowHeight;
      const barWidth = Math.max(2, ((width - labelWidth - 60) * count) / most);
      const g = document.createElementNS(ns, "g");
      g.setAttribute("class", "bar");
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", String(labelWidth - 8));
      label.setAttribute("y", String(y + 15));
      label.setAttribute("text-anchor", "end");
      const fits = Math.max(6, Math.floor(labelWidth / 8));
      label.textContent = word.length > fits ? `${word.slice(0, fits - 1)}…` : word;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", String(labelWidth));
      rect.setAttribute("y", String(y + 3));
      rect.setAttribute("width", String(barWidth));
      rect.setAttribute("height", String(rowHeight - 6));
      rect.setAttribute("rx", "2");
      const value = document.createElementNS(ns, "text");
      value.setAttribute("x", String(labelWidth + barWidth + 6));
      value.setAttribute("y", String(y + 15));
      value.setAttribute("class", "value");
      value.textContent = String(count);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${word}: ${count}`;
      g.append(title, label, rect, value);
      svg.append(g);
    });
    $("chart-desc").textContent = top.length
      ? `Bar chart. ${top.map(([w, c]) => `${w}: ${c}`).join(", ")}.`
      : "No words.";
  }

  function sortedWords() {
    const needle = table.filter.toLocaleLowerCase();
    let rows = needle ? table.words.filter(([w]) => w.toLocaleLowerCase().includes(needle)) : [...table.words];
    if (table.sort === "word") {
      rows.sort((a, b) => a[0].localeCompare(b[0]) || b[1] - a[1]);
    } else {
      rows.sort(byCount);
    }
    if (table.descending !== (table.sort === "count")) rows = rows.reverse();
    return rows;
  }

  function renderTable() {
    const rows = sortedWords();
    const body = $("words-table").tBodies[0];
    body.replaceChildren(...rows.slice(0, table.shown).map(([word, count]) =>
      el("tr", {}, el("td", {}, word), el("td", { class: "num" }, String(count)))));
    $("words-shown").textContent = table.words.length
      ? `${Math.min(rows.length, table.shown)} of ${rows.length} word${rows.length === 1 ? "" : "s"} shown`
      : "";
    $("more-words").hidden = rows.length <= table.shown;
    for (const th of $("words-table").tHead.rows[0].cells) {
      const key = th.querySelector("button").dataset.sort;
      th.setAttribute("aria-sort", key === table.sort ? (table.descending ? "descending" : "ascending") : "none");
    }
  }

  // -- my documents ---------------------------------------------------------------------------

  async function renderMine() {
    const kept = store.all();
    const list = $("mine");
    const error = $("mine-error");
    $("mine-empty").hidden = kept.length > 0;
    let views = [];
    error.hidden = true;
    try {
      for (let i = 0; i < kept.length; i += MAX_TOKENS_PER_CALL) {
        const tokens = kept.slice(i, i + MAX_TOKENS_PER_CALL).map((d) => d.token);
        views = views.concat((await call("documents", { tokens })).documents);
      }
    } catch (err) {
      error.textContent = `Could not load your documents: ${err.message}`;
      error.hidden = false;
    }
    const byId = new Map(views.map((v) => [v.document_id, v]));
    const ordered = [...kept].sort((a, b) => (b.uploaded_at || "").localeCompare(a.uploaded_at || ""));
    list.replaceChildren(...ordered.map((doc) => mineItem(doc, byId.get(doc.id))));
  }

  function mineItem(doc, view) {
    const when = doc.uploaded_at ? new Date(doc.uploaded_at).toLocaleString() : "";
    const state = view ? (STAGE_WORDS[view.stage] || view.stage) : "Not known to the service yet";
    const totals = view && typeof view.total_words === "number"
      ? `${number(view.total_words)} words, ${number(view.unique_words)} unique` : "";
    const open = el("button", { type: "button", class: "button small" }, "Open");
    open.setAttribute("aria-label", `Open ${doc.filename}`);
    open.addEventListener("click", () => openResult(doc.id));
    const forget = el("button", { type: "button", class: "button small secondary" }, "Forget");
    forget.setAttribute("aria-label", `Forget ${doc.filename}`);
    forget.addEventListener("click", () => {
      store.forget(doc.id);
      if (location.hash === `#/documents/${doc.id}`) {
        $("result").hidden = true;
        history.replaceState(null, "", location.pathname);
      }
      renderMine();
      $("mine-heading").focus();
    });
    return el("li", { class: "doc", dataset: { id: doc.id, stage: view ? view.stage : "unknown" } },
      el("div", { class: "doc-main" },
        el("span", { class: "name" }, doc.filename),
        el("span", { class: "meta" }, [state, totals, when].filter(Boolean).join(" · ")),
        view && view.failure_reason ? el("span", { class: "reason" }, view.failure_reason) : null),
      el("div", { class: "doc-actions" }, open, forget));
  }

  // -- wiring -----------------------------------------------------------------------------------

  function toggleNotify() {
    const choice = document.querySelector('input[name="notify"]:checked').value;
    $("email-field").hidden = choice !== "email";
    $("webhook-field").hidden = choice !== "webhook";
  }

  function init() {
    $("upload-form").addEventListener("submit", onSubmit);
    $("files").addEventListener("change", describeChosen);
    $("camera").addEventListener("change", describeChosen);
    for (const radio of document.querySelectorAll('input[name="notify"]')) radio.addEventListener("change", toggleNotify);
    const zone = $("drop-zone");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      dropped = dropped.concat([...e.dataTransfer.files]);
      describeChosen();
    });
    $("word-search").addEventListener("input", (e) => {
      table.filter = e.target.value.trim();
      table.shown = PAGE_ROWS;
      renderTable();
    });
    for (const button of $("words-table").tHead.querySelectorAll("button")) {
      button.addEventListener("click", () => {
        const key = button.dataset.sort;
        table.descending = table.sort === key ? !table.descending : key === "count";
        table.sort = key;
        renderTable();
      });
    }
    $("more-words").addEventListener("click", () => { table.shown += PAGE_ROWS; renderTable(); });
    let resizing;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => { if (!$("result").hidden) renderChart(); }, 150);
    });
    $("mine-heading").setAttribute("tabindex", "-1");
    renderMine();
    const linked = location.hash.match(/^#\/documents\/([0-9a-f]+)$/);
    if (linked && store.get(linked[1])) openResult(linked[1]);
  }

  init();
})();
