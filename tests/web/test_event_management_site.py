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
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

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
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


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
        " noBody: app.errorMessage({}, 502), unreachable: app.errorMessage(null, 0)}));")
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
