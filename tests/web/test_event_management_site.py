"""The event management web app (``web/event_management/``), checked without a browser: the files
index.html loads exist, the page works under a strict Content-Security-Policy (no inline script,
style or event handler), app.js renders data only as text and never evaluates strings, every
control and result has the stable hook the browser test drives, and config.example.js documents
the contract's ``window.BLUEPRINTS_CONFIG`` keys.

With ``node`` installed, app.js is syntax-checked and its pure helpers (token claims, URLs,
configuration, password policy, error messages) are run. With Playwright and Debian's
``chromium`` installed, the page is also driven in headless Chromium against stubbed Cognito and
API answers, served with the CSP the site is deployed with. Neither is the end-to-end test
against local mode: that one uses the real user pool and API.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.web.browser import TOOLS_REQUIRED, chromium_page, file_request, ready, sign_in

SITE = Path(__file__).resolve().parents[2] / "web" / "event_management"
INDEX = SITE / "index.html"
APP = SITE / "app.js"
CONFIG_EXAMPLE = SITE / "config.example.js"
# The contract's keys of window.BLUEPRINTS_CONFIG, all required; the optional ones have defaults.
CONTRACT_CONFIG_KEYS = {"apiUrl", "region", "userPoolId", "userPoolClientId", "cognitoEndpoint"}
OPTIONAL_CONFIG_KEYS = {"eventName", "passwordPolicy", "requestTypes"}
DEPLOY_WRITTEN = {"config.js"}
CONTROLS = {"input", "select", "textarea", "button", "form"}


class Element:
    def __init__(self, tag: str, attributes: dict[str, str | None], line: int) -> None:
        self.tag = tag
        self.attributes = attributes
        self.line = line
        self.text = ""

    def get(self, name: str) -> str:
        return self.attributes.get(name) or ""


class Page(HTMLParser):
    """Every element of a page with its attributes, and the text inside script and style."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open_raw: Element | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), self.getpos()[0])
        self.elements.append(element)
        if tag in ("script", "style"):
            self._open_raw = element

    def handle_endtag(self, tag: str) -> None:
        if self._open_raw is not None and tag == self._open_raw.tag:
            self._open_raw = None

    def handle_data(self, data: str) -> None:
        if self._open_raw is not None:
            self._open_raw.text += data

    def ids(self) -> set[str]:
        return {element.get("id") for element in self.elements if element.get("id")}

    def testids(self) -> set[str]:
        return {element.get("data-testid") for element in self.elements
                if element.get("data-testid")}


@pytest.fixture(scope="module")
def page() -> Page:
    return Page(INDEX.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def app_source() -> str:
    return APP.read_text(encoding="utf-8")


def local_references(page: Page) -> list[str]:
    references = []
    for element in page.elements:
        for name in ("src", "href"):
            value = element.get(name)
            if not value or value.startswith(("#", "data:", "mailto:")):
                continue
            if urlsplit(value).scheme or value.startswith("//"):
                continue
            references.append(urlsplit(value).path)
    return references


# --- files ---------------------------------------------------------------------------------------

def test_every_file_index_html_loads_is_in_the_site(page: Page) -> None:
    references = local_references(page)
    assert {"app.js", "style.css", "config.js"} <= set(references)
    missing = [ref for ref in references
               if ref not in DEPLOY_WRITTEN and not (SITE / ref).is_file()]
    assert missing == []


def test_the_deploy_written_config_is_documented_not_committed() -> None:
    assert CONFIG_EXAMPLE.is_file()
    assert not (SITE / "config.js").exists(), "config.js is written at deploy time"


def test_config_loads_before_the_app(page: Page) -> None:
    scripts = [element for element in page.elements if element.tag == "script"]
    assert [script.get("src") for script in scripts] == ["config.js", "app.js"]
    assert scripts[1].get("type") == "module"
    assert scripts[0].get("type") in ("", "text/javascript")  # classic: runs before the module


# --- a strict Content-Security-Policy ------------------------------------------------------------

def test_no_inline_script_or_style(page: Page) -> None:
    inline_scripts = [s.line for s in page.elements
                      if s.tag == "script" and (s.text.strip() or not s.get("src"))]
    style_elements = [e.line for e in page.elements if e.tag == "style"]
    style_attributes = [e.line for e in page.elements if "style" in e.attributes]
    assert (inline_scripts, style_elements, style_attributes) == ([], [], [])


def test_no_event_handler_attributes_or_script_urls(page: Page) -> None:
    handlers = [(e.line, name) for e in page.elements
                for name in e.attributes if name.startswith("on")]
    script_urls = [e.line for e in page.elements for value in e.attributes.values()
                   if (value or "").strip().lower().startswith("javascript:")]
    assert (handlers, script_urls) == ([], [])


@pytest.mark.parametrize("pattern", [
    r"\binnerHTML\b", r"\bouterHTML\b", r"\binsertAdjacentHTML\b", r"document\.write",
    r"\beval\s*\(", r"\bnew\s+Function\b", r"\bFunction\s*\(",
    r"set(?:Timeout|Interval)\s*\(\s*[\"'`]",
    r"createElement\(\s*[\"']script", r"\.style\.", r"setAttribute\(\s*[\"']style",
    r"\bcreateContextualFragment\b",
])
def test_app_js_never_parses_data_as_markup_or_code(app_source: str, pattern: str) -> None:
    assert re.search(pattern, app_source) is None


def test_the_qr_svg_is_parsed_as_svg_and_rebuilt_from_an_allow_list(app_source: str) -> None:
    assert 'parseFromString(svgText, "image/svg+xml")' in app_source
    allowed = re.search(r"SVG_ELEMENTS = new Set\(\[([^\]]*)\]", app_source)
    assert allowed is not None
    elements = set(re.findall(r'"([^"]+)"', allowed.group(1)))
    assert "svg" in elements
    assert elements.isdisjoint({"script", "foreignObject", "a", "use", "image", "style", "iframe"})
    attributes = re.search(r"SVG_ATTRIBUTES = new Set\(\[([^\]]*)\]", app_source)
    assert attributes is not None
    names = set(re.findall(r'"([^"]+)"', attributes.group(1)))
    assert not [name for name in names
                if name.startswith("on") or "href" in name or name == "style"]


# --- accessibility and stable hooks --------------------------------------------------------------

def test_every_control_has_an_id_and_the_same_testid(page: Page) -> None:
    controls = [e for e in page.elements if e.tag in CONTROLS]
    assert controls
    unhooked = [(e.line, e.tag) for e in controls
                if not e.get("id") or e.get("data-testid") != e.get("id")]
    assert unhooked == []


def test_every_field_has_a_label(page: Page) -> None:
    labelled = {e.get("for") for e in page.elements if e.tag == "label"}
    fields = [e.get("id") for e in page.elements if e.tag in ("input", "select", "textarea")]
    assert [field for field in fields if field not in labelled] == []


def test_results_and_errors_are_announced(page: Page) -> None:
    live = [e for e in page.elements if e.get("role") in ("status", "alert") or e.get("aria-live")]
    for suffix in ("error", "status", "result"):
        hooked = {e.get("data-testid") for e in live if e.get("data-testid").endswith(suffix)}
        assert hooked, suffix
    every_error = {e.get("id") for e in page.elements if e.get("id").endswith("-error")}
    assert every_error <= {e.get("id") for e in live}


def test_every_view_has_a_focusable_heading(page: Page) -> None:
    html = INDEX.read_text(encoding="utf-8")
    views = re.findall(r'<section class="view" id="([\w-]+)"[^>]*>\s*(?:<div[^>]*>\s*)?'
                       r'<h1 id="[\w-]+" tabindex="-1">', html)
    sections = [e.get("id") for e in page.elements if e.tag == "section"]
    assert views == sections


def test_the_app_reaches_only_elements_the_page_has(page: Page, app_source: str) -> None:
    wanted = set(re.findall(r'\$\("([\w-]+)"\)', app_source))
    assert wanted
    assert wanted - page.ids() == set()


def test_every_documented_hook_exists(page: Page, app_source: str) -> None:
    block = app_source.split("Stable hooks", 1)[1].split("*/", 1)[0]
    hyphenated = {word for word in re.findall(r"\b[a-z]+(?:-[a-z]+)+\b", block)
                  if not word.startswith(("data-", "aria-"))}
    named = set(re.findall(r"data-testid=([\w-]+)", block))
    rendered = set(re.findall(r'testid: "([\w-]+)"', app_source))
    known = page.ids() | page.testids() | rendered
    assert hyphenated | named, "the hook list is empty"
    assert (hyphenated | named) - known == set()
    assert rendered - (hyphenated | named) == set(), "every rendered hook is documented"


# --- config.example.js -------------------------------------------------------------------------

def test_config_example_has_the_contracts_keys() -> None:
    source = CONFIG_EXAMPLE.read_text(encoding="utf-8")
    assert source.count("window.BLUEPRINTS_CONFIG = {") == 1
    keys = set(re.findall(r"^ {2}(\w+):", source, flags=re.MULTILINE))
    assert keys >= CONTRACT_CONFIG_KEYS
    assert keys - CONTRACT_CONFIG_KEYS <= OPTIONAL_CONFIG_KEYS


def test_app_requires_exactly_the_contracts_keys(app_source: str) -> None:
    required = re.search(r"REQUIRED_CONFIG_KEYS = Object\.freeze\(\s*\[([^\]]*)\]", app_source)
    assert required is not None
    assert set(re.findall(r'"(\w+)"', required.group(1))) == CONTRACT_CONFIG_KEYS


def test_cognito_calls_use_the_json_protocol(app_source: str) -> None:
    assert '"Content-Type": "application/x-amz-json-1.1"' in app_source
    assert "`AWSCognitoIdentityProviderService.${action}`" in app_source
    for action in ("SignUp", "ConfirmSignUp", "InitiateAuth"):
        assert f'cognito("{action}"' in app_source
    flows = set(re.findall(r'AuthFlow: "(\w+)"', app_source))
    assert flows == {"USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"}


# --- node: syntax and the pure helpers -----------------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None and not TOOLS_REQUIRED, reason="node is not installed")


def run_node(script: str) -> Any:
    assert NODE is not None
    done = subprocess.run([NODE, "--input-type=module", "-e", script], cwd=SITE,  # noqa: S603
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_node
@pytest.mark.parametrize("name", ["app.js", "config.example.js"])
def test_node_accepts_the_syntax(name: str) -> None:
    assert NODE is not None
    done = subprocess.run([NODE, "--check", str(SITE / name)], capture_output=True, text=True,  # noqa: S603
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr


@needs_node
def test_config_example_sets_the_contracts_keys_when_run() -> None:
    keys = run_node(
        "import fs from 'node:fs'; import vm from 'node:vm';"
        "const context = {window: {}};"
        "vm.runInNewContext(fs.readFileSync('config.example.js', 'utf8'), context);"
        "const app = await import('./app.js');"
        "const {config, problems} = app.readConfig(context.window.BLUEPRINTS_CONFIG);"
        "console.log(JSON.stringify({keys: Object.keys(context.window.BLUEPRINTS_CONFIG), problems,"
        " configured: config !== null}));")
    assert set(keys["keys"]) >= CONTRACT_CONFIG_KEYS
    assert keys["problems"] == []
    assert keys["configured"] is True


def jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


@needs_node
def test_helpers_read_claims_urls_config_policy_and_errors() -> None:
    staff = jwt({"cognito:groups": ["staff"], "email": "kim@example.com", "name": "Zoë"})
    guest = jwt({"email": "g@example.com"})
    out = run_node(
        "const app = await import('./app.js');"
        f"const staff = app.jwtClaims({json.dumps(staff)});"
        f"const guest = app.jwtClaims({json.dumps(guest)});"
        "console.log(JSON.stringify({"
        " staffName: staff.name, isStaff: app.isStaff(staff), guestIsStaff: app.isStaff(guest),"
        " groupString: app.isStaff({'cognito:groups': 'staff'}),"
        " garbage: app.jwtClaims('not.a-token'),"
        " url: app.apiEndpoint('https://api.test/dev/', '/requests', {type: 'food & drink'}),"
        " plain: app.apiEndpoint('https://api.test/dev', 'sessions'),"
        " missing: app.readConfig(undefined).problems,"
        " partial: app.readConfig({apiUrl: 'ftp://x', region: 'eu-west-1'}).problems,"
        " policyDefaults: app.readConfig({apiUrl: 'https://a', region: 'r', userPoolId: 'p',"
        "   userPoolClientId: 'c', cognitoEndpoint: 'https://c', passwordPolicy: {minimumLength: 8,"
        "   requireSymbols: false}}).config.passwordPolicy,"
        " weak: app.passwordRules(app.DEFAULT_PASSWORD_POLICY, 'short')"
        "   .filter(r => !r.met).map(r => r.rule),"
        " strong: app.passwordRules(app.DEFAULT_PASSWORD_POLICY, 'Correct-Horse-9')"
        "   .filter(r => !r.met),"
        " serverMessage: app.errorMessage({message: 'Session is full'}, 409),"
        " cognitoType: app.errorMessage({__type: 'com.amazonaws#UsernameExistsException'}, 400),"
        " cognitoName: app.cognitoErrorType({__type: 'com.amazonaws#UserNotConfirmedException'}),"
        " noBody: app.errorMessage({}, 502), unreachable: app.errorMessage(null, 0),"
        " counts: [0, 1, 2].map(n => app.counted(n, 'ticket'))}));")
    assert out["staffName"] == "Zoë"
    assert (out["isStaff"], out["guestIsStaff"], out["groupString"]) == (True, False, True)
    assert out["garbage"] == {}
    assert out["url"] == "https://api.test/dev/requests?type=food+%26+drink"
    assert out["plain"] == "https://api.test/dev/sessions"
    assert out["missing"] == ["window.BLUEPRINTS_CONFIG is missing: config.js did not load"]
    assert out["partial"] == ["userPoolId is missing", "userPoolClientId is missing",
                              "cognitoEndpoint is missing", "apiUrl must be an http(s) URL"]
    assert out["policyDefaults"] == {"minimumLength": 8, "requireLowercase": True,
                                     "requireUppercase": True, "requireNumbers": True,
                                     "requireSymbols": False}
    assert out["weak"] == ["length", "uppercase", "number", "symbol"]
    assert out["strong"] == []
    assert out["serverMessage"] == "Session is full"
    assert out["cognitoType"] == "Username Exists"
    assert out["cognitoName"] == "UserNotConfirmedException"
    assert out["noBody"] == "The request failed (HTTP 502)."
    assert out["unreachable"] == "The service could not be reached."
    assert out["counts"] == ["0 tickets", "1 ticket", "2 tickets"]


# --- headless Chromium against stubbed Cognito and API answers -----------------------------------

SITE_ORIGIN = "https://site.test"
API_URL = "https://api.test/dev"
COGNITO_URL = "https://cognito.test/"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       f"connect-src {API_URL.rsplit('/', 1)[0]} {COGNITO_URL.rstrip('/')}; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
# segno's inline output (no namespace, no viewBox), and one carrying what a forged SVG could.
QR_SVG = ('<svg width="148" height="148" class="segno"><path transform="scale(4)" class="qrline" '
          'stroke="#000" d="M4 4.5h7m1 0h5"/></svg>')
HOSTILE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
               'onload="window.pwned=1">'
               '<script>window.pwned=2</script><foreignObject><p>x</p></foreignObject></svg>')
STRONG_PASSWORD = "Correct-Horse-9"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


class Backend:
    """Cognito and the REST API as the contract answers them, in memory, recording every call."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {
            "staff@example.com": {"name": "Sam Staff", "password": STRONG_PASSWORD,
                                  "confirmed": True, "groups": ["staff"]}}
        self.cognito_calls: list[tuple[str, dict[str, Any]]] = []
        self.api_calls: list[tuple[str, str, dict[str, Any] | None]] = []
        self.sessions: list[dict[str, Any]] = [
            {"sessionId": "keynote", "title": "Keynote <b>", "startsAt": "2027-05-01T09:00:00Z",
             "endsAt": "2027-05-01T10:00:00Z", "room": "Main hall", "capacity": 100,
             "registered": 3},
            {"sessionId": "workshop", "title": "Workshop", "startsAt": "2027-05-01T11:00:00Z",
             "endsAt": "2027-05-01T12:00:00Z", "room": "Room 2", "capacity": 1, "registered": 1}]
        self.registrations: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.qr_svg = QR_SVG

    def token_of(self, email: str) -> str:
        user = self.users[email]
        claims = {"email": email, "name": user["name"], "sub": f"sub-{email}",
                  "exp": 4_102_444_800, "cognito:groups": user.get("groups", [])}
        return jwt(claims)

    def cognito(self, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.cognito_calls.append((action, body))
        if action == "SignUp":
            attributes = {a["Name"]: a["Value"] for a in body["UserAttributes"]}
            if body["Username"] in self.users:
                return 400, {"__type": "UsernameExistsException", "message": "User already exists"}
            self.users[body["Username"]] = {
                "name": attributes["name"], "password": body["Password"], "confirmed": False}
            return 200, {"UserConfirmed": False, "UserSub": "sub",
                         "CodeDeliveryDetails": {"Destination": "g***@e***",
                                                 "DeliveryMedium": "EMAIL"}}
        if action == "ConfirmSignUp":
            if body["ConfirmationCode"] != "123456":
                return 400, {"__type": "CodeMismatchException",
                             "message": "Invalid verification code provided, please try again."}
            self.users[body["Username"]]["confirmed"] = True
            return 200, {}
        if action == "InitiateAuth" and body["AuthFlow"] == "USER_PASSWORD_AUTH":
            email = body["AuthParameters"]["USERNAME"]
            user = self.users.get(email)
            if not user or user["password"] != body["AuthParameters"]["PASSWORD"]:
                return 400, {"__type": "NotAuthorizedException",
                             "message": "Incorrect username or password."}
            if not user["confirmed"]:
                return 400, {"__type": "UserNotConfirmedException",
                             "message": "User is not confirmed."}
            return 200, {"AuthenticationResult": {
                "IdToken": self.token_of(email), "AccessToken": "a",
                "RefreshToken": f"refresh-{email}", "ExpiresIn": 3600}}
        if action == "GlobalSignOut":
            return 200, {}
        return 400, {"__type": "InvalidParameterException", "message": f"unexpected {action}"}

    def api(self, method: str, url: str, headers: dict[str, str],
            body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(url)
        path = parts.path.removeprefix("/dev")
        self.api_calls.append((method, parts.path + (f"?{parts.query}" if parts.query else ""),
                               body))
        token = headers.get("authorization", "")
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==")) \
            if token.count(".") == 2 else {}
        if not claims.get("email"):
            return 401, {"message": "Unauthorized"}
        guest = claims["email"]
        if method == "GET" and path == "/sessions":
            return 200, {"sessions": self.sessions}
        if method == "POST" and path.startswith("/sessions/"):
            session_id = path.split("/")[2]
            session = next((s for s in self.sessions if s["sessionId"] == session_id), None)
            if session is None:
                return 404, {"message": "Session not found"}
            existing = self.registrations.get((session_id, guest))
            if existing:
                return 200, {**existing, "qrSvg": self.qr_svg}
            if session["registered"] >= session["capacity"]:
                return 409, {"message": "This session is full"}
            session["registered"] += 1
            registration = {"registrationId": f"reg-{len(self.registrations) + 1}",
                            "sessionId": session_id, "qr": f"EVT1.payload-{session_id}.mac"}
            self.registrations[(session_id, guest)] = {**registration, "guest": guest,
                                                       "checkedInAt": None}
            return 201, {**registration, "qrSvg": self.qr_svg}
        if method == "GET" and path == "/registrations":
            mine = [{"registrationId": r["registrationId"], "sessionId": s, "qr": r["qr"],
                     "title": next(x["title"] for x in self.sessions if x["sessionId"] == s),
                     "startsAt": "2027-05-01T09:00:00Z", "checkedInAt": r["checkedInAt"]}
                    for (s, g), r in self.registrations.items() if g == guest]
            return 200, {"registrations": mine}
        if method == "POST" and path == "/requests":
            assert body is not None
            request = {"requestId": f"req-{len(self.requests) + 1}",
                       "createdAt": "2027-05-01T09:30:00Z",
                       "type": body["type"], "note": body.get("note", ""),
                       "sessionId": body.get("sessionId"), "email": guest, "status": "open"}
            self.requests.insert(0, request)
            return 201, {"requestId": request["requestId"], "createdAt": request["createdAt"]}
        staff = "staff" in claims.get("cognito:groups", [])
        if method == "GET" and path == "/requests":
            if not staff:
                return 403, {"message": "Staff only"}
            wanted = parse_qs(parts.query).get("type", [None])[0]
            return 200, {"requests": [r for r in self.requests if wanted in (None, r["type"])]}
        if method == "POST" and path == "/check-ins":
            assert body is not None
            found = next(((key, r) for key, r in self.registrations.items()
                          if r["qr"] == body["code"]), None)
            if found is None:
                return 400, {"message": "Invalid code"}
            (session_id, email), registration = found
            first = registration["checkedInAt"] is None
            if first:
                registration["checkedInAt"] = "2027-05-01T08:55:00Z"
            return 200, {"registrationId": registration["registrationId"],
                         "guest": {"name": self.users[email]["name"], "email": email},
                         "session": {"sessionId": session_id, "title": "Keynote <b>"},
                         "checkedInAt": registration["checkedInAt"], "firstCheckIn": first}
        return 404, {"message": "Not found"}


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[tuple[Any, Backend, list[str]]]:
    backend = Backend()
    config = {"apiUrl": API_URL, "region": "eu-west-1", "userPoolId": "eu-west-1_Test",
              "userPoolClientId": "client", "cognitoEndpoint": COGNITO_URL,
              "eventName": "Test Days"}
    cors = {"access-control-allow-origin": SITE_ORIGIN, "access-control-allow-headers": "*",
            "access-control-allow-methods": "GET, POST, OPTIONS"}

    def serve_site(route: Any) -> None:
        name = urlsplit(route.request.url).path.lstrip("/") or "index.html"
        if name == "config.js":
            body = f"window.BLUEPRINTS_CONFIG = {json.dumps(config)};".encode()
        elif (SITE / name).is_file() and name != "config.example.js":
            body = (SITE / name).read_bytes()
        else:
            route.fulfill(status=404, body="not found")
            return
        route.fulfill(status=200, body=body, headers={
            "content-type": CONTENT_TYPES[Path(name).suffix], "content-security-policy": CSP})

    def answer(route: Any, status: int, payload: dict[str, Any]) -> None:
        route.fulfill(status=status, body=json.dumps(payload),
                      headers={**cors, "content-type": "application/json"})

    def serve_cognito(route: Any) -> None:
        request = route.request
        if request.method == "OPTIONS":
            route.fulfill(status=204, headers=cors)
            return
        assert request.headers["content-type"] == "application/x-amz-json-1.1"
        action = request.headers["x-amz-target"].removeprefix("AWSCognitoIdentityProviderService.")
        answer(route, *backend.cognito(action, json.loads(request.post_data or "{}")))

    def serve_api(route: Any) -> None:
        request = route.request
        if request.method == "OPTIONS":
            route.fulfill(status=204, headers=cors)
            return
        body = json.loads(request.post_data) if request.post_data else None
        answer(route, *backend.api(request.method, request.url, request.headers, body))

    def prepare(context: Any) -> None:
        context.route(f"{SITE_ORIGIN}/**", serve_site)
        context.route("https://cognito.test/**", serve_cognito)
        context.route("https://api.test/**", serve_api)

    with chromium_page(timeout_ms=10_000, prepare=prepare) as (page, problems):
        try:
            yield page, backend, problems
        finally:
            page.screenshot(path=str(tmp_path / "last-step.png"), full_page=True)


def test_a_guest_signs_up_registers_files_a_request_and_staff_check_them_in(
        browser_page: tuple[Any, Backend, list[str]]) -> None:
    page, backend, problems = browser_page
    page.goto(f"{SITE_ORIGIN}/#/sign-up")
    ready(page, "view-sign-up")
    assert page.text_content("#event-name") == "Test Days"
    page.fill("#sign-up-email", "guest@example.com")
    page.fill("#sign-up-name", "Gwen <Guest>")
    page.fill("#sign-up-password", "short")
    assert page.locator("#password-policy li[data-met='false']").count() == 4
    page.click("#sign-up-submit")
    assert page.is_visible("#sign-up-error")
    assert [action for action, _ in backend.cognito_calls] == []
    page.fill("#sign-up-password", STRONG_PASSWORD)
    page.click("#sign-up-submit")
    ready(page, "view-confirm")
    assert "g***@e***" in page.text_content("#confirm-status")
    page.fill("#confirm-code", "000000")
    page.click("#confirm-submit")
    page.wait_for_selector("#confirm-error:not([hidden])")
    assert page.text_content("#confirm-error") == ("Invalid verification code provided, "
                                                   "please try again.")
    page.fill("#confirm-code", "123456")
    page.click("#confirm-submit")
    ready(page, "view-sign-in")
    assert page.input_value("#sign-in-email") == "guest@example.com"
    page.fill("#sign-in-password", STRONG_PASSWORD)
    page.click("#sign-in-submit")
    ready(page, "view-sessions")
    assert page.text_content("#user-email") == "guest@example.com"
    assert page.is_hidden("#nav-staff-check-in")
    titles = page.locator("[data-testid=session-title]").all_text_contents()
    assert titles == ["Keynote <b>", "Workshop"]

    page.click("[data-testid=register][data-session-id=workshop]")
    page.wait_for_selector("#sessions-error:not([hidden])")
    assert page.text_content("#sessions-error") == "This session is full"
    page.click("[data-testid=register][data-session-id=keynote]")
    # The button is disabled while the request runs; "done" comes once the answer is in.
    page.wait_for_selector("[data-testid=register][data-session-id=keynote].button--done")
    assert "registered for Keynote <b>" in page.text_content("#sessions-status")

    page.click("#nav-tickets")
    ready(page, "view-tickets")
    qr = page.locator("[data-testid=ticket-qr]")
    assert qr.get_attribute("data-token") == "EVT1.payload-keynote.mac"
    assert qr.locator("svg path").count() == 1
    assert qr.locator("svg").get_attribute("viewBox") == "0 0 148 148"

    assert file_request(page, "food", "keynote", "Vegan lunch, please") == "req-1"
    assert backend.api_calls[-1] == ("POST", "/dev/requests", {
        "type": "food", "note": "Vegan lunch, please", "sessionId": "keynote"})

    page.click("#sign-out")
    ready(page, "view-sign-in")
    sign_in(page, SITE_ORIGIN, "staff@example.com", STRONG_PASSWORD)
    ready(page, "view-sessions")
    page.click("#nav-staff-check-in")
    ready(page, "view-check-in")
    for expected in ("true", "false"):
        page.fill("#check-in-code", "EVT1.payload-keynote.mac")
        page.click("#check-in-submit")
        page.wait_for_selector(f"#check-in-result[data-first-check-in='{expected}']:not([hidden])")
    assert page.text_content("#check-in-guest-name") == "Gwen <Guest>"
    assert page.text_content("#check-in-first").startswith("Already checked in at ")
    page.fill("#check-in-code", "EVT1.forged.mac")
    page.click("#check-in-submit")
    page.wait_for_selector("#check-in-error:not([hidden])")
    assert page.text_content("#check-in-error") == "Invalid code"

    page.click("#nav-staff-requests")
    ready(page, "view-staff-requests")
    row = page.locator("[data-testid=request][data-request-id='req-1']")
    assert row.locator("[data-testid=request-session-cell]").text_content() == "Keynote <b>"
    page.select_option("#requests-filter", "handout")
    row.wait_for(state="detached")
    ready(page, "view-staff-requests")
    assert backend.api_calls[-1][:2] == ("GET", "/dev/requests?type=handout")
    assert problems == []


def test_a_hostile_qr_svg_is_not_drawn_and_a_guest_cannot_open_staff_pages(
        browser_page: tuple[Any, Backend, list[str]]) -> None:
    page, backend, problems = browser_page
    backend.qr_svg = HOSTILE_SVG
    backend.users["guest@example.com"] = {"name": "G", "password": STRONG_PASSWORD,
                                          "confirmed": True}
    sign_in(page, SITE_ORIGIN, "guest@example.com", STRONG_PASSWORD)
    ready(page, "view-sessions")
    page.click("[data-testid=register][data-session-id=keynote]")
    page.wait_for_selector("[data-testid=register][data-session-id=keynote].button--done")
    page.goto(f"{SITE_ORIGIN}/#/tickets")
    ready(page, "view-tickets")
    assert page.locator("[data-testid=ticket-qr] svg").count() == 0
    assert page.text_content("[data-testid=ticket-token]") == "EVT1.payload-keynote.mac"
    assert page.evaluate("window.pwned") is None
    page.goto(f"{SITE_ORIGIN}/#/staff/check-in")
    ready(page, "view-forbidden")
    assert problems == []
