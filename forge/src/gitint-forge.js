// gitint in a Forge Custom UI frame (docs/forge.md). Built by build.mjs into
// static/gitint/gitint-forge.js; runs after htmx and app.js (all `defer`).
//
// 1. Loads the module's page: view.getContext() → moduleKey → a gitint path, fetched through
//    invokeRemote (POST /forge/ui, the envelope of docs/forge.md); its <body> replaces ours.
// 2. Every later htmx request goes the same way. htmx 2 builds each request with
//    `new XMLHttpRequest()` and has no hook to swap the transport (htmx 4's `ctx.fetch` would
//    be one, but htmx 4 is a major migration). So window.XMLHttpRequest is replaced, before
//    htmx sends anything, by ForgeXMLHttpRequest: it implements the members htmx 2.0.11 uses
//    (open, setRequestHeader, overrideMimeType, send, abort, timeout, withCredentials, upload
//    and addEventListener for loadstart/loadend/progress/abort, onload/onerror/onabort/
//    ontimeout, status, statusText, response, responseText, responseURL, readyState,
//    getResponseHeader, getAllResponseHeaders); send() turns the request into the envelope
//    {path, method, query, form, headers (HX-* only)}, and the remote's answer
//    {status, headers, html} is played back as the XHR's response, so swaps, 422 re-renders,
//    HX-Trigger, out-of-band swaps and polling behave as on any page. A rejected invokeRemote
//    is a network error (htmx:sendError).
// 3. window.gitintHost.close() closes the Forge modal (app.js's gitintCloseDialog uses it), and
//    links to another origin (the git host) open through router.open.
import { invokeRemote, router, view } from "@forge/bridge";

const PAGES = {
  "gitint-create-branch": { path: "/dialogs/create-branch", issue: true },
  "gitint-create-pull-request": { path: "/dialogs/create-pull-request", issue: true },
  "gitint-pats": { path: "/pats" },
  "gitint-admin": { path: "/admin/integrations" },
};

const STATUS_TEXT = {
  200: "OK",
  201: "Created",
  204: "No Content",
  286: "Stop Polling",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** One call of the remote: the envelope of docs/forge.md; resolves the bridge's answer. */
function callRemote(request) {
  return invokeRemote({ path: "/forge/ui", method: "POST", body: request });
}

/** The view's answer inside the remote's envelope, or null when there is none. */
function envelopeOf(answer) {
  const body = answer && answer.body;
  if (body && typeof body === "object" && typeof body.html === "string") {
    return body;
  }
  return null;
}

/** Name/value pairs of a request body as htmx sends it (url-encoded string or FormData). */
function pairsOf(body) {
  if (body == null) {
    return [];
  }
  if (typeof body === "string" || body instanceof URLSearchParams) {
    return Array.from(new URLSearchParams(body));
  }
  if (typeof FormData !== "undefined" && body instanceof FormData) {
    // A file travels as its name, as in a url-encoded form submission.
    return Array.from(body.entries(), ([name, value]) => [
      name,
      typeof value === "string" ? value : value.name || "",
    ]);
  }
  return Array.from(new URLSearchParams(String(body)));
}

function headerValue(value) {
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function progressEvent(type) {
  if (typeof ProgressEvent === "function") {
    return new ProgressEvent(type, { lengthComputable: false, loaded: 0, total: 0 });
  }
  return new Event(type);
}

function report(error) {
  if (typeof reportError === "function") {
    reportError(error);
  } else {
    setTimeout(() => {
      throw error;
    });
  }
}

const UNSENT = 0;
const OPENED = 1;
const HEADERS_RECEIVED = 2;
const LOADING = 3;
const DONE = 4;

class ForgeXMLHttpRequest extends EventTarget {
  constructor() {
    super();
    this.upload = new EventTarget();
    this.timeout = 0;
    this.withCredentials = false;
    this.responseType = "";
    this.onreadystatechange = null;
    this.onloadstart = null;
    this.onprogress = null;
    this.onload = null;
    this.onerror = null;
    this.onabort = null;
    this.ontimeout = null;
    this.onloadend = null;
    this.readyState = UNSENT;
    this._generation = 0;
    this._clear();
  }

  _clear() {
    this.status = 0;
    this.statusText = "";
    this.response = "";
    this.responseText = "";
    this.responseURL = "";
    this._responseHeaders = new Map(); // lower-case name → [name, value]
    this._requestHeaders = new Map();
    this._sent = false;
    this._uploading = false;
    clearTimeout(this._timer);
  }

  _fire(target, type) {
    const event = progressEvent(type);
    const handler = target["on" + type];
    if (typeof handler === "function") {
      try {
        handler.call(target, event);
      } catch (error) {
        report(error); // e.g. htmx's onload rethrows a swap error; the request is still over
      }
    }
    target.dispatchEvent(event);
  }

  _state(state) {
    this.readyState = state;
    this._fire(this, "readystatechange");
  }

  open(method, url) {
    this._generation += 1; // an answer to an earlier send is ignored from now on
    this._clear();
    this._method = String(method).toUpperCase();
    this._url = new URL(String(url), location.href);
    this._state(OPENED);
  }

  setRequestHeader(name, value) {
    if (this.readyState !== OPENED || this._sent) {
      throw new DOMException("The object's state must be OPENED.", "InvalidStateError");
    }
    const text = String(value);
    if (/[^\x00-\xff]/.test(text)) {
      // As a browser does; htmx then sends the value URI-encoded with NAME-URI-AutoEncoded.
      throw new TypeError(`Header '${name}' has a value outside ISO-8859-1.`);
    }
    const key = String(name).toLowerCase();
    const known = this._requestHeaders.get(key);
    this._requestHeaders.set(key, known ? [known[0], `${known[1]}, ${text}`] : [name, text]);
  }

  overrideMimeType() {
    // The answer is always text (html); nothing to override.
  }

  getResponseHeader(name) {
    if (this.readyState < HEADERS_RECEIVED) {
      return null;
    }
    const found = this._responseHeaders.get(String(name).toLowerCase());
    return found ? found[1] : null;
  }

  getAllResponseHeaders() {
    if (this.readyState < HEADERS_RECEIVED) {
      return "";
    }
    return Array.from(this._responseHeaders.keys())
      .sort()
      .map((key) => `${key}: ${this._responseHeaders.get(key)[1]}\r\n`)
      .join("");
  }

  send(body) {
    if (this.readyState !== OPENED || this._sent) {
      throw new DOMException("The object's state must be OPENED.", "InvalidStateError");
    }
    this._sent = true;
    const generation = this._generation;
    const url = this._url;
    const sendsBody = body != null && this._method !== "GET" && this._method !== "HEAD";
    const headers = {};
    for (const [key, [name, value]] of this._requestHeaders) {
      if (key.startsWith("hx-")) {
        headers[name] = value;
      }
    }
    const request = {
      path: url.pathname,
      method: this._method,
      query: Array.from(url.searchParams),
      form: sendsBody ? pairsOf(body) : [],
      headers,
    };
    this._fire(this, "loadstart");
    if (sendsBody) {
      this._uploading = true;
      this._fire(this.upload, "loadstart");
    }
    if (this.timeout > 0) {
      this._timer = setTimeout(() => this._fail(generation, "timeout"), this.timeout);
    }
    let call;
    try {
      call = Promise.resolve(callRemote(request));
    } catch (error) {
      call = Promise.reject(error); // the bridge may throw at once (rate limit, bad payload)
    }
    call.then(
      (answer) => this._answer(generation, answer),
      () => this._fail(generation, "error"),
    );
  }

  abort() {
    const inFlight = this._sent && this.readyState !== DONE;
    this._generation += 1;
    if (inFlight) {
      this._end("abort");
    }
    if (this.readyState === DONE) {
      this.readyState = UNSENT; // without an event, as a browser does
    }
  }

  _finishUpload() {
    if (this._uploading) {
      this._uploading = false;
      this._fire(this.upload, "progress");
      this._fire(this.upload, "load");
      this._fire(this.upload, "loadend");
    }
  }

  _answer(generation, answer) {
    if (generation !== this._generation) {
      return; // aborted, timed out or reopened meanwhile
    }
    clearTimeout(this._timer);
    const envelope = envelopeOf(answer);
    let status;
    let headers = {};
    let html = "";
    if (envelope) {
      status = Number(envelope.status) || 200;
      headers = envelope.headers || {};
      html = envelope.html;
    } else {
      // The remote's own error (400, 401, 404 JSON): its status reaches app.js's messages. A
      // 2xx without an envelope is not an answer of gitint's: a bad gateway.
      const outer = Number(answer && answer.status) || 0;
      status = outer >= 400 ? outer : 502;
    }
    this._finishUpload();
    this.status = status;
    this.statusText = STATUS_TEXT[status] || "";
    this.responseURL = withoutHash(this._url);
    this._responseHeaders = new Map();
    for (const name of Object.keys(headers)) {
      if (headers[name] != null) {
        this._responseHeaders.set(name.toLowerCase(), [name, headerValue(headers[name])]);
      }
    }
    this._state(HEADERS_RECEIVED);
    this.responseText = html;
    this.response = html;
    this._state(LOADING);
    this._fire(this, "progress");
    this._state(DONE);
    this._fire(this, "load");
    this._fire(this, "loadend");
  }

  _fail(generation, kind) {
    if (generation !== this._generation) {
      return;
    }
    this._generation += 1;
    this._end(kind);
  }

  /** A request that ends without an answer: "error", "timeout" or "abort". */
  _end(kind) {
    clearTimeout(this._timer);
    this.status = 0;
    this.statusText = "";
    this.response = "";
    this.responseText = "";
    this._responseHeaders = new Map();
    this._state(DONE);
    if (this._uploading) {
      this._uploading = false;
      this._fire(this.upload, kind);
      this._fire(this.upload, "loadend");
    }
    this._fire(this, kind);
    this._fire(this, "loadend");
  }
}

function withoutHash(parsed) {
  const copy = new URL(parsed.href);
  copy.hash = "";
  return copy.href;
}

for (const [name, value] of Object.entries({ UNSENT, OPENED, HEADERS_RECEIVED, LOADING, DONE })) {
  Object.defineProperty(ForgeXMLHttpRequest, name, { value });
  Object.defineProperty(ForgeXMLHttpRequest.prototype, name, { value });
}

window.XMLHttpRequest = ForgeXMLHttpRequest;

window.gitintHost = {
  close: () => view.close().catch(() => {}), // "not closable" outside a modal: nothing to do
};

// Links to another origin (the git host) open in a new tab through Jira.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[href]");
  if (!link || event.defaultPrevented) {
    return;
  }
  const target = new URL(link.href, location.href);
  if ((target.protocol === "http:" || target.protocol === "https:") &&
      target.origin !== location.origin) {
    event.preventDefault();
    Promise.resolve()
      .then(() => router.open(target.href))
      .catch(() => {});
  }
});

function showError(sentence) {
  const main = document.getElementById("main");
  if (main) {
    main.replaceChildren(Object.assign(document.createElement("p"), {
      className: "notice error",
      textContent: sentence,
    }));
  }
}

/** The first request of the frame: a GET of the module's page, without HX-Request. */
function pageRequest(context) {
  const page = PAGES[context && context.moduleKey];
  if (!page) {
    return null;
  }
  const query = [];
  if (page.issue) {
    const extension = context.extension || {};
    const issue = extension.issue || {};
    const project = extension.project || {};
    for (const [name, value] of [
      ["issueKey", issue.key],
      ["projectKey", project.key],
      ["projectId", project.id],
    ]) {
      if (value != null && value !== "") {
        query.push([name, String(value)]);
      }
    }
  }
  return { path: page.path, method: "GET", query, form: [], headers: {} };
}

function showPage(html) {
  const page = new DOMParser().parseFromString(html, "text/html");
  if (page.title) {
    document.title = page.title;
  }
  document.body.className = page.body.className;
  document.body.replaceChildren(
    ...Array.from(page.body.childNodes, (node) => document.importNode(node, true)),
  );
  window.htmx.process(document.body);
}

async function start() {
  try {
    await view.theme.enable();
  } catch {
    // theming is a nicety
  }
  let answer;
  try {
    const request = pageRequest(await view.getContext());
    if (!request) {
      showError("gitint does not know this place in Jira.");
      return;
    }
    answer = await callRemote(request);
  } catch {
    showError("gitint could not be reached. Close this and try again.");
    return;
  }
  const envelope = envelopeOf(answer);
  if (!envelope) {
    showError(
      answer && answer.status === 401
        ? "Your Jira session has expired. Close this and open it again from Jira."
        : "gitint could not load this page. Close this and try again.",
    );
    return;
  }
  showPage(envelope.html);
}

start();
