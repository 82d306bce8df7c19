#!/usr/bin/env python3
"""The dashboard in a real browser (docs/dashboard.md, "Tests").

Run by Tests/FixityCLITests/DashboardTests.swift against a live `fixity serve` with agents on
loopback; every input arrives in the environment (see `need` below). Drives Debian's headless
Chromium through chromedriver with selenium: logs in, reads the fleet, tampers a host and
watches it turn red without a reload, opens a release and its diff, follows a ledger entry to
its proof, creates and revokes keys (the revoked key's open session ends), approves an access
window, and checks that a form without its CSRF token and a page beyond a key's scopes are
refused. Saves a screenshot of each page into FIXITY_SHOTS. Exits 0, or 1 naming the failed step.
"""
import os
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def need(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"browser_test: {name} is not set")
    return value


BASE = need("FIXITY_URL")
ADMIN = need("FIXITY_ADMIN_KEY")
VIEWER = need("FIXITY_VIEWER_KEY")
APPROVER = need("FIXITY_APPROVER_KEY")
TAMPER = need("FIXITY_TAMPER_FILE")
HOST = need("FIXITY_HOST")
ENV = need("FIXITY_ENV")
RELEASE = need("FIXITY_RELEASE")
WINDOW = need("FIXITY_WINDOW")
OPEN_WINDOW = need("FIXITY_OPEN_WINDOW")
SHOTS = need("FIXITY_SHOTS")
CHROMIUM = os.environ.get("FIXITY_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("FIXITY_CHROMEDRIVER", "/usr/bin/chromedriver")


class Failed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failed(what)
    print(f"ok   {what}", flush=True)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1360,900", "--force-device-scale-factor=1"]:
        options.add_argument(argument)
    # chromedriver from Debian's package, named: selenium must not look for one on the network.
    return webdriver.Chrome(options=options, service=Service(DRIVER))


def shoot(driver, name):
    """The whole page, however long, as docs/screenshots shows it."""
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 600)")
    driver.set_window_size(1360, min(height + 40, 4000))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))
    driver.set_window_size(1360, 900)


def eventually(driver, condition, what, seconds=10):
    """Waits for `condition(driver)`, looking again each time (a click's page load replaces the
    elements found before it)."""
    def safe(d):
        try:
            return condition(d)
        except Exception:
            return False
    try:
        WebDriverWait(driver, seconds, poll_frequency=0.05).until(safe)
    except TimeoutException:
        raise Failed(what)
    print(f"ok   {what}", flush=True)


def login(driver, key):
    driver.get(BASE + "/dashboard/login")
    field = driver.find_element(By.ID, "key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "section.login button").click()


def post_without_token(driver, path, body):
    """A form posted from this session's own page, but without the CSRF field: the status."""
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: arguments[1]})
          .then(r => done(r.status)).catch(e => done(String(e)));
        """, path, body)


def run():
    admin = browser()
    viewer = browser()
    try:
        # Logging in: a wrong key is refused on the form, a good one opens the fleet.
        admin.get(BASE + "/dashboard")
        check("/dashboard/login" in admin.current_url, "an unauthenticated page sends the browser to the login form")
        shoot(admin, "login")
        login(admin, "fxk_" + "A" * 43)
        eventually(admin, lambda d: "Not logged in" in d.page_source, "a wrong key is refused at login, with the reason")
        login(admin, ADMIN)
        eventually(admin, lambda d: d.current_url.rstrip("/").endswith("/dashboard"),
                   "a good key logs in and lands on the environments")
        cookies = {c["name"]: c for c in admin.get_cookies()}
        session = cookies.get("fixity_session")
        check(session is not None and session["httpOnly"] and session.get("sameSite") == "Strict",
              "the session cookie is HttpOnly and SameSite=Strict")
        check(admin.execute_script("return document.cookie").find("fixity_session") < 0,
              "page script cannot read the session cookie")
        cards = admin.find_elements(By.CSS_SELECTOR, f'article.card[data-env="{ENV}"]')
        check(len(cards) == 1, f"the environments page shows {ENV}")
        shoot(admin, "environments")
        admin.get(BASE + "/dashboard/no/such/page")
        check(admin.title.startswith("404") and "no dashboard page" in admin.page_source,
              "an unknown dashboard path is an HTML 404 page")
        for path, named in [("/dashboard/ledger?kind=nope", "kind"), ("/dashboard/ledger?before=x", "before"),
                            (f"/dashboard/releases/{RELEASE}?dir=../etc", "dir"),
                            ("/dashboard/state?at=yesterday", "at"), ("/dashboard/ledger/abc", "entry number")]:
            admin.get(BASE + path)
            check(admin.title.startswith("400") and named in admin.find_element(By.TAG_NAME, "main").text,
                  f"{path} is a 400 page naming {named}")

        # One environment: every host converged, then a hand-made change turns its row red
        # within 2 s, with no reload (a marker set in the page survives).
        admin.get(BASE + f"/dashboard/env/{ENV}")
        row = f'tr[data-host="{HOST}"]'
        WebDriverWait(admin, 20).until(
            lambda d: "state-converged" in d.find_element(By.CSS_SELECTOR, row).get_attribute("class"))
        check(True, f"{HOST} shows converged")
        # The live stream is connected once it delivered its first host list.
        WebDriverWait(admin, 10).until(
            lambda d: d.find_element(By.ID, "live").get_attribute("data-updated"))
        shoot(admin, "environment")
        desired = admin.page_source[admin.page_source.find("Desired release"):][:600]
        check("web@1.1" in desired, "releases are named APP@TAG, their digest a click away: " + desired)
        admin.execute_script("window.fixityMarker = 'no reload'")
        with open(TAMPER, "a") as tampered:
            tampered.write("hot-fix by hand\n")
        started = time.monotonic()
        try:
            WebDriverWait(admin, 2.0, poll_frequency=0.05).until(
                lambda d: "state-drifted" in d.find_element(By.CSS_SELECTOR, row).get_attribute("class"))
        except TimeoutException:
            raise Failed(f"{HOST} did not turn red within 2 s of the tamper")
        elapsed = time.monotonic() - started
        check(admin.execute_script("return window.fixityMarker") == "no reload",
              f"{HOST} turned red {elapsed:.2f} s after the tamper, without a reload")
        pill = admin.find_element(By.CSS_SELECTOR, '[data-count-of="drifted"]')
        check("zero" not in pill.get_attribute("class") and pill.text.startswith("1"), "the drifted count reads 1")
        shoot(admin, "drifted")

        # The host: its drift with the path, and its history.
        admin.get(BASE + f"/dashboard/hosts/{HOST}")
        drift = admin.find_element(By.CSS_SELECTOR, "table.drift").text
        check("index.html" in drift, "the host page lists the drifted path")
        shoot(admin, "host")

        # A release and its diff to the one before it; a digest opens to its full value.
        admin.get(BASE + f"/dashboard/releases/{RELEASE}")
        diff = admin.find_element(By.CSS_SELECTOR, "table.diff").text
        check("index.html" in diff, "the release page's diff names the changed file")
        summary = admin.find_element(By.CSS_SELECTOR, "details.digest summary")
        summary.click()
        full = admin.find_element(By.CSS_SELECTOR, "details.digest[open] code.full").text
        check(full.startswith("sha256:") and len(full) == 71, "a shortened digest opens to its full value")
        check(HOST in admin.find_element(By.TAG_NAME, "main").text, "the release page says which host ran it")
        shoot(admin, "release")

        # The ledger, filtered, and an entry's inclusion proof, verified.
        admin.get(BASE + "/dashboard/ledger?kind=promote")
        rows = admin.find_elements(By.CSS_SELECTOR, "table.ledger tbody tr")
        check(len(rows) >= 1 and all("promote" in r.text for r in rows), "the ledger filters by kind")
        shoot(admin, "ledger")
        rows[0].find_element(By.CSS_SELECTOR, "a").click()
        eventually(admin, lambda d: "Verified here" in d.find_element(By.CSS_SELECTOR, "#proof + p").text,
                   "a ledger entry links to its inclusion proof, which verifies")
        check(len(admin.find_elements(By.CSS_SELECTOR, "ol.path li")) >= 1, "the proof shows its audit path")
        shoot(admin, "ledger-entry")
        at = urllib.parse.quote(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        admin.get(BASE + f"/dashboard/state?env={ENV}&at={at}")
        check(RELEASE[7:19] in admin.page_source, "state at now names the desired release")
        shoot(admin, "state-at")
        admin.get(BASE + "/dashboard/state")
        check("Show state at" in admin.page_source and RELEASE[7:19] in admin.page_source,
              "state without an instant is the state now, with the form to ask another")

        # A form without its CSRF token is refused, with the session's own cookie.
        status = post_without_token(admin, "/dashboard/keys", "name=sneaky&scopes=admin&expires=1d")
        check(status == 403, f"a form posted without its CSRF token is refused (got {status})")
        admin.get(BASE + "/dashboard/keys")
        check("sneaky" not in admin.page_source, "and made nothing")

        # Keys: create one (shown once).
        admin.find_element(By.NAME, "name").send_keys("temp-ci")
        admin.find_element(By.NAME, "scopes").send_keys("release:read")
        admin.find_element(By.CSS_SELECTOR, "form.create button").click()
        eventually(admin, lambda d: d.find_element(By.ID, "new-key").text.startswith("fxk_"), "a created key is shown once")
        shoot(admin, "keys")

        # A key without a scope: the page is refused, as the API refuses the route.
        login(viewer, VIEWER)
        eventually(viewer, lambda d: d.current_url.rstrip("/").endswith("/dashboard"), "the viewer key logs in")
        for path, scope in [("/dashboard/ledger", "ledger:read"), ("/dashboard/keys", "admin")]:
            viewer.get(BASE + path)
            body = viewer.find_element(By.TAG_NAME, "main").text
            check("403" in viewer.title and scope in body, f"{path} is refused to a key without {scope}")
        shoot(viewer, "refused")

        # Revoking the viewer's key ends its session: its open page is sent to the login form
        # by the live stream, and its next request is refused.
        viewer.get(BASE + f"/dashboard/env/{ENV}")
        WebDriverWait(viewer, 10).until(lambda d: d.find_element(By.ID, "live").get_attribute("data-updated"))
        admin.get(BASE + "/dashboard/keys")
        admin.find_element(By.CSS_SELECTOR, 'tr[data-key="viewer"] form button').click()
        eventually(admin, lambda d: "revoked" in d.find_element(By.CSS_SELECTOR, 'tr[data-key="viewer"]').text,
                   "the viewer key is revoked")
        try:
            WebDriverWait(viewer, 10).until(lambda d: "/dashboard/login" in d.current_url)
        except TimeoutException:
            raise Failed("the revoked key's open page was not ended")
        viewer.get(BASE + "/dashboard")
        check("/dashboard/login" in viewer.current_url, "the revoked key's session is over")

        # An approver approves a pending window from the access page.
        login(viewer, APPROVER)
        eventually(viewer, lambda d: d.current_url.rstrip("/").endswith("/dashboard"), "the approver logs in")
        viewer.get(BASE + "/dashboard/access")
        article = viewer.find_element(By.ID, f"window-{WINDOW}")
        ran = viewer.find_element(By.CSS_SELECTOR, f"article.window.open#window-{OPEN_WINDOW}").text
        check("$ echo hello from h2" in ran and "exit 0" in ran and "hello from h2\n" in ran + "\n",
              f"an open window shows its commands with their exit codes and output ({ran!r})")
        shoot(viewer, "access-pending")
        article.find_element(By.CSS_SELECTOR, 'form[action$="/approve"] button').click()
        eventually(viewer, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"article.window.open#window-{WINDOW}")) == 1,
                   f"window {WINDOW} opened on approval")
        shoot(viewer, "access")

        # Logging out ends the session.
        admin.find_element(By.CSS_SELECTOR, "form.who button").click()
        eventually(admin, lambda d: "/dashboard/login" in d.current_url, "the logout form leads to the login page")
        admin.get(BASE + "/dashboard/keys")
        check("/dashboard/login" in admin.current_url, "logging out ends the session")

        # Refused pages (401, 403) are meant; script, CSP and rendering errors are not.
        severe = [e for e in admin.get_log("browser") + viewer.get_log("browser")
                  if e["level"] == "SEVERE" and e.get("source") != "network"]
        check(not severe, f"no script or CSP error in the console ({severe[:3]})")
    finally:
        admin.quit()
        viewer.quit()


if __name__ == "__main__":
    try:
        run()
    except Failed as failure:
        print(f"FAIL {failure}", flush=True)
        sys.exit(1)
