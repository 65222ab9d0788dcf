/*
 * Event management web app: guests sign up, sign in, register for sessions and show their QR
 * tickets; staff check guests in and watch the requests board. Plain JavaScript, no build step.
 *
 * It talks to Cognito's JSON API directly (SignUp, ConfirmSignUp, InitiateAuth with
 * USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH) and to the REST API with the id token in
 * `Authorization`. It never verifies tokens: it only reads the id token's claims to choose what
 * to show; the API's authorizer and handlers decide what a caller may do. Data is rendered with
 * textContent only; the server-drawn QR SVG is parsed as image/svg+xml and rebuilt from an allow
 * list of elements and attributes, so that nothing executable reaches the page.
 *
 * Stable hooks for the browser test (each element has this id and the same data-testid):
 *   header      event-name, nav-sessions, nav-tickets, nav-request, nav-staff-check-in,
 *               nav-staff-requests, nav-sign-in, nav-sign-up, user-email, sign-out, config-error
 *   sign up     view-sign-up, sign-up-form, sign-up-email, sign-up-name, sign-up-phone,
 *               sign-up-password, password-policy (li[data-rule][data-met]), sign-up-submit,
 *               sign-up-error, sign-up-have-code
 *   confirm     view-confirm, confirm-status, confirm-form, confirm-email, confirm-code,
 *               confirm-submit, confirm-resend, confirm-error
 *   sign in     view-sign-in, sign-in-status, sign-in-form, sign-in-email, sign-in-password,
 *               sign-in-submit, sign-in-error, sign-in-to-sign-up
 *   challenge   view-challenge, challenge-form, challenge-answer, challenge-submit, challenge-error
 *   sessions    view-sessions, sessions-refresh, sessions-status, sessions-error, sessions-list;
 *               per session li[data-testid=session][data-session-id] holding session-title,
 *               session-time, session-room, session-seats and button[data-testid=register]
 *               (data-session-id; its text is "Registered" once registered)
 *   tickets     view-tickets, tickets-refresh, tickets-status, tickets-error, tickets-list;
 *               per ticket li[data-testid=ticket][data-registration-id][data-session-id] holding
 *               ticket-title, ticket-time, ticket-checked-in and div[data-testid=ticket-qr]
 *               whose data-token attribute is the QR token (the SVG is inside it; with no SVG
 *               to draw, code[data-testid=ticket-token] shows the token as text)
 *   request     view-request, request-form, request-type, request-session, request-note,
 *               request-note-count, request-submit, request-error,
 *               request-result (data-request-id once sent)
 *   check in    view-check-in, check-in-form, check-in-code, check-in-submit, check-in-scan,
 *               check-in-scan-stop, check-in-video, check-in-status, check-in-error,
 *               check-in-result (data-first-check-in="true"|"false", data-registration-id),
 *               check-in-first, check-in-guest-name, check-in-guest-email, check-in-session,
 *               check-in-time
 *   requests    view-staff-requests, requests-filter, requests-refresh, requests-status,
 *               requests-error, requests-table, requests-list; per request
 *               tr[data-testid=request][data-request-id][data-type] with cells request-type-cell,
 *               request-note-cell, request-session-cell, request-guest-cell, request-status-cell
 *   forbidden   view-forbidden
 * Every view's root also carries data-ready="true" once its data has loaded (for waiting on).
 */

const TOKEN_STORE_KEY = "blueprints.eventManagement.tokens";
const QR_STORE_KEY = "blueprints.eventManagement.qrSvgs";
const STAFF_GROUP = "staff";
const NOTE_LIMIT = 500;
// Refresh a little before the id token expires, so a request never leaves with a dead token.
const REFRESH_MARGIN_SECONDS = 60;
const SCAN_INTERVAL_MS = 250;

export const DEFAULT_PASSWORD_POLICY = Object.freeze({
  minimumLength: 12, requireLowercase: true, requireUppercase: true, requireNumbers: true,
  requireSymbols: true,
});
export const DEFAULT_REQUEST_TYPES = Object.freeze(["handout", "food", "help"]);
export const REQUIRED_CONFIG_KEYS = Object.freeze(
  ["apiUrl", "region", "userPoolId", "userPoolClientId", "cognitoEndpoint"]);

const SVG_NS = "http://www.w3.org/2000/svg";
const HOSTILE_SVG_TEXT = /<\s*(?:script|foreignObject|iframe|use|image|a)\b|\son[a-z]+\s*=|javascript:|<!ENTITY/i;
const SVG_ELEMENTS = new Set(["svg", "g", "path", "rect", "title", "desc"]);
const SVG_ATTRIBUTES = new Set([
  "width", "height", "viewBox", "class", "d", "transform", "stroke", "stroke-width", "fill",
  "fill-rule", "x", "y", "shape-rendering", "version", "preserveAspectRatio",
]);

// --- pure helpers (exported so that they can be checked without a browser) ---------------------

/** The claims of a JWT, read without verifying it (the API verifies; this only picks the UI). */
/** "1 ticket", "2 tickets": a count and its noun, singular or plural. */
export function counted(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

export function jwtClaims(token) {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) return {};
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : {};
  } catch {
    return {};
  }
}

/** Whether the id token's claims put the caller in the staff group. */
export function isStaff(claims) {
  const groups = claims["cognito:groups"];
  if (Array.isArray(groups)) return groups.includes(STAFF_GROUP);
  // Some issuers flatten a one-element list to a string.
  return typeof groups === "string" && groups.split(/[\s,]+/).includes(STAFF_GROUP);
}

/** The API URL of a path, whether or not apiUrl ends with a slash. */
export function apiEndpoint(apiUrl, path, query) {
  const base = String(apiUrl).replace(/\/+$/, "");
  const suffix = path.startsWith("/") ? path : `/${path}`;
  const search = query ? new URLSearchParams(query).toString() : "";
  return search ? `${base}${suffix}?${search}` : `${base}${suffix}`;
}

/** The configuration with defaults, and every problem with it. */
export function readConfig(raw) {
  const problems = [];
  if (!raw || typeof raw !== "object") {
    return { config: null, problems: ["window.BLUEPRINTS_CONFIG is missing: config.js did not load"] };
  }
  for (const key of REQUIRED_CONFIG_KEYS) {
    if (typeof raw[key] !== "string" || raw[key].trim() === "") problems.push(`${key} is missing`);
  }
  for (const key of ["apiUrl", "cognitoEndpoint"]) {
    if (typeof raw[key] === "string" && !/^https?:\/\//.test(raw[key])) {
      problems.push(`${key} must be an http(s) URL`);
    }
  }
  const requestTypes = Array.isArray(raw.requestTypes) && raw.requestTypes.length > 0
    ? raw.requestTypes.map(String) : [...DEFAULT_REQUEST_TYPES];
  const passwordPolicy = { ...DEFAULT_PASSWORD_POLICY, ...(raw.passwordPolicy || {}) };
  const config = {
    ...raw, requestTypes, passwordPolicy,
    eventName: typeof raw.eventName === "string" && raw.eventName ? raw.eventName : "Event",
  };
  return { config: problems.length ? null : config, problems };
}

/** The password policy's rules, each with whether `password` meets it. */
export function passwordRules(policy, password) {
  const rules = [{
    rule: "length", text: `at least ${policy.minimumLength} characters`,
    met: password.length >= policy.minimumLength,
  }];
  if (policy.requireLowercase) rules.push({ rule: "lowercase", text: "a lowercase letter", met: /[a-z]/.test(password) });
  if (policy.requireUppercase) rules.push({ rule: "uppercase", text: "an uppercase letter", met: /[A-Z]/.test(password) });
  if (policy.requireNumbers) rules.push({ rule: "number", text: "a number", met: /[0-9]/.test(password) });
  if (policy.requireSymbols) {
    rules.push({ rule: "symbol", text: "a symbol, such as ! ? # or %", met: /[^A-Za-z0-9\s]/.test(password) });
  }
  return rules;
}

/** A message for a failed call: the server's own `message` when it sent one. */
export function errorMessage(payload, status) {
  if (payload && typeof payload === "object") {
    const message = payload.message ?? payload.Message;
    if (typeof message === "string" && message.trim()) return message;
    if (typeof payload.__type === "string") {
      // Cognito names the error; without a message, its name is the best we have.
      return payload.__type.split("#").pop().replace(/Exception$/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
    }
  }
  return status ? `The request failed (HTTP ${status}).` : "The service could not be reached.";
}

/** The Cognito error name of an error answer, without its namespace. */
export function cognitoErrorType(payload) {
  return payload && typeof payload.__type === "string" ? payload.__type.split("#").pop() : "";
}

// --- the page -----------------------------------------------------------------------------------

class CallError extends Error {
  constructor(message, status, type) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

const $ = (id) => document.getElementById(id);

async function readJson(response) {
  const text = await response.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

function setMessage(id, text) {
  const element = $(id);
  element.textContent = text || "";
  if (element.getAttribute("role") === "alert") element.hidden = !text;
}

function formatTime(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return String(iso ?? "");
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

function timeElement(iso) {
  const element = document.createElement("time");
  element.dateTime = String(iso ?? "");
  element.textContent = formatTime(iso);
  return element;
}

function element(tag, { text, className, testid, attributes } = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  return node;
}

/** A copy of a server-drawn QR SVG built only from allowed elements and attributes, or null. */
function safeSvg(svgText) {
  if (typeof svgText !== "string" || !svgText.trim()) return null;
  // Refused before parsing too: the parsed document is inert, but Chrome still reports a CSP
  // violation for an event attribute it meets while parsing.
  if (HOSTILE_SVG_TEXT.test(svgText)) return null;
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const root = parsed.documentElement;
  if (!root || root.localName !== "svg" || parsed.getElementsByTagName("parsererror").length) return null;
  if (root.namespaceURI !== SVG_NS && root.namespaceURI !== null) return null;
  const copy = (source) => {
    if (!SVG_ELEMENTS.has(source.localName)) throw new Error(`element ${source.localName}`);
    const target = document.createElementNS(SVG_NS, source.localName);
    for (const attribute of Array.from(source.attributes)) {
      if (attribute.name === "xmlns" || attribute.name.startsWith("xmlns:")) continue;
      if (!SVG_ATTRIBUTES.has(attribute.name)) throw new Error(`attribute ${attribute.name}`);
      target.setAttribute(attribute.name, attribute.value);
    }
    for (const child of Array.from(source.childNodes)) {
      if (child.nodeType === Node.ELEMENT_NODE) target.appendChild(copy(child));
      else if (child.nodeType === Node.TEXT_NODE && /^(title|desc)$/.test(source.localName)) {
        target.appendChild(document.createTextNode(child.data));
      }
    }
    return target;
  };
  let svg;
  try {
    svg = copy(root);
  } catch {
    return null;
  }
  const width = Number.parseFloat(svg.getAttribute("width"));
  const height = Number.parseFloat(svg.getAttribute("height"));
  // Without a viewBox the code would be cropped, not scaled, when CSS sizes it.
  if (!svg.hasAttribute("viewBox") && width > 0 && height > 0) {
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }
  return svg;
}

function start() {
  const { config, problems } = readConfig(window.BLUEPRINTS_CONFIG);
  if (!config) {
    setMessage("config-error", `This site is not configured: ${problems.join("; ")}.`);
    $("config-error").hidden = false;
    return;
  }
  document.title = config.eventName;
  $("event-name").textContent = config.eventName;

  // --- session: tokens in sessionStorage (this tab only), refreshed before they expire ---------
  let tokens = null;
  try {
    tokens = JSON.parse(sessionStorage.getItem(TOKEN_STORE_KEY) || "null");
  } catch {
    tokens = null;
  }
  let pendingChallenge = null;
  let routeAfterSignIn = "#/";
  let refreshing = null;

  function saveTokens(next) {
    tokens = next;
    if (next) sessionStorage.setItem(TOKEN_STORE_KEY, JSON.stringify(next));
    else sessionStorage.removeItem(TOKEN_STORE_KEY);
    renderAccount();
  }

  function claims() {
    return tokens ? jwtClaims(tokens.idToken) : {};
  }

  async function cognito(action, body) {
    let response;
    try {
      response = await fetch(config.cognitoEndpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
        },
        body: JSON.stringify(body),
      });
    } catch {
      throw new CallError("The sign-in service could not be reached.", 0, "");
    }
    const payload = await readJson(response);
    if (!response.ok) {
      throw new CallError(errorMessage(payload, response.status), response.status, cognitoErrorType(payload));
    }
    return payload;
  }

  function acceptAuthentication(result, previousRefreshToken) {
    saveTokens({
      idToken: result.IdToken,
      accessToken: result.AccessToken,
      refreshToken: result.RefreshToken || previousRefreshToken,
    });
  }

  async function refreshTokens() {
    if (!tokens?.refreshToken) throw new CallError("Please sign in again.", 401, "");
    refreshing ??= cognito("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: config.userPoolClientId,
      AuthParameters: { REFRESH_TOKEN: tokens.refreshToken },
    }).then((answer) => {
      acceptAuthentication(answer.AuthenticationResult, tokens.refreshToken);
    }).finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  async function idToken() {
    const expiresAt = Number(claims().exp) || 0;
    if (expiresAt - Date.now() / 1000 < REFRESH_MARGIN_SECONDS) {
      try {
        await refreshTokens();
      } catch (error) {
        signOut("Your session ended. Please sign in again.");
        throw error;
      }
    }
    return tokens.idToken;
  }

  // idempotencyKey: one per user action, so that the retry after a token refresh (or a
  // network retry) is answered with the first answer instead of creating twice.
  async function api(method, path, { body, query, idempotencyKey } = {}, retried = false) {
    const token = await idToken();
    const headers = { Authorization: token, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    let response;
    try {
      response = await fetch(apiEndpoint(config.apiUrl, path, query), {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new CallError("The event service could not be reached.", 0, "");
    }
    const payload = await readJson(response);
    if (response.status === 401 && !retried) {
      // The token may have been revoked or expired early: one refresh, one retry.
      try {
        await refreshTokens();
      } catch {
        signOut("Your session ended. Please sign in again.");
        throw new CallError(errorMessage(payload, response.status), 401, "");
      }
      return api(method, path, { body, query, idempotencyKey }, true);
    }
    if (!response.ok) throw new CallError(errorMessage(payload, response.status), response.status, "");
    return { status: response.status, payload };
  }

  function signOut(notice) {
    stopScan();
    saveTokens(null);
    sessionStorage.removeItem(QR_STORE_KEY);
    setMessage("sign-in-status", notice || "You are signed out.");
    navigate("#/sign-in");
  }

  function renderAccount() {
    const signedIn = Boolean(tokens);
    const staff = signedIn && isStaff(claims());
    for (const node of document.querySelectorAll("[data-when]")) {
      const when = node.dataset.when;
      node.hidden = when === "signed-in" ? !signedIn : when === "staff" ? !staff : signedIn;
    }
    $("user-email").textContent = signedIn ? String(claims().email || "") : "";
  }

  // --- routing ----------------------------------------------------------------------------------
  const routes = {
    "#/": { view: "view-sessions", access: "guest", load: loadSessions },
    "#/tickets": { view: "view-tickets", access: "guest", load: loadTickets },
    "#/request": { view: "view-request", access: "guest", load: loadRequestForm },
    "#/staff/check-in": { view: "view-check-in", access: "staff", load: loadCheckIn },
    "#/staff/requests": { view: "view-staff-requests", access: "staff", load: loadRequests },
    "#/sign-in": { view: "view-sign-in", access: "public" },
    "#/sign-up": { view: "view-sign-up", access: "public" },
    "#/confirm": { view: "view-confirm", access: "public" },
    "#/challenge": { view: "view-challenge", access: "public" },
  };

  function navigate(hash) {
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  }

  function show(viewId) {
    for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== viewId;
    const view = $(viewId);
    view.dataset.ready = "false";
    const heading = view.querySelector("h1");
    // Moving focus to the heading tells screen readers that the page changed.
    if (heading) heading.focus({ preventScroll: false });
    for (const link of document.querySelectorAll("#main-nav a")) {
      if (link.getAttribute("href") === window.location.hash) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function route() {
    const hash = window.location.hash || "#/";
    const target = routes[hash] || routes["#/"];
    if (hash !== "#/staff/check-in") stopScan();
    if (target.access !== "public" && !tokens) {
      routeAfterSignIn = routes[hash] ? hash : "#/";
      show("view-sign-in");
      $("view-sign-in").dataset.ready = "true";
      return;
    }
    if (target.access === "public" && tokens && hash !== "#/challenge") {
      navigate("#/");
      return;
    }
    if (target.access === "staff" && !isStaff(claims())) {
      show("view-forbidden");
      $("view-forbidden").dataset.ready = "true";
      return;
    }
    show(target.view);
    const finish = () => {
      $(target.view).dataset.ready = "true";
    };
    if (target.load) target.load().finally(finish);
    else finish();
  }

  // --- sign up, confirm, sign in ----------------------------------------------------------------
  function renderPolicy() {
    const list = $("password-policy");
    const rules = passwordRules(config.passwordPolicy, $("sign-up-password").value);
    list.replaceChildren(...rules.map(({ rule, text, met }) => {
      const item = element("li", { className: met ? "policy__rule policy__rule--met" : "policy__rule" });
      item.dataset.rule = rule;
      item.dataset.met = String(met);
      item.append(element("span", { text }), element("span", { text: met ? " (done)" : "", className: "visually-hidden" }));
      return item;
    }));
    return rules.every((rule) => rule.met);
  }

  function busy(button, isBusy) {
    button.disabled = isBusy;
    button.setAttribute("aria-busy", String(isBusy));
  }

  function firstInvalid(form) {
    for (const control of form.querySelectorAll("input, select, textarea")) {
      if (!control.checkValidity()) {
        control.focus();
        return control;
      }
    }
    return null;
  }

  $("sign-up-password").addEventListener("input", renderPolicy);
  $("sign-up-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage("sign-up-error", "");
    const form = event.currentTarget;
    const password = $("sign-up-password");
    password.setCustomValidity(renderPolicy() ? "" : "The password does not meet the policy yet.");
    const invalid = firstInvalid(form);
    if (invalid) {
      setMessage("sign-up-error", invalid.validationMessage || "Please check the form.");
      return;
    }
    const email = $("sign-up-email").value.trim();
    const attributes = [{ Name: "email", Value: email }, { Name: "name", Value: $("sign-up-name").value.trim() }];
    const phone = $("sign-up-phone").value.trim();
    if (phone) attributes.push({ Name: "phone_number", Value: phone });
    busy($("sign-up-submit"), true);
    try {
      const answer = await cognito("SignUp", {
        ClientId: config.userPoolClientId, Username: email, Password: password.value,
        UserAttributes: attributes,
      });
      password.value = "";
      renderPolicy();
      $("sign-in-email").value = email;
      if (answer.UserConfirmed) {
        setMessage("sign-in-status", "Your account is ready. Please sign in.");
        navigate("#/sign-in");
      } else {
        $("confirm-email").value = email;
        const destination = answer.CodeDeliveryDetails?.Destination;
        setMessage("confirm-status", destination
          ? `We sent a confirmation code to ${destination}.` : "We sent you a confirmation code.");
        navigate("#/confirm");
      }
    } catch (error) {
      setMessage("sign-up-error", error.message);
    } finally {
      busy($("sign-up-submit"), false);
    }
  });

  $("confirm-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage("confirm-error", "");
    const invalid = firstInvalid(event.currentTarget);
    if (invalid) {
      setMessage("confirm-error", invalid.validationMessage || "Please check the form.");
      return;
    }
    const email = $("confirm-email").value.trim();
    busy($("confirm-submit"), true);
    try {
      await cognito("ConfirmSignUp", {
        ClientId: config.userPoolClientId, Username: email, ConfirmationCode: $("confirm-code").value.trim(),
      });
      $("confirm-code").value = "";
      $("sign-in-email").value = email;
      setMessage("sign-in-status", "Your email is confirmed. Please sign in.");
      navigate("#/sign-in");
    } catch (error) {
      setMessage("confirm-error", error.message);
    } finally {
      busy($("confirm-submit"), false);
    }
  });

  $("confirm-resend").addEventListener("click", async () => {
    setMessage("confirm-error", "");
    const email = $("confirm-email").value.trim();
    if (!email) {
      setMessage("confirm-error", "Enter your email first.");
      $("confirm-email").focus();
      return;
    }
    try {
      await cognito("ResendConfirmationCode", { ClientId: config.userPoolClientId, Username: email });
      setMessage("confirm-status", "We sent you a new code.");
    } catch (error) {
      setMessage("confirm-error", error.message);
    }
  });

  const CHALLENGES = {
    NEW_PASSWORD_REQUIRED: {
      label: "New password", field: "NEW_PASSWORD", type: "password", autocomplete: "new-password",
      hint: "Your account needs a new password before its first use.",
    },
    SOFTWARE_TOKEN_MFA: {
      label: "Code from your authenticator app", field: "SOFTWARE_TOKEN_MFA_CODE", type: "text",
      autocomplete: "one-time-code", hint: "Enter the six-digit code.",
    },
    SMS_MFA: {
      label: "Code from the text message", field: "SMS_MFA_CODE", type: "text",
      autocomplete: "one-time-code", hint: "Enter the code we sent to your phone.",
    },
  };

  function afterAuthentication(answer, email) {
    if (answer.AuthenticationResult) {
      acceptAuthentication(answer.AuthenticationResult);
      pendingChallenge = null;
      const next = routeAfterSignIn;
      routeAfterSignIn = "#/";
      navigate(next);
      return;
    }
    const challenge = CHALLENGES[answer.ChallengeName];
    if (!challenge) {
      throw new CallError(`This account needs a sign-in step this page does not offer (${answer.ChallengeName}).`, 0, "");
    }
    pendingChallenge = { name: answer.ChallengeName, session: answer.Session, email, ...challenge };
    $("challenge-label").textContent = challenge.label;
    $("challenge-hint").textContent = challenge.hint;
    $("challenge-answer").type = challenge.type;
    $("challenge-answer").autocomplete = challenge.autocomplete;
    $("challenge-answer").value = "";
    navigate("#/challenge");
  }

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage("sign-in-error", "");
    const invalid = firstInvalid(event.currentTarget);
    if (invalid) {
      setMessage("sign-in-error", invalid.validationMessage || "Please check the form.");
      return;
    }
    const email = $("sign-in-email").value.trim();
    busy($("sign-in-submit"), true);
    try {
      const answer = await cognito("InitiateAuth", {
        AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.userPoolClientId,
        AuthParameters: { USERNAME: email, PASSWORD: $("sign-in-password").value },
      });
      $("sign-in-password").value = "";
      setMessage("sign-in-status", "");
      afterAuthentication(answer, email);
    } catch (error) {
      if (error.type === "UserNotConfirmedException") {
        $("confirm-email").value = email;
        setMessage("confirm-status", "Please confirm your email first: enter the code we sent you.");
        navigate("#/confirm");
        return;
      }
      setMessage("sign-in-error", error.message);
    } finally {
      busy($("sign-in-submit"), false);
    }
  });

  $("challenge-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage("challenge-error", "");
    if (!pendingChallenge) {
      navigate("#/sign-in");
      return;
    }
    const answerValue = $("challenge-answer").value;
    if (!answerValue) {
      setMessage("challenge-error", "Please fill in the field.");
      $("challenge-answer").focus();
      return;
    }
    busy($("challenge-submit"), true);
    try {
      const answer = await cognito("RespondToAuthChallenge", {
        ClientId: config.userPoolClientId, ChallengeName: pendingChallenge.name,
        Session: pendingChallenge.session,
        ChallengeResponses: { USERNAME: pendingChallenge.email, [pendingChallenge.field]: answerValue },
      });
      $("challenge-answer").value = "";
      afterAuthentication(answer, pendingChallenge.email);
    } catch (error) {
      setMessage("challenge-error", error.message);
    } finally {
      busy($("challenge-submit"), false);
    }
  });

  $("sign-out").addEventListener("click", () => {
    const accessToken = tokens?.accessToken;
    signOut("You are signed out.");
    // Ends the refresh token everywhere; the page is signed out whether or not this succeeds.
    if (accessToken) cognito("GlobalSignOut", { AccessToken: accessToken }).catch(() => {});
  });

  // --- sessions ---------------------------------------------------------------------------------
  let sessions = [];
  let registeredSessionIds = new Set();

  function qrCache() {
    try {
      return JSON.parse(sessionStorage.getItem(QR_STORE_KEY) || "{}");
    } catch {
      return {};
    }
  }

  function rememberQr(registrationId, svg) {
    if (typeof svg !== "string" || !svg) return;
    const cache = qrCache();
    cache[registrationId] = svg;
    sessionStorage.setItem(QR_STORE_KEY, JSON.stringify(cache));
  }

  async function fetchSessions() {
    const { payload } = await api("GET", "/sessions");
    sessions = Array.isArray(payload.sessions) ? payload.sessions : [];
    return sessions;
  }

  function renderSessions() {
    const list = $("sessions-list");
    list.replaceChildren(...sessions.map((session) => {
      const item = element("li", { className: "card", testid: "session" });
      item.dataset.sessionId = String(session.sessionId);
      const title = element("h2", { text: session.title, className: "card__title", testid: "session-title" });
      const when = element("p", { className: "card__meta", testid: "session-time" });
      when.append(timeElement(session.startsAt), document.createTextNode(" to "), timeElement(session.endsAt));
      const room = element("p", { text: `Room: ${session.room ?? ""}`, className: "card__meta", testid: "session-room" });
      const capacity = Number(session.capacity) || 0;
      const registered = Number(session.registered) || 0;
      const seatsLeft = Math.max(capacity - registered, 0);
      const seats = element("p", {
        text: capacity ? `${seatsLeft} of ${capacity} seats left` : "", className: "card__meta", testid: "session-seats",
      });
      const mine = registeredSessionIds.has(String(session.sessionId));
      const button = element("button", {
        text: mine ? "Registered" : seatsLeft === 0 && capacity ? "Full" : "Register",
        className: mine ? "button button--done" : "button", testid: "register",
        attributes: { type: "button", "aria-label": `${mine ? "Registered for" : "Register for"} ${session.title}` },
      });
      button.dataset.sessionId = String(session.sessionId);
      // A full session may still free a seat: the server decides, so only "mine" disables.
      button.disabled = mine;
      item.append(title, when, room, seats, button);
      return item;
    }));
  }

  async function loadSessions() {
    setMessage("sessions-error", "");
    setMessage("sessions-status", "Loading sessions…");
    try {
      const [, registrations] = await Promise.all([fetchSessions(), api("GET", "/registrations")]);
      const items = Array.isArray(registrations.payload.registrations) ? registrations.payload.registrations : [];
      registeredSessionIds = new Set(items.map((item) => String(item.sessionId)));
      renderSessions();
      setMessage("sessions-status", sessions.length ? `${counted(sessions.length, "session")}.` : "No sessions yet.");
    } catch (error) {
      setMessage("sessions-status", "");
      setMessage("sessions-error", error.message);
    }
  }

  $("sessions-refresh").addEventListener("click", () => {
    $("view-sessions").dataset.ready = "false";
    loadSessions().finally(() => {
      $("view-sessions").dataset.ready = "true";
    });
  });

  $("sessions-list").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-testid='register']");
    if (!button) return;
    const sessionId = button.dataset.sessionId;
    const title = sessions.find((session) => String(session.sessionId) === sessionId)?.title ?? "the session";
    setMessage("sessions-error", "");
    busy(button, true);
    try {
      const { status, payload } = await api("POST", `/sessions/${encodeURIComponent(sessionId)}/registrations`,
                                            { idempotencyKey: crypto.randomUUID() });
      rememberQr(payload.registrationId, payload.qrSvg);
      registeredSessionIds.add(sessionId);
      renderSessions();
      setMessage("sessions-status", status === 201
        ? `You are registered for ${title}. Your ticket is under My tickets.`
        : `You were already registered for ${title}. Your ticket is under My tickets.`);
    } catch (error) {
      setMessage("sessions-error", error.message);
      busy(button, false);
    }
  });

  // --- tickets ----------------------------------------------------------------------------------
  function renderTicket(registration, cachedSvgs) {
    const item = element("li", { className: "card ticket", testid: "ticket" });
    item.dataset.registrationId = String(registration.registrationId);
    item.dataset.sessionId = String(registration.sessionId);
    const title = element("h2", { text: registration.title || registration.sessionId, className: "card__title", testid: "ticket-title" });
    const when = element("p", { className: "card__meta", testid: "ticket-time" });
    when.append(timeElement(registration.startsAt));
    const checkedIn = element("p", { className: "card__meta", testid: "ticket-checked-in" });
    if (registration.checkedInAt) checkedIn.append("Checked in ", timeElement(registration.checkedInAt));
    else checkedIn.textContent = "Not checked in yet";
    const qr = element("div", { className: "ticket__qr", testid: "ticket-qr" });
    qr.dataset.token = String(registration.qr ?? "");
    const svgText = registration.qrSvg || cachedSvgs[registration.registrationId];
    const svg = safeSvg(svgText);
    if (svg) {
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", `QR code for ${registration.title || "your ticket"}`);
      svg.setAttribute("focusable", "false");
      qr.append(svg);
    } else {
      qr.append(element("p", { text: "Show this code at the door:", className: "hint" }),
        element("code", { text: registration.qr ?? "", className: "ticket__token", testid: "ticket-token" }));
    }
    item.append(title, when, checkedIn, qr);
    return item;
  }

  async function loadTickets() {
    setMessage("tickets-error", "");
    setMessage("tickets-status", "Loading your tickets…");
    try {
      const { payload } = await api("GET", "/registrations");
      const registrations = Array.isArray(payload.registrations) ? payload.registrations : [];
      registrations.sort((a, b) => String(a.startsAt).localeCompare(String(b.startsAt)));
      for (const registration of registrations) rememberQr(registration.registrationId, registration.qrSvg);
      const cached = qrCache();
      $("tickets-list").replaceChildren(...registrations.map((item) => renderTicket(item, cached)));
      setMessage("tickets-status", registrations.length
        ? `${counted(registrations.length, "ticket")}.` : "No tickets yet: register for a session first.");
    } catch (error) {
      setMessage("tickets-status", "");
      setMessage("tickets-error", error.message);
    }
  }

  $("tickets-refresh").addEventListener("click", () => {
    $("view-tickets").dataset.ready = "false";
    loadTickets().finally(() => {
      $("view-tickets").dataset.ready = "true";
    });
  });

  // --- request something ------------------------------------------------------------------------
  function fillTypeOptions(select, keepFirst) {
    const current = select.value;
    const options = config.requestTypes.map((type) => element("option", { text: type, attributes: { value: type } }));
    if (keepFirst) select.replaceChildren(select.options[0], ...options);
    else select.replaceChildren(...options);
    if ([...select.options].some((option) => option.value === current)) select.value = current;
  }

  async function loadRequestForm() {
    setMessage("request-error", "");
    fillTypeOptions($("request-type"), false);
    const select = $("request-session");
    const current = select.value;
    try {
      if (!sessions.length) await fetchSessions();
    } catch (error) {
      setMessage("request-error", `Sessions could not be loaded: ${error.message}`);
    }
    select.replaceChildren(select.options[0], ...sessions.map((session) => element("option", {
      text: session.title, attributes: { value: session.sessionId },
    })));
    select.value = [...select.options].some((option) => option.value === current) ? current : "";
  }

  function renderNoteCount() {
    $("request-note-count").textContent = `${$("request-note").value.length} of ${NOTE_LIMIT} characters`;
  }
  $("request-note").addEventListener("input", renderNoteCount);

  $("request-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage("request-error", "");
    setMessage("request-result", "");
    delete $("request-result").dataset.requestId;
    const body = { type: $("request-type").value, note: $("request-note").value.trim() };
    if ($("request-session").value) body.sessionId = $("request-session").value;
    if (!body.type) {
      setMessage("request-error", "Choose what you need.");
      $("request-type").focus();
      return;
    }
    busy($("request-submit"), true);
    try {
      const { payload } = await api("POST", "/requests", { body, idempotencyKey: crypto.randomUUID() });
      $("request-note").value = "";
      renderNoteCount();
      $("request-result").dataset.requestId = String(payload.requestId ?? "");
      setMessage("request-result", `Your request was sent at ${formatTime(payload.createdAt)}. Staff have been told.`);
    } catch (error) {
      setMessage("request-error", error.message);
    } finally {
      busy($("request-submit"), false);
    }
  });

  // --- staff: check-in --------------------------------------------------------------------------
  let scan = null;

  async function loadCheckIn() {
    const canScan = "BarcodeDetector" in window && Boolean(navigator.mediaDevices?.getUserMedia);
    $("check-in-scan").hidden = !canScan || Boolean(scan);
    $("check-in-code").focus();
  }

  function stopScan() {
    if (!scan) return;
    clearTimeout(scan.timer);
    for (const track of scan.stream.getTracks()) track.stop();
    scan = null;
    const video = $("check-in-video");
    video.srcObject = null;
    video.hidden = true;
    $("check-in-scan-stop").hidden = true;
    $("check-in-scan").hidden = !("BarcodeDetector" in window);
  }

  async function startScan() {
    setMessage("check-in-error", "");
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (!formats.includes("qr_code")) {
        setMessage("check-in-error", "This browser cannot read QR codes: paste the code instead.");
        return;
      }
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      const video = $("check-in-video");
      scan = { stream, timer: 0 };
      video.srcObject = stream;
      video.hidden = false;
      $("check-in-scan").hidden = true;
      $("check-in-scan-stop").hidden = false;
      $("check-in-scan-stop").focus();
      await video.play();
      setMessage("check-in-status", "Point the camera at the guest's QR code.");
      const look = async () => {
        if (!scan) return;
        try {
          const codes = video.readyState >= 2 ? await detector.detect(video) : [];
          const code = codes.find((found) => found.rawValue)?.rawValue;
          if (code) {
            stopScan();
            $("check-in-code").value = code;
            await checkIn(code);
            return;
          }
        } catch {
          // A frame the detector could not read: try the next one.
        }
        if (scan) scan.timer = setTimeout(look, SCAN_INTERVAL_MS);
      };
      look();
    } catch (error) {
      stopScan();
      setMessage("check-in-status", "");
      setMessage("check-in-error", error?.name === "NotAllowedError"
        ? "The camera is not allowed: paste the code instead." : "The camera could not be started: paste the code instead.");
    }
  }

  async function checkIn(code) {
    setMessage("check-in-error", "");
    setMessage("check-in-status", "Checking…");
    const result = $("check-in-result");
    result.hidden = true;
    busy($("check-in-submit"), true);
    try {
      const { payload } = await api("POST", "/check-ins", { body: { code } });
      const first = payload.firstCheckIn === true;
      result.dataset.firstCheckIn = String(first);
      result.dataset.registrationId = String(payload.registrationId ?? "");
      result.classList.toggle("result--repeat", !first);
      $("check-in-first").replaceChildren(first
        ? "Welcome! First check-in."
        : "Already checked in at ", ...(first ? [] : [timeElement(payload.checkedInAt)]));
      $("check-in-guest-name").textContent = String(payload.guest?.name ?? "");
      $("check-in-guest-email").textContent = String(payload.guest?.email ?? "");
      $("check-in-session").textContent = String(payload.session?.title ?? payload.session?.sessionId ?? "");
      $("check-in-time").replaceChildren(timeElement(payload.checkedInAt));
      result.hidden = false;
      setMessage("check-in-status", first ? "Checked in." : "This ticket was already used.");
      $("check-in-code").value = "";
      $("check-in-code").focus();
    } catch (error) {
      setMessage("check-in-status", "");
      setMessage("check-in-error", error.message);
    } finally {
      busy($("check-in-submit"), false);
    }
  }

  $("check-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const code = $("check-in-code").value.trim();
    if (!code) {
      setMessage("check-in-error", "Paste or scan a ticket code first.");
      $("check-in-code").focus();
      return;
    }
    checkIn(code);
  });
  $("check-in-scan").addEventListener("click", startScan);
  $("check-in-scan-stop").addEventListener("click", () => {
    stopScan();
    setMessage("check-in-status", "Camera stopped.");
    $("check-in-code").focus();
  });

  // --- staff: requests board --------------------------------------------------------------------
  async function loadRequests() {
    setMessage("requests-error", "");
    setMessage("requests-status", "Loading requests…");
    fillTypeOptions($("requests-filter"), true);
    const type = $("requests-filter").value;
    try {
      if (!sessions.length) await fetchSessions().catch(() => []);
      const { payload } = await api("GET", "/requests", { query: type ? { type } : undefined });
      const requests = Array.isArray(payload.requests) ? payload.requests : [];
      const titles = new Map(sessions.map((session) => [String(session.sessionId), session.title]));
      $("requests-list").replaceChildren(...requests.map((request) => {
        const row = element("tr", { testid: "request" });
        row.dataset.requestId = String(request.requestId ?? "");
        row.dataset.type = String(request.type ?? "");
        const when = element("td");
        when.append(timeElement(request.createdAt));
        const session = request.sessionId ? titles.get(String(request.sessionId)) ?? request.sessionId : "";
        row.append(when, element("td", { text: request.type ?? "", testid: "request-type-cell" }),
          element("td", { text: request.note ?? "", testid: "request-note-cell" }),
          element("td", { text: session, testid: "request-session-cell" }),
          element("td", { text: request.email ?? "", testid: "request-guest-cell" }),
          element("td", { text: request.status ?? "", testid: "request-status-cell" }));
        return row;
      }));
      setMessage("requests-status", `${counted(requests.length, `${type ? `${type} ` : ""}request`)}, newest first. Updated ${formatTime(new Date().toISOString())}.`);
    } catch (error) {
      setMessage("requests-status", "");
      setMessage("requests-error", error.message);
    }
  }

  const reloadRequests = () => {
    $("view-staff-requests").dataset.ready = "false";
    loadRequests().finally(() => {
      $("view-staff-requests").dataset.ready = "true";
    });
  };
  $("requests-refresh").addEventListener("click", reloadRequests);
  $("requests-filter").addEventListener("change", reloadRequests);

  // --- go ---------------------------------------------------------------------------------------
  renderPolicy();
  renderAccount();
  window.addEventListener("hashchange", route);
  route();
  document.documentElement.dataset.appReady = "true";
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
