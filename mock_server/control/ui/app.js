// The state dashboard (/__mock/ui/): a view of one session of the mock, live, and its actions.
//
// Everything shown comes from the control plane (/__mock, control/openapi.yaml) and is put in
// the page as text (textContent, DOM nodes): never as markup. Every call sends the session
// (X-Mock-Session) and, once given, the admin token (Authorization: Bearer), so the live view
// reads /__mock/events with fetch(), not EventSource, which can send neither.
//
// A browser keeps 6 HTTP/1.1 connections per host, and a stream holds one for as long as it
// lasts: a hidden tab holds none (it closes its stream and stops polling; shown again, it
// reads everything again), and the visible tabs of one session share one stream (the tab
// holding the Web Lock "mock-events:<session>" reads it and passes every event on to the
// others on a BroadcastChannel; where locks are missing, outside a secure context, each tab
// reads its own).

const BASE = "/__mock";
const TOKEN_KEY = "mock-admin-token";
const SIGNING = new Set(["Signer", "Approver"]);
const SESSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const SESSIONS_EVERY_MS = 3000; // sessions and faults: no event tells of them
const SLOW_MS = 5000; // a call unanswered this long is said to be waiting
const SHOWN_RECORDS = 500;
const SHOWN_ENTRIES = 300;
const KEPT_ENTRIES = 2000;
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

/** An element with properties and children (strings become text nodes, never markup). */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") {
      for (const [name, datum] of Object.entries(value)) if (datum !== undefined && datum !== null) node.dataset[name] = datum;
    }
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const state = {
  session: validSession(sessionFromHash()) || "default",
  token: sessionStorage.getItem(TOKEN_KEY),
  needToken: false,
  records: new Map(), // "craftkit:<id>" | "firma:<jwt_id>" -> {api, id, record}
  entries: new Map(), // "<id>@<at>" -> journal entry
  journal: [], // entries, newest first
  journalEpoch: 0, // journals dropped (a cleared journal, a restarted mock): older reads are stale
  reloads: new Set(), // per journal read under way, the entries the stream sent meanwhile
  slowCalls: 0,
  faults: [],
  sessions: [],
  operations: [], // {api, operation, statuses}
  changes: 0, // record changes the stream has shown: a read begun before one is stale
  versions: new Map(), // records key -> changes shown of that record
  selected: null, // a records key
  vendor: null, // {key, body} or {key, error}
  selectedEntry: null, // an entries key
};

class ApiError extends Error {
  constructor(status, detail, body) {
    super(status ? `${status}: ${detail}` : detail);
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
}

// ---------------------------------------------------------------------------------------
// Calls

/** The token as a header value: its UTF-8 bytes, one character each (fetch() sends a
 * character below 256 as that byte and refuses others), as curl sends the token; the mock
 * compares bytes. */
function bearer(token) {
  return `Bearer ${String.fromCharCode(...new TextEncoder().encode(token))}`;
}

function headers(session = state.session) {
  const sent = { "X-Mock-Session": session };
  if (state.token) sent.Authorization = bearer(state.token);
  return sent;
}

/** A control-plane call: its JSON answer, or an ApiError with the problem's detail. */
async function api(method, path, body, session = state.session) {
  const sent = { ...headers(session), Accept: "application/json" };
  const init = { method, headers: sent, cache: "no-store" };
  if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  let waited = false;
  const slow = setTimeout(() => {
    waited = true;
    slowCall(1);
  }, SLOW_MS);
  try {
    response = await fetch(BASE + path, init);
    text = await response.text();
  } catch (error) {
    throw new ApiError(0, `the mock did not answer (${error.message})`);
  } finally {
    clearTimeout(slow);
    if (waited) slowCall(-1);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (response.ok) return data;
  const detail = (data && typeof data === "object" && data.detail) || response.statusText || "refused";
  if (response.status === 401 && !askForToken(detail, sent.Authorization)) {
    return api(method, path, body, session); // refused before it acted: again, with the token
  }
  throw new ApiError(response.status, detail, data);
}

/** A handler whose refusals show in the message area, never as an uncaught error. */
function guard(action) {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // the token form says it
      showMessage(error instanceof ApiError ? error.message : String(error));
    }
  };
}

function showMessage(text, kind = "error") {
  const box = byTestId("message");
  box.classList.toggle("info", kind === "info");
  box.querySelector(".text").textContent = text;
  box.hidden = false;
}

function clearMessage() {
  byTestId("message").hidden = true;
}

/** Calls unanswered for SLOW_MS, said beside the status (the browser's connections to the
 * mock may all be held: streams of other tabs, other pages). */
function slowCall(change) {
  state.slowCalls += change;
  byTestId("slow").hidden = state.slowCalls === 0;
}

// ---------------------------------------------------------------------------------------
// The admin token

/** Ask for the token after a 401; whether it asked. A 401 to a call sent before the token
 * now held was given (one in flight as it was typed) says nothing of that token: it
 * changes nothing, and the caller tries again with the token. */
function askForToken(detail, sentAuthorization) {
  if (state.token && sentAuthorization !== bearer(state.token)) return false;
  const form = byTestId("token-form");
  state.needToken = true;
  live.stop("stopped");
  if (sentAuthorization && state.token && sentAuthorization === bearer(state.token)) {
    byTestId("token-error").textContent = `401: ${detail}`;
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
  }
  if (form.hidden) {
    form.hidden = false;
    byTestId("token").focus();
  }
  return true;
}

/** The token typed, tried once (GET /__mock/state) before every call sends it: wrong tokens
 * are counted per address, and five calls with one would lock the address out. */
async function useToken(event) {
  event.preventDefault();
  const input = byTestId("token");
  state.token = input.value.trim();
  input.value = "";
  state.needToken = false;
  try {
    await api("GET", "/state");
  } catch (error) {
    if (error.status !== 401) {
      state.token = null;
      state.needToken = true;
      byTestId("token-error").textContent = error.message;
    }
    return; // a 401: askForToken said so
  }
  sessionStorage.setItem(TOKEN_KEY, state.token);
  byTestId("token-form").hidden = true;
  byTestId("token-error").textContent = "";
  loadAll();
}

// ---------------------------------------------------------------------------------------
// The live stream: GET /__mock/events read with fetch(), parsed as server-sent events

/** Server-sent events, as the HTML standard parses them (fields event, data, id, retry;
 * comments; CRLF, CR or LF line ends), fed the text in pieces. */
export class EventParser {
  constructor() {
    this.buffer = "";
    this.data = [];
    this.type = "";
    this.lastEventId = "";
    this.retry = null;
    this.started = false;
  }

  feed(chunk) {
    let text = this.buffer + chunk;
    if (!this.started && text) {
      this.started = true;
      if (text.startsWith("\uFEFF")) text = text.slice(1);
    }
    let tail = "";
    if (text.endsWith("\r")) {
      text = text.slice(0, -1); // perhaps the first half of a CRLF
      tail = "\r";
    }
    const lines = text.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() + tail;
    const events = [];
    for (const line of lines) {
      if (line === "") {
        if (this.data.length) {
          events.push({ type: this.type || "message", data: this.data.join("\n"), id: this.lastEventId });
        }
        this.data = [];
        this.type = "";
        continue;
      }
      if (line.startsWith(":")) continue; // a comment (keep-alive)
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.type = value;
      else if (field === "data") this.data.push(value);
      else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
      else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    }
    return events;
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** The current session's stream, read by one visible tab of the session and shared with the
 * others (see the top of this file), read again after it ends (every 300 s) with
 * Last-Event-ID, after a back-off when the mock refuses it (503) or cannot be reached. What
 * the reading tab sees it passes on as messages: {kind: "status", status, detail} and
 * {kind: "event", type, data}; a tab that joins asks ({kind: "hello"}) for the status. */
class LiveStream {
  constructor() {
    this.controller = null;
  }

  start(session) {
    this.stop("connecting");
    const controller = new AbortController();
    this.controller = controller;
    const { signal } = controller;
    const deliver = (message) => !signal.aborted && delivered(message, session);
    if (!navigator.locks || typeof BroadcastChannel !== "function") {
      this.run(session, signal, deliver);
      return;
    }
    const name = `mock-events:${session}`;
    const channel = new BroadcastChannel(name);
    signal.addEventListener("abort", () => channel.close(), { once: true });
    let leading = false;
    let status = { kind: "status", status: "connecting", detail: "" };
    channel.onmessage = ({ data }) => {
      if (data?.kind === "hello") {
        if (leading) channel.postMessage(status);
      } else if (!leading) {
        deliver(data);
      }
    };
    navigator.locks
      .request(name, { signal }, async () => {
        leading = true;
        await this.run(session, signal, (message) => {
          if (signal.aborted) return;
          if (message.kind === "status") status = message;
          channel.postMessage(message);
          deliver(message);
        });
      })
      .catch(() => {}); // stopped while another tab read the stream
    channel.postMessage({ kind: "hello" });
  }

  stop(status) {
    if (this.controller) this.controller.abort();
    this.controller = null;
    setLiveStatus(status);
  }

  async run(session, signal, emit) {
    let lastEventId = "";
    let retry = 1000;
    let failures = 0;
    while (!signal.aborted) {
      let wait = retry;
      let detail = "";
      try {
        const sent = { ...headers(session), Accept: "text/event-stream" };
        if (lastEventId) sent["Last-Event-ID"] = lastEventId;
        const response = await fetch(`${BASE}/events`, { headers: sent, signal, cache: "no-store" });
        if (response.status === 401) {
          const problem = await response.json().catch(() => ({}));
          if (askForToken(problem.detail || "the admin token is needed", sent.Authorization)) {
            return;
          }
          continue; // sent before the token was given: again, with it
        }
        if (!response.ok || !response.body) {
          const problem = await response.json().catch(() => null);
          detail = `${response.status}: ${problem?.detail || response.statusText || "refused"}`;
          failures += 1;
          const after = Number(response.headers.get("Retry-After"));
          wait = after > 0 ? after * 1000 : backoff(failures);
        } else {
          const parser = new EventParser();
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            for (const event of parser.feed(value)) {
              if (signal.aborted) return;
              if (event.type === "ready") {
                failures = 0;
                emit({ kind: "status", status: "live", detail: "" });
              }
              emit({ kind: "event", type: event.type, data: event.data });
            }
            if (parser.retry !== null) retry = parser.retry;
            if (parser.lastEventId) lastEventId = parser.lastEventId;
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        wait = backoff(failures);
        detail = `the mock did not answer (${error.message})`;
      }
      if (signal.aborted) return;
      emit({ kind: "status", status: "reconnecting", detail });
      await sleep(wait, signal);
    }
  }
}

const backoff = (failures) => Math.min(1000 * 2 ** (failures - 1), 15000) * (0.75 + Math.random() / 2);

const live = new LiveStream();

const STATUS_TEXT = { paused: "paused (tab hidden)" };

/** The dot, its word and, when the stream is refused or lost, the mock's reason beside it. */
function setLiveStatus(status, detail = "") {
  const box = byTestId("live-status");
  box.dataset.state = status;
  box.querySelector(".text").textContent = STATUS_TEXT[status] || status;
  const problem = byTestId("live-problem");
  problem.textContent = detail ? `${detail} (what is shown may be out of date)` : "";
  problem.hidden = !detail;
}

function delivered(message, session) {
  if (message?.kind === "status") setLiveStatus(message.status, message.detail);
  else if (message?.kind === "event") received(message, session);
}

function received(event, session) {
  if (session !== state.session) return;
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  if (event.type === "ready") {
    // What changed while no stream was open, and the journal whole: the mock may have
    // restarted (its journal ids start again) or its journal been cleared meanwhile.
    guard(loadState)();
    guard(loadJournal)(true);
  } else if (event.type === "change") {
    const key = `${data.api}:${String(data.id).toLowerCase()}`;
    state.changes += 1;
    state.versions.set(key, (state.versions.get(key) || 0) + 1);
    if (data.record === null) state.records.delete(key);
    else state.records.set(key, { api: data.api, id: data.id, record: data.record });
    if (key === state.selected) refreshVendor();
    scheduleRender();
  } else if (event.type === "journal") {
    if (data?.cleared) dropJournal(); // the whole journal follows as request events
    scheduleRender();
  } else if (event.type === "request") {
    for (const sent of state.reloads) sent.push(data);
    addEntries([data]);
    scheduleFaults();
    scheduleRender();
  }
}

// ---------------------------------------------------------------------------------------
// Loading

async function loadAll() {
  if (state.needToken) return;
  if (document.hidden) live.stop("paused");
  else live.start(state.session);
  await Promise.all([guard(loadState)(), guard(loadJournal)(true), guard(loadFaults)(), loadSessions().catch(() => {})]);
}

async function loadState(attempts = 3) {
  const session = state.session;
  const changes = state.changes;
  const data = await api("GET", "/state");
  if (session !== state.session) return;
  if (changes !== state.changes && attempts > 1) {
    await loadState(attempts - 1); // read before a change the stream has shown: again
    return;
  }
  const records = new Map();
  for (const record of data.craftkit.signature_requests) {
    records.set(`craftkit:${String(record.id).toLowerCase()}`, { api: "craftkit", id: record.id, record });
  }
  for (const record of data.firma.jwts) {
    records.set(`firma:${String(record.jwt_id).toLowerCase()}`, { api: "firma", id: record.jwt_id, record });
  }
  state.records = records;
  scheduleRender();
}

/** The session's journal read, added to what is shown or (`replace`) instead of it, with
 * the entries the stream sent meanwhile. */
async function loadJournal(replace = false) {
  const session = state.session;
  const epoch = state.journalEpoch;
  const meanwhile = [];
  state.reloads.add(meanwhile);
  let data;
  try {
    data = await api("GET", "/requests");
  } finally {
    state.reloads.delete(meanwhile);
  }
  if (session !== state.session || epoch !== state.journalEpoch) return;
  if (replace) {
    state.entries = new Map();
    state.journal = [];
  }
  addEntries([...data.requests, ...meanwhile]);
  scheduleRender();
}

function dropJournal() {
  state.entries = new Map();
  state.journal = [];
  state.journalEpoch += 1;
}

function addEntries(entries) {
  let added = false;
  for (const entry of entries) {
    const key = `${entry.id}@${entry.at}`;
    if (state.entries.has(key)) continue;
    state.entries.set(key, entry);
    added = true;
  }
  if (!added) return;
  state.journal = [...state.entries.values()].sort((a, b) =>
    a.at === b.at ? b.id - a.id : a.at < b.at ? 1 : -1,
  );
  for (const old of state.journal.splice(KEPT_ENTRIES)) state.entries.delete(`${old.id}@${old.at}`);
}

async function loadFaults() {
  const session = state.session;
  const data = await api("GET", "/faults");
  if (session !== state.session) return;
  if (JSON.stringify(data.faults) === JSON.stringify(state.faults)) return; // keep the focus
  state.faults = data.faults;
  renderFaults();
}

let faultsTimer = null;
function scheduleFaults() {
  // A fault with `times` counts down as requests use it.
  clearTimeout(faultsTimer);
  faultsTimer = setTimeout(guard(loadFaults), 300);
}

async function loadSessions() {
  if (state.needToken) return;
  const data = await api("GET", "/sessions");
  state.sessions = data.sessions.map((session) => session.name);
  renderSessions();
}

/** The operations faults can name and the statuses each documents, from the documents the
 * mock serves (a fault's status must be one of them). */
async function loadOperations() {
  const operations = [];
  for (const api of ["craftkit", "firma"]) {
    const response = await fetch(`/docs/${api}.json`, { cache: "no-store" });
    if (!response.ok) throw new ApiError(response.status, `/docs/${api}.json could not be read`);
    const document = await response.json();
    for (const [path, item] of Object.entries(document.paths || {})) {
      for (const method of METHODS) {
        const operation = item[method];
        if (!operation || typeof operation !== "object") continue;
        const statuses = Object.keys(operation.responses || {})
          .filter((code) => /^\d{3}$/.test(code))
          .map(Number)
          .sort((a, b) => a - b);
        operations.push({ api, operation: operation.operationId || `${method.toUpperCase()} ${path}`, statuses });
      }
    }
  }
  state.operations = operations;
  renderOperations();
}

/** Defaults of the create forms: the control plane's own examples. */
async function loadExamples() {
  const response = await fetch("/docs/control.json", { cache: "no-store" });
  if (!response.ok) return;
  const document = await response.json();
  const example = (path) => document.paths?.[path]?.post?.requestBody?.content?.["application/json"]?.example;
  const request = example("/craftkit/signature-requests");
  if (request) {
    byTestId("request-name").value = request.name || "";
    byTestId("request-recipients").value = (request.recipients || [])
      .map((r) => [r.email, r.designation].filter(Boolean).join(" "))
      .join("\n");
  }
  const jwt = example("/firma/jwts");
  if (jwt?.workspace) byTestId("jwt-workspace").placeholder = jwt.workspace;
}

// ---------------------------------------------------------------------------------------
// Sessions

function sessionFromHash() {
  const match = /(?:^#|&)session=([^&]*)/.exec(location.hash);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]) || null;
  } catch {
    return null;
  }
}

function validSession(name) {
  return name && SESSION_PATTERN.test(name) ? name : null;
}

function switchSession(name) {
  if (!SESSION_PATTERN.test(name)) {
    showMessage(`${JSON.stringify(name)} is not a session name (letters, digits, '.', '_', ':', '-'; 64 at most)`);
    renderSessions();
    return;
  }
  if (name === state.session) return;
  state.session = name;
  history.replaceState(null, "", `#session=${encodeURIComponent(name)}`);
  state.records = new Map();
  dropJournal();
  state.faults = [];
  state.versions = new Map();
  state.selected = null;
  state.vendor = null;
  state.selectedEntry = null;
  clearMessage();
  renderSessions();
  renderFaults();
  scheduleRender();
  loadAll();
}

function renderSessions() {
  const select = byTestId("session-select");
  const names = [...state.sessions];
  if (!names.includes(state.session)) names.push(state.session);
  const current = [...select.options].map((option) => option.value);
  if (current.join("\n") !== names.join("\n")) {
    select.replaceChildren(...names.map((name) => el("option", { value: name, text: name })));
  }
  select.value = state.session;
}

// ---------------------------------------------------------------------------------------
// Records

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    renderRecords();
    renderDetail();
    renderJournal();
  });
}

/** A list's rows replaced, the focus kept on the row it was on (a live change redraws the
 * list while someone moves through it with the keyboard). */
function redraw(list, rows) {
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset : null;
  list.replaceChildren(...rows);
  if (!focused) return;
  const same = [...list.querySelectorAll("button.row")].find(
    (button) => button.dataset.id === focused.id && button.dataset.api === focused.api,
  );
  same?.focus();
}

function stateOf(item) {
  if (item.api === "firma") return item.record.revoked_at ? "revoked" : "active";
  return String(item.record.status);
}

function titleOf(item) {
  const record = item.record;
  if (item.api === "firma") return `JWT of ${record.workspace} · signing request ${record.signing_request_id}`;
  return `${record.name ?? "(no name)"} · ${record.project ?? ""}`;
}

function haystack(item) {
  const record = item.record;
  const parts = [item.api, item.id, stateOf(item), JSON.stringify(record)];
  return parts.join(" ").toLowerCase();
}

function renderRecords() {
  const list = byTestId("records");
  const words = byTestId("record-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
  const matching = [...state.records.entries()].filter(([, item]) => {
    if (!words.length) return true;
    const text = haystack(item);
    return words.every((word) => text.includes(word));
  });
  const rows = matching.slice(0, SHOWN_RECORDS).map(([key, item]) => {
    const status = stateOf(item);
    const row = el(
      "button",
      {
        type: "button",
        class: "row",
        "aria-current": key === state.selected ? "true" : "false",
        dataset: { testid: "record-row", id: item.id, api: item.api, state: status },
        onclick: () => select(key),
      },
      el("span", { class: "api", text: item.api === "firma" ? "Firma" : "Craftkit" }),
      el("span", { class: "id", text: item.id }),
      el("span", { class: `badge ${status}`, dataset: { testid: "record-state" }, text: status }),
      el("span", { class: "title", text: titleOf(item) }),
    );
    return el("li", {}, row);
  });
  if (matching.length > SHOWN_RECORDS) {
    rows.push(el("li", { class: "more", text: `${matching.length - SHOWN_RECORDS} more: narrow the filter` }));
  }
  redraw(list, rows);
  const total = state.records.size;
  byTestId("record-count").textContent =
    matching.length === total ? `${total} records` : `${matching.length} of ${total} records`;
}

function select(key) {
  state.selected = key;
  state.vendor = null;
  byTestId("record-detail").hidden = false;
  refreshVendor();
  scheduleRender();
}

let vendorTimer = null;
function refreshVendor() {
  clearTimeout(vendorTimer);
  vendorTimer = setTimeout(() => loadVendor(state.selected), 50);
}

/** The record as the vendor API returns it, and as stored (GET /__mock/<api>/.../{id}). */
async function loadVendor(key) {
  const item = state.records.get(key);
  if (!item) return;
  const path =
    item.api === "firma"
      ? `/firma/jwts/${encodeURIComponent(item.id)}`
      : `/craftkit/signature-requests/${encodeURIComponent(item.id)}`;
  const version = state.versions.get(key);
  try {
    const data = await api("GET", path);
    if (state.selected !== key) return;
    if (version !== state.versions.get(key)) {
      refreshVendor(); // read before a change the stream has shown since: read again
      return;
    }
    state.vendor = { key, body: data.vendor };
    state.records.set(key, { ...item, record: data.record });
  } catch (error) {
    if (state.selected !== key) return;
    state.vendor = { key, error: error.message };
  }
  scheduleRender();
}

function renderDetail() {
  const box = byTestId("record-detail");
  const item = state.selected && state.records.get(state.selected);
  if (!item) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const status = stateOf(item);
  const record = item.record;
  byTestId("detail-title").textContent =
    item.api === "firma" ? `Firma JWT ${item.id}` : `${record.name ?? "Signature request"} (${item.id})`;
  const badge = byTestId("detail-state");
  badge.textContent = status;
  badge.className = `badge ${status}`;
  const actions = item.api === "firma" ? jwtActions(item) : requestActions(item);
  const shown = byTestId("actions");
  const signature = actions.map((button) => `${button.dataset.testid}/${button.dataset.recipient ?? ""}`).join(" ");
  if (shown.dataset.signature !== `${state.selected} ${signature}`) {
    shown.dataset.signature = `${state.selected} ${signature}`;
    shown.replaceChildren(...(actions.length ? actions : [el("span", { class: "none", text: "No action: this state is final." })]));
  }
  const vendor = state.vendor && state.vendor.key === state.selected ? state.vendor : null;
  byTestId("detail-vendor").textContent = !vendor
    ? "loading…"
    : vendor.error
      ? `not available: ${vendor.error}`
      : JSON.stringify(vendor.body, null, 2);
  byTestId("detail-stored").textContent = JSON.stringify(record, null, 2);
}

function actionButton(testid, label, onclick, recipient) {
  return el("button", { type: "button", dataset: { testid, recipient }, onclick: guard(onclick) }, label);
}

function recipientName(recipient) {
  const name = [recipient.firstName, recipient.lastName].filter(Boolean).join(" ");
  return name || recipient.email || recipient.id || "recipient";
}

/** Exactly the events the request's state allows (apply_event), then a cancel as the vendor
 * API would answer it (a 409 for a request no longer sent or viewed). */
function requestActions(item) {
  const record = item.record;
  const path = `/craftkit/signature-requests/${encodeURIComponent(item.id)}`;
  const send = (body) => async () => {
    const updated = await api("POST", `${path}/events`, body);
    clearMessage();
    state.records.set(`craftkit:${String(item.id).toLowerCase()}`, { ...item, record: updated });
    refreshVendor();
    scheduleRender();
  };
  const buttons = [];
  if (record.status === "sent" || record.status === "viewed") {
    if (record.status === "sent") buttons.push(actionButton("action-viewed", "Viewed", send({ event: "viewed" })));
    for (const recipient of record.recipients || []) {
      if (!SIGNING.has(recipient.designation) || recipient.signedAt || recipient.declinedAt) continue;
      const who = recipientName(recipient);
      const named = recipient.id ? { recipientId: recipient.id } : {};
      buttons.push(actionButton("action-signed", `Signed by ${who}`, send({ event: "signed", ...named }), recipient.id));
      buttons.push(actionButton("action-declined", `Declined by ${who}`, send({ event: "declined", ...named }), recipient.id));
    }
    buttons.push(actionButton("action-expired", "Expired", send({ event: "expired" })));
    buttons.push(
      actionButton("action-failed", "Failed…", async () => {
        const message = prompt("The failure's message (errorMessage):", "The signature service reported a failure.");
        if (message === null) return;
        await send({ event: "failed", message })();
      }),
    );
  }
  buttons.push(
    actionButton("action-cancel", "Cancel (as the vendor API)", async () => {
      await api("POST", `${path}/cancel`);
      clearMessage();
      refreshVendor();
    }),
  );
  return buttons;
}

function jwtActions(item) {
  if (item.record.revoked_at) return [];
  return [
    actionButton("action-revoke", "Revoke (as the vendor API)", async () => {
      await api("POST", `/firma/jwts/${encodeURIComponent(item.id)}/revoke`);
      clearMessage();
      refreshVendor();
    }),
  ];
}

async function createRequest(event) {
  event.preventDefault();
  const body = {};
  const name = byTestId("request-name").value.trim();
  const project = byTestId("request-project").value.trim();
  if (name) body.name = name;
  if (project) body.project = project;
  const recipients = byTestId("request-recipients")
    .value.split("\n")
    .map((line) => line.split(/[\s,;]+/).filter(Boolean))
    .filter((words) => words.length)
    .map(([email, designation]) => (designation ? { email, designation } : { email }));
  if (recipients.length) body.recipients = recipients;
  const record = await api("POST", "/craftkit/signature-requests", body);
  clearMessage();
  const key = `craftkit:${String(record.id).toLowerCase()}`;
  state.records.set(key, { api: "craftkit", id: record.id, record });
  select(key);
}

async function createJwt(event) {
  event.preventDefault();
  const workspace = byTestId("jwt-workspace").value.trim();
  const record = await api("POST", "/firma/jwts", workspace ? { workspace } : {});
  clearMessage();
  const key = `firma:${String(record.jwt_id).toLowerCase()}`;
  state.records.set(key, { api: "firma", id: record.jwt_id, record });
  select(key);
}

async function resetSession() {
  if (!confirm(`Reset session "${state.session}"? Its records, journal, faults and rate windows go back to the fixtures.`)) return;
  await api("POST", "/reset");
  clearMessage();
  dropJournal();
  state.selectedEntry = null;
  await Promise.all([loadState(), loadFaults()]);
  showMessage(`Session "${state.session}" reset to the fixtures.`, "info");
}

// ---------------------------------------------------------------------------------------
// Journal

function time(at) {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? String(at) : date.toLocaleTimeString([], { hour12: false });
}

function statusClass(status) {
  return status === null || status === undefined ? "none" : `s${String(status)[0]}`;
}

function renderJournal() {
  const rows = state.journal.slice(0, SHOWN_ENTRIES).map((entry) => {
    const key = `${entry.id}@${entry.at}`;
    const status = entry.response?.status;
    const query = entry.request?.query ? `?${entry.request.query}` : "";
    return el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          class: "row",
          "aria-current": key === state.selectedEntry ? "true" : "false",
          dataset: { testid: "journal-row", id: String(entry.id), status: String(status ?? "none") },
          onclick: () => {
            state.selectedEntry = key;
            scheduleRender();
          },
        },
        el("span", { class: "time", text: time(entry.at) }),
        el("span", { class: "method", text: entry.request?.method ?? "" }),
        el("span", { class: "path", text: (entry.request?.path ?? "") + query }),
        el("span", { class: `status ${statusClass(status)}`, text: status ?? "—" }),
      ),
    );
  });
  redraw(byTestId("journal"), rows);
  byTestId("journal-empty").hidden = state.journal.length > 0;
  renderEntry();
}

function exchange(part, first) {
  const lines = [first];
  for (const [name, value] of Object.entries(part?.headers || {})) lines.push(`${name}: ${value}`);
  lines.push("");
  lines.push(part?.json !== undefined ? JSON.stringify(part.json, null, 2) : (part?.body ?? ""));
  return lines.join("\n");
}

function renderEntry() {
  const box = byTestId("journal-detail");
  const entry = state.selectedEntry && state.entries.get(state.selectedEntry);
  if (!entry) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const request = entry.request || {};
  const status = entry.response?.status;
  const query = request.query ? `?${request.query}` : "";
  byTestId("journal-detail-title").textContent = `${request.method} ${request.path}${query} → ${status ?? "no answer"}`;
  const reason = entry.reason;
  byTestId("journal-reason").textContent = reason ? reason.rule : "No reason recorded (nothing was decided).";
  const facts = [
    ["cause", reason?.cause],
    ["record", reason?.record],
    ["state", reason?.state],
    ["fault", reason?.fault],
    ["delay", reason?.delayMs !== undefined ? `${reason.delayMs} ms` : undefined],
    ["Prefer", reason?.prefer],
    ["limit", reason?.limit],
    ["Retry-After", reason?.retryAfter],
    ["api", entry.api],
    ["operation", entry.operation],
    ["forced by", entry.simulated],
    ["at", entry.at],
    ["took", entry.durationMs !== undefined ? `${entry.durationMs} ms` : undefined],
    ["session created", entry.sessionCreated ? "yes: it started from the fixtures" : undefined],
  ].filter(([, value]) => value !== undefined && value !== null);
  byTestId("journal-facts").replaceChildren(
    ...facts.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: String(value) })]),
  );
  byTestId("journal-request").textContent = exchange(request, `${request.method} ${request.path}${query}`);
  byTestId("journal-response").textContent = exchange(entry.response, `${status ?? "no answer"}`);
}

// ---------------------------------------------------------------------------------------
// Faults

function renderFaults() {
  const rows = state.faults.map((fault) => {
    const what = [
      `${fault.api} ${fault.operation}:`,
      fault.status !== null ? `status ${fault.status}` : null,
      fault.delay_ms ? `delay ${fault.delay_ms} ms` : null,
      fault.drop ? "drop" : null,
      fault.remaining === null ? "until removed" : `${fault.remaining} left`,
    ]
      .filter(Boolean)
      .join(" ");
    return el(
      "li",
      { class: "fault", dataset: { testid: "fault-row", id: String(fault.id) } },
      el("span", { class: "what", text: what }),
      el(
        "button",
        {
          type: "button",
          dataset: { testid: "fault-remove" },
          "aria-label": `Remove fault ${fault.id}`,
          onclick: guard(async () => {
            await api("DELETE", `/faults/${encodeURIComponent(fault.id)}`);
            clearMessage();
            await loadFaults();
          }),
        },
        "Remove",
      ),
    );
  });
  byTestId("faults").replaceChildren(...rows);
  byTestId("faults-empty").hidden = state.faults.length > 0;
  byTestId("faults-clear").hidden = state.faults.length === 0;
}

function renderOperations() {
  const select = byTestId("fault-operation");
  select.replaceChildren(
    ...state.operations.map((op, index) => el("option", { value: String(index), text: `${op.api}: ${op.operation}` })),
  );
  renderStatuses();
}

function renderStatuses() {
  const op = state.operations[Number(byTestId("fault-operation").value)];
  const statuses = op ? op.statuses : [];
  byTestId("fault-status").replaceChildren(
    el("option", { value: "", text: "none (delay or drop only)" }),
    ...statuses.map((status) => el("option", { value: String(status), text: String(status) })),
  );
}

async function addFault(event) {
  event.preventDefault();
  const op = state.operations[Number(byTestId("fault-operation").value)];
  if (!op) throw new ApiError(0, "no operation to choose: the API documents could not be read");
  const body = { api: op.api, operation: op.operation };
  const status = byTestId("fault-status").value;
  const delay = Number(byTestId("fault-delay").value || 0);
  const times = byTestId("fault-times").value;
  if (status) body.status = Number(status);
  if (delay) body.delay_ms = delay;
  if (byTestId("fault-drop").checked) body.drop = true;
  if (times) body.times = Number(times);
  await api("POST", "/faults", body);
  clearMessage();
  await loadFaults();
}

async function clearFaults() {
  await api("DELETE", "/faults");
  clearMessage();
  await loadFaults();
}

// ---------------------------------------------------------------------------------------
// Start

function closeDetail() {
  state.selected = null;
  state.vendor = null;
  scheduleRender();
}

function start() {
  byTestId("token-form").addEventListener("submit", useToken);
  byTestId("message").querySelector(".close").addEventListener("click", clearMessage);
  byTestId("session-select").addEventListener("change", (event) => switchSession(event.target.value));
  byTestId("session-select").addEventListener("focus", guard(loadSessions));
  byTestId("new-session-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byTestId("new-session");
    const name = input.value.trim();
    if (!name) return;
    input.value = "";
    switchSession(name);
  });
  byTestId("reset").addEventListener("click", guard(resetSession));
  byTestId("record-filter").addEventListener("input", scheduleRender);
  byTestId("detail-close").addEventListener("click", closeDetail);
  byTestId("journal-close").addEventListener("click", () => {
    state.selectedEntry = null;
    scheduleRender();
  });
  byTestId("record-detail").addEventListener("keydown", (event) => event.key === "Escape" && closeDetail());
  byTestId("create-request").addEventListener("submit", guard(createRequest));
  byTestId("create-jwt").addEventListener("submit", guard(createJwt));
  byTestId("fault-operation").addEventListener("change", renderStatuses);
  byTestId("add-fault").addEventListener("submit", guard(addFault));
  byTestId("faults-clear").addEventListener("click", guard(clearFaults));
  window.addEventListener("hashchange", () => {
    const name = sessionFromHash();
    if (name) switchSession(name);
  });
  renderSessions();
  renderFaults();
  scheduleRender();
  guard(loadOperations)();
  guard(loadExamples)();
  // Sessions appear as clients create them, faults as they set them (no event says so);
  // a failed refresh is not worth a message.
  setInterval(() => {
    if (state.needToken || document.hidden) return;
    loadSessions().catch(() => {});
    loadFaults().catch(() => {});
  }, SESSIONS_EVERY_MS);
  // Hidden, the tab holds no connection to the mock; shown again, it reads everything again.
  document.addEventListener("visibilitychange", () => {
    if (state.needToken) return;
    if (document.hidden) live.stop("paused");
    else guard(loadAll)();
  });
  if (!state.token) {
    loadAll();
    return;
  }
  // A token kept from before (the mock may have another now): tried once, as useToken does.
  api("GET", "/state").then(loadAll, (error) => error.status !== 401 && loadAll());
}

start();
