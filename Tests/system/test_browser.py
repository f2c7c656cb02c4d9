"""The pages in a real browser: Debian's chromium, driven through chromedriver by selenium (PyPI),
against a real `tack run web` on the private PostgreSQL and Redis.

A person signs up, creates a board, adds columns and cards, drags cards with the mouse (to another
column and within one), opens a card, describes it, marks it done and comments, reloads: everything
is where it was left, in the page and in the API. Then the same board on a phone-sized window:
columns scroll sideways, and a card is dragged by touch. The browser must be there: a missing chromium, chromedriver or
selenium fails these tests, it never skips them (`./platform test` installs all three).

The pages are served as in production: web and two push processes behind the rendered nginx
example, so every board page is live. Two members on one board see each other's work within a
second, never lose a typed text to a teammate's edit or to Esc, and a page whose push process is
kill -9'd ends equal to a fresh load of the board.
"""

import os
import shutil
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from helpers import Nginx, Stack, free_port, mails, metrics, request, shared_board, signup, start_smtp

PASSWORD = "plum orchard lantern seven"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def site(migrated, tmp_path):
    """web (+ worker) and two push processes behind the rendered nginx example, whose address is
    web.base_url (the push handshake checks the Origin against it)."""
    port = free_port()
    stack = Stack(migrated, pushes=2, worker=True, base_url=f"http://127.0.0.1:{port}")
    nginx = Nginx(tmp_path, [int(migrated.env["TACK_WEB_PORT"])], [stack.push_port(0), stack.push_port(1)], port=port)
    stack.nginx = nginx
    yield stack
    nginx.stop()


@pytest.fixture
def web(site):
    return site.nginx.base


@pytest.fixture
def mail_web(migrated, tmp_path):
    """web + worker sending email to a real aiosmtpd (no push: these pages do not use it); yields
    (base URL, outbox)."""
    smtp, port, outbox = start_smtp(tmp_path)
    migrated.env.update({"TACK_MAIL_HOST": "127.0.0.1", "TACK_MAIL_PORT": str(port), "TACK_MAIL_SECURITY": "none",
                         "TACK_MAIL_FROM": "Tack <tack@example.com>"})
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    Stack(migrated, pushes=0, worker=True, base_url=base)
    yield base, outbox
    smtp.kill()


def new_browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: run the tests through `./platform test`, which installs it")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (shutil.which(path) and os.access(path, os.X_OK)):
            pytest.fail(f"{path} is missing: install Debian's {package} (`./platform test` does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1366,860", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def browsers():
    """A factory of browsers (each its own profile: one per person); all quit at the end."""
    made = []

    def make():
        made.append(new_browser())
        return made[-1]
    yield make
    for driver in made:
        driver.quit()


@pytest.fixture
def browser(browsers):
    return browsers()


# ---- helpers ------------------------------------------------------------------------------------

def wait(driver, condition, what, timeout=10):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
    # A live page replaces nodes while a condition reads them: a node removed between finding and
    # reading it (stale) means "not yet", as a missing one does; the next poll reads the page again.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=ignored).until(lambda d: condition(d))
    except Exception as error:
        raise AssertionError(f"timed out waiting for {what} (at {driver.current_url})") from error


def css(driver, selector):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, selector)


def css_all(driver, selector):
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, selector)


def version(driver):
    return int(css(driver, "#board").get_attribute("data-version"))


def layout(driver):
    """{column name: [card titles in order]}, columns in page order, read from the DOM."""
    return driver.execute_script("""
        const out = [];
        document.querySelectorAll('#columns .column[data-column-id]').forEach(c => {
            out.push([c.querySelector('.column-name').textContent.trim(),
                      Array.from(c.querySelectorAll('.cards > .card .card-title')).map(t => t.textContent)]);
        });
        return out;""")


def card(driver, title):
    for element in css_all(driver, "#columns .card"):
        if element.find_element("css selector", ".card-title").text == title:
            return element
    raise AssertionError(f"no card titled {title!r} on the page: {layout(driver)}")


def column(driver, name):
    for element in css_all(driver, "#columns .column[data-column-id]"):
        if element.find_element("css selector", ".column-name").text == name:
            return element
    raise AssertionError(f"no column named {name!r}")


def add_card(driver, column_name, title):
    col = column(driver, column_name)
    before = version(driver)
    opener = col.find_element("css selector", "[data-action='open-add-card']")
    if opener.is_displayed():
        opener.click()
    box = col.find_element("css selector", ".quick-add-card textarea")
    box.send_keys(title + "\n")
    wait(driver, lambda d: version(d) == before + 1 and title in dict(layout(d))[column_name], f"card {title!r}")


def drag(driver, title, onto_title=None, onto_column=None):
    """Drags a card with the mouse (pointer events, as a person would) onto the upper half of
    another card, or to the end of a column; waits for the move to be saved."""
    from selenium.webdriver.common.action_chains import ActionChains
    source = card(driver, title)
    before = version(driver)
    actions = ActionChains(driver, duration=50)
    actions.click_and_hold(source).move_by_offset(8, 12).pause(0.05)
    if onto_title:
        target = card(driver, onto_title)
        actions.move_to_element_with_offset(target, 0, -target.size["height"] // 4)
    else:
        col = column(driver, onto_column)
        actions.move_to_element_with_offset(col.find_element("css selector", ".cards"), 0, col.find_element("css selector", ".cards").size["height"] // 2 - 4)
    actions.move_by_offset(0, 1).pause(0.1).release().perform()
    wait(driver, lambda d: version(d) == before + 1, f"the move of {title!r} to be saved")


class API:
    """The JSON API with the browser's own session (cookie copied from selenium)."""

    def __init__(self, base, driver):
        self.base = base
        self.cookie = "tack_session=" + driver.get_cookie("tack_session")["value"]

    def get(self, path):
        status, _, body = request(self.base, "GET", "/api/v1" + path, headers={"Cookie": self.cookie})
        assert status == 200, f"GET {path}: {status} {body}"
        return body

    def send(self, method, path, body, driver):
        """A write with the page's CSRF token, as the page's own script sends it."""
        csrf = css(driver, "meta[name=csrf-token]").get_attribute("content")
        status, _, reply = request(self.base, method, "/api/v1" + path, body, {"Cookie": self.cookie, "X-CSRF-Token": csrf})
        assert status < 300, f"{method} {path}: {status} {reply}"
        return reply


def sign_up(d, web, name, email):
    """Signs up through the sign-up page; ends on the boards page."""
    d.get(web + "/signup")
    css(d, "#signup-form [name=name]").send_keys(name)
    css(d, "#signup-form [name=email]").send_keys(email)
    css(d, "#signup-form [name=password]").send_keys(PASSWORD + "\n")
    wait(d, lambda d: css_all(d, "body[data-page=boards] #new-board"), "the boards page")


def sign_up_with_a_board(d, web, name, email, board):
    """Signs up, makes a board through the boards page and opens it; returns (board id, API)."""
    sign_up(d, web, name, email)
    css(d, "#new-board [name=name]").send_keys(board + "\n")
    wait(d, lambda d: css_all(d, "body[data-page=board] #board"), "the board")
    return int(css(d, "#board").get_attribute("data-board-id")), API(web, d)


# ---- tests --------------------------------------------------------------------------------------

def test_sign_up_build_a_board_drag_comment_and_reload(web, browser, tmp_path):
    d = browser
    # A page without a session sends the visitor to log in, and back afterwards.
    d.get(web + "/boards")
    wait(d, lambda d: "/login" in d.current_url and css_all(d, "#login-form"), "the login redirect")
    assert "next=%2Fboards" in d.current_url or "next=/boards" in d.current_url, d.current_url
    css(d, ".auth-alt a").click()
    wait(d, lambda d: "/signup" in d.current_url and css_all(d, "#signup-form"), "the sign-up page")

    css(d, "#signup-form [name=name]").send_keys("Grace Hopper")
    css(d, "#signup-form [name=email]").send_keys("grace@example.com")
    css(d, "#signup-form [name=password]").send_keys(PASSWORD)
    css(d, "#signup-form [type=submit]").click()
    wait(d, lambda d: d.current_url.endswith("/boards") and css_all(d, "body[data-page=boards] .account"), "the boards page after sign-up")
    assert "Grace Hopper" in css(d, ".account").text

    css(d, "#new-board [name=name]").send_keys("Launch plan")
    css(d, "#new-board [name=description]").send_keys("Everything for the spring launch")
    css(d, "#new-board [type=submit]").click()
    wait(d, lambda d: "/boards/" in d.current_url and css_all(d, "body[data-page=board] #board"), "the new board")
    board_id = int(css(d, "#board").get_attribute("data-board-id"))
    assert css(d, ".board-name").text == "Launch plan"
    api = API(web, d)
    assert version(d) == api.get(f"/boards/{board_id}")["board"]["version"]

    for name in ("Ideas", "Doing"):
        before = version(d)
        field = css(d, "#new-column [name=name]")
        field.send_keys(name + "\n")
        wait(d, lambda d: version(d) == before + 1 and name in dict(layout(d)), f"column {name!r}")
    add_card(d, "Ideas", "Write the press release")
    add_card(d, "Ideas", "Book the venue")
    add_card(d, "Ideas", "Order the T-shirts")
    add_card(d, "Doing", "Draft the budget")
    assert layout(d) == [["Ideas", ["Write the press release", "Book the venue", "Order the T-shirts"]],
                         ["Doing", ["Draft the budget"]]]

    # Drag to another column, above the card there; then reorder within a column.
    drag(d, "Book the venue", onto_title="Draft the budget")
    drag(d, "Order the T-shirts", onto_title="Write the press release")
    expected = [["Ideas", ["Order the T-shirts", "Write the press release"]],
                ["Doing", ["Book the venue", "Draft the budget"]]]
    assert layout(d) == expected
    assert [column(d, name).find_element("css selector", ".column-count").text for name in ("Ideas", "Doing")] == ["2", "2"]

    # The card dialog: description (Markdown, rendered safely), done, a comment.
    card(d, "Book the venue").click()
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")
    assert css(d, "#cd-title").get_attribute("value") == "Book the venue"
    # The open card has an address to paste into chat; closing the dialog gives the board's back.
    venue = int(card(d, "Book the venue").get_attribute("data-card-id"))
    assert d.current_url == web + f"/boards/{board_id}/cards/{venue}", d.current_url
    css(d, "#card-dialog [data-action='close-dialog']").click()
    wait(d, lambda d: d.current_url == web + f"/boards/{board_id}", "the board's address after closing the card")
    d.get(web + f"/boards/{board_id}/cards/{venue}")
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog from the card's address")
    assert css(d, "#cd-title").get_attribute("value") == "Book the venue"
    css(d, "#cd-description-edit-button").click()
    description = ("Call **both** venues <b>today</b>.\n\n"
                   "- [Hall A](https://example.com/hall-a)\n- [not a link](javascript:alert(1))")
    css(d, "#cd-description-input").send_keys(description)
    before = version(d)
    css(d, "#cd-description-save").click()
    wait(d, lambda d: version(d) == before + 1 and css(d, "#cd-description strong").text == "both", "the saved description")
    rendered = css(d, "#cd-description").get_attribute("innerHTML")
    assert "<b>" not in rendered and "&lt;b&gt;today&lt;/b&gt;" in rendered, rendered
    links = [a.get_attribute("href") for a in css_all(d, "#cd-description a")]
    assert links == ["https://example.com/hall-a"], links
    assert len(css_all(d, "#cd-description li")) == 2

    before = version(d)
    css(d, "#cd-done").click()
    wait(d, lambda d: version(d) == before + 1, "done to be saved")

    wait(d, lambda d: css_all(d, "#cd-comments .no-comments"), "the comments to load")
    before = version(d)
    css(d, "#cd-comment-form textarea").send_keys("Hall A has the *best* view")
    css(d, "#cd-comment-form [type=submit]").click()
    wait(d, lambda d: version(d) == before + 1 and css_all(d, "#cd-comments .comment"), "the comment")
    # One's own comment can be edited (it says so) and deleted.
    css(d, "#cd-comments [data-action='edit-comment']").click()
    editor = css(d, "#cd-comments .comment-editor")
    editor.clear()
    editor.send_keys("Hall A has the *best* view, truly")
    css(d, "#cd-comments .comment-edit .button-primary").click()
    wait(d, lambda d: css_all(d, "#cd-comments .comment-edited") and "view, truly" in css(d, "#cd-comments .comment-body").text,
         "the edited comment")
    css(d, "#cd-comment-form textarea").send_keys("A second thought")
    css(d, "#cd-comment-form [type=submit]").click()
    wait(d, lambda d: len(css_all(d, "#cd-comments .comment")) == 2, "the second comment")
    css_all(d, "#cd-comments [data-action='delete-comment']")[1].click()
    d.switch_to.alert.accept()
    wait(d, lambda d: len(css_all(d, "#cd-comments .comment")) == 1, "the deleted comment to go")
    comments = api.get(f"/boards/{board_id}/cards/{venue}/comments")["items"]
    assert [c["body"] for c in comments] == ["Hall A has the *best* view, truly"] and comments[0].get("edited_at"), comments
    css(d, "#card-dialog [data-action='close-dialog']").click()
    assert "is-done" in card(d, "Book the venue").get_attribute("class")
    # A card that is not on the board: the board, and a message saying so.
    d.get(web + f"/boards/{board_id}/cards/999999")
    wait(d, lambda d: "not on this board" in css(d, "#toast").text, "the missing card's message")
    assert d.current_url == web + f"/boards/{board_id}" and css(d, "#card-dialog").get_attribute("open") is None
    d.get(web + f"/boards/{board_id}")
    wait(d, lambda d: css_all(d, "body[data-page=board] #board"), "the board again")
    version_before_reload = version(d)

    # Reload: the page shows what was left, at the version the API reports.
    d.refresh()
    wait(d, lambda d: css_all(d, "#board"), "the board after reload")
    assert layout(d) == expected
    assert version(d) == version_before_reload
    venue = card(d, "Book the venue")
    assert "is-done" in venue.get_attribute("class")
    assert venue.find_element("css selector", ".badge-done").is_displayed()
    assert venue.find_element("css selector", ".badge-desc").is_displayed()
    venue.click()
    wait(d, lambda d: css_all(d, "#cd-comments .comment"), "the comment after reload")
    comment = css(d, "#cd-comments .comment")
    assert "Grace Hopper" in comment.text and comment.find_element("css selector", "em").text == "best"
    assert css(d, "#cd-done").is_selected()
    assert css(d, "#cd-description strong").text == "both"
    css(d, "#card-dialog [data-action='close-dialog']").click()

    # The same, through the API.
    snapshot = api.get(f"/boards/{board_id}")
    assert snapshot["board"]["version"] == version(d)
    names = {c["id"]: c["name"] for c in snapshot["columns"]}
    from_api = [[c["name"], [k["title"] for k in snapshot["cards"] if k["column_id"] == c["id"]]] for c in snapshot["columns"]]
    assert from_api == expected, from_api
    venue_card = next(k for k in snapshot["cards"] if k["title"] == "Book the venue")
    assert venue_card["done"] is True and names[venue_card["column_id"]] == "Doing"
    assert venue_card["description"] == description
    comments = api.get(f"/boards/{board_id}/cards/{venue_card['id']}/comments")["items"]
    assert [c["body"] for c in comments] == ["Hall A has the *best* view, truly"]
    events = api.get(f"/boards/{board_id}/events?after=0&limit=1000")["events"]
    assert [e["version"] for e in events] == list(range(1, version(d) + 1))
    assert [e["kind"] for e in events].count("card.moved") == 2

    # Nothing the CSP refused, no script error.
    problems = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not problems, problems

    # Pictures to look at: a laptop and a phone. On the phone the columns scroll sideways and the
    # page itself does not.
    d.save_screenshot(str(tmp_path / "board.png"))
    d.set_window_size(390, 844)
    time.sleep(0.3)
    overflow = d.execute_script("""
        const columns = document.getElementById('columns');
        return [document.documentElement.scrollWidth, window.innerWidth, columns.scrollWidth, columns.clientWidth];""")
    assert overflow[0] <= overflow[1], f"the page scrolls sideways on a phone: {overflow}"
    assert overflow[2] > overflow[3], f"the columns should scroll sideways on a phone: {overflow}"
    d.save_screenshot(str(tmp_path / "board-phone.png"))

    # On a touch screen a card is dragged by its handle (elsewhere a swipe scrolls the board).
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    handle = card(d, "Write the press release").find_element("css selector", ".drag-handle")
    target = card(d, "Order the T-shirts")
    before = version(d)
    touch = ActionBuilder(d, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"))
    touch.pointer_action.move_to(handle).pointer_down().move_to(handle, 0, -12) \
        .move_to(target, 0, -target.size["height"] // 4).move_to(target, 0, 1 - target.size["height"] // 4).pointer_up()
    touch.perform()
    wait(d, lambda d: version(d) == before + 1, "the touch move to be saved")
    assert dict(layout(d))["Ideas"] == ["Write the press release", "Order the T-shirts"]
    snapshot = api.get(f"/boards/{board_id}")
    ideas = next(c["id"] for c in snapshot["columns"] if c["name"] == "Ideas")
    assert [k["title"] for k in snapshot["cards"] if k["column_id"] == ideas] == ["Write the press release", "Order the T-shirts"]

    # Archive a card from its dialog: it leaves the board, the API keeps it as archived.
    shirts = card(d, "Order the T-shirts")
    shirts_id = int(shirts.get_attribute("data-card-id"))
    shirts.click()
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")
    before = version(d)
    css(d, "#cd-archive").click()
    d.switch_to.alert.accept()
    wait(d, lambda d: version(d) == before + 1 and css(d, "#card-dialog").get_attribute("open") is None, "the archive")
    assert dict(layout(d))["Ideas"] == ["Write the press release"]
    assert api.get(f"/boards/{board_id}/cards/{shirts_id}")["archived"] is True
    assert shirts_id not in [k["id"] for k in api.get(f"/boards/{board_id}")["cards"]]
    print(f"screenshots: {tmp_path / 'board.png'} {tmp_path / 'board-phone.png'}")


def test_the_filter_bar_narrows_the_board_live_and_keeps_its_state_in_the_url(web, browser):
    d = browser
    board_id, api = sign_up_with_a_board(d, web, "Fern Filter", "fern@example.com", "Sorting")
    me = api.get("/me")["user"]["id"]
    column = api.send("POST", f"/boards/{board_id}/columns", {"name": "Todo"}, d)["column"]["id"]
    bug = api.send("POST", f"/boards/{board_id}/labels", {"name": "bug", "color": "#e11d48"}, d)["label"]["id"]
    today = datetime.now(timezone.utc).date()
    cards = {}
    for title, extra in (("Alpha crash", {"add_labels": [bug], "add_assignees": [me], "due_at": f"{today - timedelta(days=2)}T12:00:00Z"}),
                         ("Beta docs", {"due_at": f"{today + timedelta(days=3)}T12:00:00Z"}),
                         ("Gamma release", {"done": True})):
        card_id = api.send("POST", f"/boards/{board_id}/cards", {"column_id": column, "title": title}, d)["card"]["id"]
        api.send("PATCH", f"/boards/{board_id}/cards/{card_id}", extra, d)
        cards[title] = card_id
    d.get(web + f"/boards/{board_id}")
    wait(d, lambda d: len(visible_titles(d)) == 3, "the three cards")

    def shows(titles, what):
        try:
            wait(d, lambda d: visible_titles(d) == titles, what)
        except AssertionError as failure:
            raise AssertionError(f"{failure}; shown: {visible_titles(d)}") from None

    # "/" focuses the filter; typing narrows the board and writes the state into the address.
    d.find_element("css selector", "body").send_keys("/")
    wait(d, lambda d: d.switch_to.active_element.get_attribute("id") == "filter-text", "/ to focus the filter")
    d.switch_to.active_element.send_keys("alpha")
    shows(["Alpha crash"], "the text filter")
    assert "q=alpha" in d.current_url and css(d, "#filter-count").text == "1 of 3 cards"
    # Live: a matching card written elsewhere appears, one that does not match stays hidden.
    api.send("POST", f"/boards/{board_id}/cards", {"column_id": column, "title": "Alpha two"}, d)
    api.send("POST", f"/boards/{board_id}/cards", {"column_id": column, "title": "Zeta"}, d)
    shows(["Alpha crash", "Alpha two"], "the live card that matches")
    css(d, "[data-action='clear-filter']").click()
    shows(["Alpha crash", "Beta docs", "Gamma release", "Alpha two", "Zeta"], "every card after Clear")
    assert "q=" not in d.current_url

    for field, value, expected in (("label", str(bug), ["Alpha crash"]), ("member", str(me), ["Alpha crash"]),
                                   ("due", "overdue", ["Alpha crash"]), ("due", "week", ["Beta docs"]),
                                   ("done", "done", ["Gamma release"])):
        if css(d, "[data-action='clear-filter']").is_displayed():
            css(d, "[data-action='clear-filter']").click()
        css(d, f"#filter-bar [name={field}] option[value='{value}']").click()
        shows(expected, f"the {field} filter {value}")
    # The address holds the filter: a reload shows the same cards.
    assert "done=done" in d.current_url
    d.refresh()
    shows(["Gamma release"], "the filter after a reload")
    assert css(d, "#filter-bar [name=done]").get_attribute("value") == "done"
    # A card that stops matching leaves at once (done cleared elsewhere).
    api.send("PATCH", f"/boards/{board_id}/cards/{cards['Gamma release']}", {"done": False}, d)
    shows([], "the card that no longer matches")

    # Search across my boards from the header: the results link to the cards' addresses.
    other = api.send("POST", "/boards", {"name": "Elsewhere"}, d)["board"]["id"]
    other_column = api.send("POST", f"/boards/{other}/columns", {"name": "Later"}, d)["column"]["id"]
    api.send("POST", f"/boards/{other}/cards", {"column_id": other_column, "title": "Alpha elsewhere"}, d)
    top = css(d, "#top-search")
    top.send_keys("alph\n")
    wait(d, lambda d: "/search?q=alph" in d.current_url and len(css_all(d, "#search-results .search-hit")) == 3, "three results")
    hits = {h.find_element("css selector", ".search-title").text: h.text for h in css_all(d, "#search-results .search-hit")}
    assert set(hits) == {"Alpha crash", "Alpha two", "Alpha elsewhere"}, hits
    assert "Elsewhere › Later" in hits["Alpha elsewhere"] and "Sorting › Todo" in hits["Alpha crash"], hits
    assert css(d, "#top-search").get_attribute("value") == "alph"
    [link] = [h.find_element("css selector", ".search-title") for h in css_all(d, "#search-results .search-hit")
              if h.find_element("css selector", ".search-title").text == "Alpha crash"]
    link.click()
    wait(d, lambda d: d.current_url.endswith(f"/boards/{board_id}/cards/{cards['Alpha crash']}")
         and css(d, "#card-dialog").get_attribute("open") is not None, "the card from the search result")
    assert css(d, "#cd-title").get_attribute("value") == "Alpha crash"


def test_board_settings_rename_labels_archive_restore_and_delete(web, browser):
    d = browser
    board_id, api = sign_up_with_a_board(d, web, "Tidy Tim", "tim@example.com", "Garage")
    todo = api.send("POST", f"/boards/{board_id}/columns", {"name": "Todo"}, d)["column"]["id"]
    label = api.send("POST", f"/boards/{board_id}/labels", {"name": "bgu", "color": "#e11d48"}, d)["label"]["id"]
    spare = api.send("POST", f"/boards/{board_id}/labels", {"name": "spare", "color": "#22c55e"}, d)["label"]["id"]
    card_id = api.send("POST", f"/boards/{board_id}/cards", {"column_id": todo, "title": "Fix the door"}, d)["card"]["id"]
    api.send("PATCH", f"/boards/{board_id}/cards/{card_id}", {"add_labels": [label, spare]}, d)
    d.refresh()
    wait(d, lambda d: css_all(d, "[data-action='board-settings']"), "the settings button")

    # Rename and describe the board.
    css(d, "[data-action='board-settings']").click()
    wait(d, lambda d: css(d, "#board-dialog").get_attribute("open") is not None, "the board dialog")
    name = css(d, "#board-form [name=name]")
    name.clear()
    name.send_keys("Garage and shed")
    css(d, "#board-form [name=description]").send_keys("Weekend jobs")
    css(d, "#board-form [type=submit]").click()
    wait(d, lambda d: css(d, ".board-name").text == "Garage and shed", "the renamed board")
    assert api.get(f"/boards/{board_id}")["board"]["description"] == "Weekend jobs"

    # Fix a label's typo and colour; delete another: the card follows at once.
    css(d, "[data-action='board-settings']").click()
    wait(d, lambda d: css(d, "#board-dialog").get_attribute("open") is not None, "the board dialog again")
    row = css(d, f".label-editor[data-label-id='{label}']")
    field = row.find_element("css selector", "input[type=text]")
    field.clear()
    field.send_keys("bug")
    d.execute_script("arguments[0].value = '#1d4ed8'; arguments[0].dispatchEvent(new Event('input'))",
                     row.find_element("css selector", "input[type=color]"))
    row.find_element("css selector", "[type=submit]").click()
    wait(d, lambda d: "Label saved" in css(d, "#toast").text, "the saved label")
    labels = {l["id"]: l for l in api.get(f"/boards/{board_id}/labels")["items"]}
    assert labels[label]["name"] == "bug" and labels[label]["color"] == "#1d4ed8", labels
    css(d, f".label-editor[data-label-id='{spare}'] .button-danger-quiet").click()
    d.switch_to.alert.accept()
    wait(d, lambda d: not css_all(d, f".label-editor[data-label-id='{spare}']"), "the deleted label to leave the list")
    assert api.get(f"/boards/{board_id}/cards/{card_id}")["labels"] == [label]
    wait(d, lambda d: "bug" in card(d, "Fix the door").text and "spare" not in card(d, "Fix the door").text, "the card's labels")

    # An archived card is listed there and restored to its column.
    api.send("PATCH", f"/boards/{board_id}/cards/{card_id}", {"archived": True}, d)
    wait(d, lambda d: not visible_titles(d), "the archived card to leave the board")
    if css(d, "#board-dialog").get_attribute("open") is not None:
        css(d, "#board-dialog [data-action='close-dialog']").click()
    css(d, "[data-action='board-settings']").click()
    wait(d, lambda d: css_all(d, f".archived-card[data-card-id='{card_id}'] button"), "the archived card in the dialog")
    css(d, f".archived-card[data-card-id='{card_id}'] button").click()
    wait(d, lambda d: visible_titles(d) == ["Fix the door"], "the restored card on the board")
    assert api.get(f"/boards/{board_id}/cards/{card_id}")["archived"] is False

    # Archive: the board leaves the list; "Show archived boards" restores it.
    css(d, "[data-action='archive-board']").click()
    d.switch_to.alert.accept()
    wait(d, lambda d: d.current_url.endswith("/boards") and css_all(d, "body[data-page=boards]"), "the boards page")
    assert not css_all(d, f".board-tile[data-board-id='{board_id}']")
    css(d, "[data-action='show-archived']").click()
    wait(d, lambda d: css_all(d, f".archived-board[data-board-id='{board_id}'] button"), "the archived board")
    css(d, f".archived-board[data-board-id='{board_id}'] button").click()
    wait(d, lambda d: css_all(d, f".board-tile[data-board-id='{board_id}']"), "the restored board in the list")

    # Columns reorder by dragging the header, and from the column dialog's Position (keyboard).
    for name in ("Doing", "Done"):
        api.send("POST", f"/boards/{board_id}/columns", {"name": name}, d)
    d.get(web + f"/boards/{board_id}")
    wait(d, lambda d: [n for n, _ in layout(d)] == ["Todo", "Doing", "Done"], "three columns")
    from selenium.webdriver.common.action_chains import ActionChains
    done_head = column(d, "Done").find_element("css selector", ".column-count")
    ActionChains(d).move_to_element(done_head).click_and_hold().move_by_offset(-20, 0) \
        .move_to_element_with_offset(column(d, "Todo"), -100, 0).release().perform()
    wait(d, lambda d: [c["name"] for c in api.get(f"/boards/{board_id}/columns")["items"]] == ["Done", "Todo", "Doing"],
         "the dragged column saved first")
    assert [n for n, _ in layout(d)] == ["Done", "Todo", "Doing"]
    column(d, "Done").find_element("css selector", "[data-action='edit-column']").click()
    wait(d, lambda d: css(d, "#column-dialog").get_attribute("open") is not None, "the column dialog")
    css(d, "#column-form [name=index] option[value='2']").click()
    css(d, "#column-form [type=submit]").click()
    wait(d, lambda d: [n for n, _ in layout(d)] == ["Todo", "Doing", "Done"], "the column moved last from its dialog")
    assert [c["name"] for c in api.get(f"/boards/{board_id}/columns")["items"]] == ["Todo", "Doing", "Done"]

    # Archive a column with its cards (Undo brings both back), then again, and restore it from the
    # board dialog: the column returns where it was, with its cards.
    api.send("POST", f"/boards/{board_id}/cards", {"column_id": todo, "title": "Oil the hinge"}, d)
    wait(d, lambda d: dict(layout(d))["Todo"] == ["Fix the door", "Oil the hinge"], "two cards in Todo")
    column(d, "Todo").find_element("css selector", "[data-action='edit-column']").click()
    wait(d, lambda d: css(d, "#column-dialog").get_attribute("open") is not None, "the column dialog")
    css(d, "#column-dialog [data-action='archive-column']").click()
    wait(d, lambda d: [n for n, _ in layout(d)] == ["Doing", "Done"], "the archived column off the board")
    assert "archived with its 2 cards" in css(d, "#toast").get_attribute("textContent")
    snapshot = api.get(f"/boards/{board_id}")
    assert [c["name"] for c in snapshot["columns"]] == ["Doing", "Done"] and snapshot["cards"] == []
    assert [c["name"] for c in api.get(f"/boards/{board_id}/columns?archived=true")["items"]] == ["Todo"]
    css(d, "#toast [data-action='toast-action']").click()
    wait(d, lambda d: layout(d) == [["Todo", ["Fix the door", "Oil the hinge"]], ["Doing", []], ["Done", []]], "the column back by Undo, with its cards")
    api.send("PATCH", f"/boards/{board_id}/columns/{todo}", {"archived": True}, d)
    wait(d, lambda d: [n for n, _ in layout(d)] == ["Doing", "Done"], "the column archived again")
    css(d, "[data-action='board-settings']").click()
    wait(d, lambda d: css_all(d, f"#board-archived-columns [data-column-id='{todo}'] button"), "the archived column in the dialog")
    css(d, f"#board-archived-columns [data-column-id='{todo}'] button").click()
    wait(d, lambda d: layout(d) == [["Todo", ["Fix the door", "Oil the hinge"]], ["Doing", []], ["Done", []]], "the column restored from the dialog")
    css(d, "#board-dialog [data-action='close-dialog']").click()

    # Delete, confirmed by typing the name: gone for good.
    d.get(web + f"/boards/{board_id}")
    wait(d, lambda d: css_all(d, "[data-action='board-settings']"), "the board")
    css(d, "[data-action='board-settings']").click()
    css(d, "[data-action='delete-board']").click()
    prompt = d.switch_to.alert
    prompt.send_keys("Garage and shed")
    prompt.accept()
    wait(d, lambda d: d.current_url.endswith("/boards") and css_all(d, "body[data-page=boards]"), "the boards page after deleting")
    status, _, _ = request(web, "GET", f"/api/v1/boards/{board_id}", headers={"Cookie": api.cookie})
    assert status == 404


def test_undo_after_a_move_an_archive_and_a_delete(web, browser):
    d = browser
    board_id, api = sign_up_with_a_board(d, web, "Uma Undo", "uma@example.com", "Second thoughts")
    me = api.get("/me")["user"]["id"]
    todo = api.send("POST", f"/boards/{board_id}/columns", {"name": "Todo"}, d)["column"]["id"]
    api.send("POST", f"/boards/{board_id}/columns", {"name": "Done"}, d)
    label = api.send("POST", f"/boards/{board_id}/labels", {"name": "home", "color": "#22c55e"}, d)["label"]["id"]
    ids = {t: api.send("POST", f"/boards/{board_id}/cards", {"column_id": todo, "title": t}, d)["card"]["id"]
           for t in ("Paint", "Plaster", "Sand")}
    api.send("PATCH", f"/boards/{board_id}/cards/{ids['Plaster']}",
             {"description": "Two coats", "add_labels": [label], "add_assignees": [me], "due_at": "2031-05-01T12:00:00Z"}, d)
    d.refresh()
    start = [["Todo", ["Paint", "Plaster", "Sand"]], ["Done", []]]
    wait(d, lambda d: layout(d) == start, "the board")

    def undo(what):
        wait(d, lambda d: css_all(d, "#toast [data-action='toast-action']") and css(d, "#toast").is_displayed(), f"the Undo of {what}")
        before = version(d)
        css(d, "#toast [data-action='toast-action']").click()
        wait(d, lambda d: version(d) > before, f"the undo of {what} to be written")

    # A move, undone: back between its old neighbours, for everyone (it is a write).
    drag(d, "Plaster", onto_column="Done")
    assert layout(d) == [["Todo", ["Paint", "Sand"]], ["Done", ["Plaster"]]]
    undo("the move")
    wait(d, lambda d: layout(d) == start, "the card back in place")
    snapshot = api.get(f"/boards/{board_id}")
    assert [c["title"] for c in sorted(snapshot["cards"], key=lambda c: c["position"]) if c["column_id"] == todo] == ["Paint", "Plaster", "Sand"]

    # An archive, undone.
    card(d, "Plaster").click()
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")
    css(d, "#cd-archive").click()
    d.switch_to.alert.accept()
    wait(d, lambda d: layout(d) == [["Todo", ["Paint", "Sand"]], ["Done", []]], "the archived card gone")
    undo("the archive")
    wait(d, lambda d: layout(d) == start, "the archived card back")
    assert api.get(f"/boards/{board_id}/cards/{ids['Plaster']}")["archived"] is False

    # A delete, undone: the card is made again where it was, with its fields and its checklists.
    for title, items in (("Walls", [{"text": "Fill holes", "done": True, "assignee_id": me}, {"text": "Sand flat", "due_at": "2031-04-20T12:00:00Z"}]),
                         ("Ceiling", [{"text": "Mask lamps"}])):
        api.send("POST", f"/boards/{board_id}/cards/{ids['Plaster']}/checklists", {"title": title, "items": items}, d)
    card(d, "Plaster").click()
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")
    wait(d, lambda d: len(css_all(d, "#cd-checklists .checklist-item")) == 3, "the card's checklists in the dialog")
    css(d, "#cd-delete").click()
    d.switch_to.alert.accept()
    wait(d, lambda d: layout(d) == [["Todo", ["Paint", "Sand"]], ["Done", []]], "the deleted card gone")
    undo("the delete")
    wait(d, lambda d: layout(d) == start and "with its checklists (without its comments" in css(d, "#toast").text, "the deleted card back")
    again = next(c for c in api.get(f"/boards/{board_id}")["cards"] if c["title"] == "Plaster")
    assert again["id"] != ids["Plaster"]
    assert (again["description"], again["labels"], again["assignees"], again["due_at"][:10]) == ("Two coats", [label], [me], "2031-05-01")
    lists = api.get(f"/boards/{board_id}/cards/{again['id']}/checklists")["items"]
    assert [(l["title"], [(i["text"], i["done"], i.get("assignee_id"), (i.get("due_at") or "")[:10]) for i in l["items"]]) for l in lists] == [
        ("Walls", [("Fill holes", True, me, ""), ("Sand flat", False, None, "2031-04-20")]), ("Ceiling", [("Mask lamps", False, None, "")])]
    assert again["checklist_progress"] == {"done": 1, "total": 3}, again["checklist_progress"]
    wait(d, lambda d: css(card(d, "Plaster"), ".badge-checklist").text == "1/3", "the progress on the restored card")


def test_keyboard_only_create_move_two_columns_right_to_the_top_label_and_close(web, browser):
    from selenium.webdriver.common.keys import Keys
    d = browser
    board_id, api = sign_up_with_a_board(d, web, "Kim Keys", "kim@example.com", "No mouse")
    columns = [api.send("POST", f"/boards/{board_id}/columns", {"name": n}, d)["column"]["id"] for n in ("Ideas", "Doing", "Done")]
    api.send("POST", f"/boards/{board_id}/cards", {"column_id": columns[2], "title": "Already done"}, d)
    label = api.send("POST", f"/boards/{board_id}/labels", {"name": "urgent", "color": "#e11d48"}, d)["label"]["id"]
    d.refresh()
    wait(d, lambda d: [n for n, _ in layout(d)] == ["Ideas", "Doing", "Done"], "the board")

    def press(*keys):
        d.switch_to.active_element.send_keys(*keys)

    def focused():
        return d.switch_to.active_element

    # ? lists the shortcuts; Esc closes the list.
    press("?")
    wait(d, lambda d: css(d, "#keys-dialog").get_attribute("open") is not None, "the shortcuts list")
    assert "Move the card" in css(d, "#keys-dialog").text
    press(Keys.ESCAPE)
    wait(d, lambda d: css(d, "#keys-dialog").get_attribute("open") is None, "the shortcuts list to close")
    # n: a new card in the first column; Enter adds it; Esc leaves the focus on it.
    before = version(d)
    press("n")
    wait(d, lambda d: focused().get_attribute("name") == "title", "the new-card box")
    press("Keyboard card", Keys.ENTER)
    wait(d, lambda d: version(d) == before + 1, "the card to be added")
    press(Keys.ESCAPE)
    wait(d, lambda d: focused().get_attribute("aria-label") and focused().get_attribute("aria-label").startswith("Keyboard card"),
         "the focus on the new card")
    # m: move it two columns right and to the top.
    press("m")
    wait(d, lambda d: css(d, "#move-dialog").get_attribute("open") is not None, "the move dialog")
    press(Keys.ARROW_DOWN, Keys.ARROW_DOWN)
    assert css(d, "#move-form [name=column]").get_attribute("value") == str(columns[2])
    press(Keys.TAB)
    assert css(d, "#move-form [name=index]").get_attribute("value") == "0", "Top"
    before = version(d)
    press(Keys.TAB, Keys.ENTER)
    wait(d, lambda d: version(d) == before + 1 and css(d, "#move-dialog").get_attribute("open") is None, "the move")
    assert layout(d)[2] == ["Done", ["Keyboard card", "Already done"]]
    assert focused().get_attribute("aria-label").startswith("Keyboard card")
    # l: its labels; Space toggles one; Esc closes everything.
    press("l")
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None and focused().get_attribute("data-label-id") == str(label),
         "the label toggle in focus")
    before = version(d)
    press(" ")
    wait(d, lambda d: version(d) == before + 1, "the label to be added")
    press(Keys.ESCAPE)
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is None, "the card dialog to close")
    assert not css_all(d, "dialog[open]")
    card_id = next(c["id"] for c in api.get(f"/boards/{board_id}")["cards"] if c["title"] == "Keyboard card")
    assert api.get(f"/boards/{board_id}/cards/{card_id}")["labels"] == [label]
    # Screen readers hear the labels too; arrows go from card to card.
    wait(d, lambda d: "labels: urgent" in card(d, "Keyboard card").get_attribute("aria-label"), "the card's spoken name")
    card(d, "Keyboard card").send_keys(Keys.ARROW_DOWN)
    assert focused().get_attribute("aria-label").startswith("Already done")
    press(Keys.ARROW_LEFT)
    assert focused().get_attribute("aria-label").startswith("Already done"), "no card to the left: the focus stays"


def axe_problems(d):
    """Serious and critical WCAG 2 A/AA violations axe-core finds on the page now."""
    from axe_selenium_python import Axe
    axe = Axe(d)
    axe.inject()
    results = axe.run(options="{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:4]}"
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def test_every_page_has_no_serious_accessibility_violation(web, browser):
    d = browser
    found = {}
    for path in ("/password_reset", "/password_reset#r1.x", "/invitations/accept#i1.x", "/login", "/signup"):
        d.get(web + path)
        wait(d, lambda d: css_all(d, "main") and d.execute_script("return document.readyState") == "complete", path)
        time.sleep(0.3)
        found[path] = axe_problems(d)
    css(d, "#signup-form [name=name]").send_keys("Ally Access")
    css(d, "#signup-form [name=email]").send_keys("ally@example.com")
    css(d, "#signup-form [name=password]").send_keys(PASSWORD + "\n")
    wait(d, lambda d: css_all(d, "body[data-page=boards] #new-board"), "the boards page")
    api = API(web, d)
    board = api.send("POST", "/boards", {"name": "Checked", "description": "Every page"}, d)["board"]["id"]
    column = api.send("POST", f"/boards/{board}/columns", {"name": "Todo"}, d)["column"]["id"]
    label = api.send("POST", f"/boards/{board}/labels", {"name": "bug", "color": "#fde047"}, d)["label"]["id"]
    card_id = api.send("POST", f"/boards/{board}/cards", {"column_id": column, "title": "A card"}, d)["card"]["id"]
    api.send("PATCH", f"/boards/{board}/cards/{card_id}", {"add_labels": [label], "due_at": "2020-01-01T12:00:00Z",
                                                          "description": "## Steps\n- [ ] a task\n- [x] done\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |"}, d)
    cover = attach_in_page(d, board, card_id, "whiteboard.png", tiny_png(), "image/png")
    attach_in_page(d, board, card_id, "minutes.txt", b"We agreed.\n", "text/plain")
    api.send("PATCH", f"/boards/{board}/cards/{card_id}", {"cover_attachment_id": cover["id"]}, d)
    pages = ["/boards", f"/boards/{board}", f"/boards/{board}/cards/{card_id}", f"/boards/{board}/members",
             f"/boards/{board}/webhooks", "/account/tokens", "/account/settings", "/notifications", "/search?q=card", "/boards/999999"]
    for path in pages:
        d.get(web + path)
        wait(d, lambda d: css_all(d, "main") and d.execute_script("return document.readyState") == "complete", path)
        time.sleep(0.3)  # the page's module fills what the API says
        found[path] = axe_problems(d)
    # The dialogs, open.
    d.get(web + f"/boards/{board}/cards/{card_id}")
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")
    wait(d, lambda d: len(css_all(d, "#cd-attachments .attachment")) == 2, "the attachments in the card dialog")


    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None and css_all(d, "#cd-activity .activity-item"),
         "the card dialog and its activity")
    time.sleep(0.3)
    found["the card dialog"] = axe_problems(d)
    d.get(web + f"/boards/{board}")
    wait(d, lambda d: css_all(d, "[data-action='board-settings']"), "the board")
    css(d, "[data-action='board-settings']").click()
    wait(d, lambda d: css(d, "#board-dialog").get_attribute("open") is not None, "the board settings")
    time.sleep(0.3)
    found["the board settings"] = axe_problems(d)
    css(d, "#board-dialog [data-action='close-dialog']").click()
    css(d, "[data-action='board-activity']").click()
    wait(d, lambda d: css_all(d, "#board-activity .activity-item"), "the board's activity")
    found["the board's activity"] = axe_problems(d)
    problems = {path: p for path, p in found.items() if p}
    assert not problems, "\n".join(f"{path}: {p}" for path, p in problems.items())


def test_errors_are_said_in_peoples_words_with_the_focus_on_the_field(web, browser):
    d = browser
    d.get(web + "/login")
    wait(d, lambda d: css_all(d, "#login-form"), "the login page")
    css(d, "#login-form [type=submit]").click()
    wait(d, lambda d: css(d, "#login-form .form-error").text == "Enter your email address.", "the empty-form message")
    assert d.switch_to.active_element.get_attribute("name") == "email"
    css(d, "#login-form [name=email]").send_keys("nobody@example.com")
    css(d, "#login-form [name=password]").send_keys("not the password\n")
    wait(d, lambda d: "Wrong email or password" in css(d, "#login-form .form-error").text, "the failed login")
    assert d.switch_to.active_element.tag_name == "input", "the focus stays in the form after a failed login"

    sign_up(d, web, "Wendy Words", "wendy@example.com")
    d.get(web + "/account/settings")
    wait(d, lambda d: css_all(d, "#password-form"), "the settings page")
    css(d, "#current-password").send_keys("wrong password here")
    css(d, "#new-password").send_keys("a new password 123")
    css(d, "#password-form [type=submit]").click()
    wait(d, lambda d: css(d, "#password-form .form-error").is_displayed(), "the refusal")
    message = css(d, "#password-form .form-error").text
    assert message.startswith("Current password ") and "current_password" not in message, message
    assert d.switch_to.active_element.get_attribute("id") == "current-password"
    css(d, "#current-password").clear()
    css(d, "#current-password").send_keys(PASSWORD)
    css(d, "#new-password").clear()
    css(d, "#new-password").send_keys("short")
    css(d, "#password-form [type=submit]").click()
    wait(d, lambda d: css(d, "#password-form .form-error").text.startswith("New password "), "the short password refusal")
    assert "new_password" not in css(d, "#password-form .form-error").text


def test_mention_autocomplete_and_assignee_search(web, browser):
    from selenium.webdriver.common.keys import Keys
    d = browser
    status, _, _ = request(web, "POST", "/api/v1/auth/signup", {"email": "bobby.tables@example.com", "name": "Bobby Tables", "password": PASSWORD})
    assert status == 201
    request(web, "POST", "/api/v1/auth/signup", {"email": "carol@example.com", "name": "Carol Singer", "password": PASSWORD})
    sign_up(d, web, "Mona Mention", "mona@example.com")
    api = API(web, d)
    board = api.send("POST", "/boards", {"name": "Talk"}, d)["board"]["id"]
    for email in ("bobby.tables@example.com", "carol@example.com"):
        api.send("PUT", f"/boards/{board}/members", {"email": email, "role": "member"}, d)
    column = api.send("POST", f"/boards/{board}/columns", {"name": "Todo"}, d)["column"]["id"]
    card_id = api.send("POST", f"/boards/{board}/cards", {"column_id": column, "title": "Plan"}, d)["card"]["id"]
    d.get(web + f"/boards/{board}/cards/{card_id}")
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")

    # Assignee search narrows the member toggles.
    css(d, "#cd-assignee-search").send_keys("car")
    shown = [t.text.splitlines()[-1] for t in css_all(d, "#cd-assignees .member-toggle") if t.is_displayed()]
    assert shown == ["Carol Singer"], shown

    # @ and the start of a name lists members; Enter inserts the handle a mention matches.
    box = css(d, "#cd-comment-form textarea")
    box.send_keys("Thanks @tab")
    wait(d, lambda d: [o.text for o in css_all(d, ".mention-list .mention-option")] == ["Bobby Tables @bobby.tables"], "the suggestion")
    box.send_keys(Keys.ENTER)
    assert box.get_attribute("value") == "Thanks @bobby.tables "
    assert not css(d, ".mention-list").is_displayed()
    box.send_keys("for the help")
    before = version(d)
    css(d, "#cd-comment-form [type=submit]").click()
    wait(d, lambda d: version(d) == before + 1, "the comment")
    bob = token_for(web, "bobby.tables@example.com")
    notes = request(web, "GET", "/api/v1/notifications", headers=bob)[2]["items"]
    assert [n["kind"] for n in notes] == ["mentioned"], notes


def token_for(web, email):
    """Bearer headers of a read token for `email` (password PASSWORD)."""
    status, headers, body = request(web, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    cookie = headers["Set-Cookie"].split(";")[0]
    return {"Cookie": cookie}


def visible_titles(d):
    """Titles of the cards shown on the board (not hidden by the filter), in page order."""
    return d.execute_script(
        "return [...document.querySelectorAll('#columns .card[data-card-id]')].filter(c => !c.hidden)"
        ".map(c => c.querySelector('.card-title').textContent.trim());")


def test_markdown_subset_is_rendered_safely(web, browser):
    browser.get(web + "/login")
    wait(browser, lambda d: d.execute_script("return !!window.TackMarkdown"), "markdown.js")
    cases = [
        ("plain", "<p>plain</p>"),
        ("**bold** and *it*", "<p><strong>bold</strong> and <em>it</em></p>"),
        ("`<b>x</b>` **`a*b`**", "<p><code>&lt;b&gt;x&lt;/b&gt;</code> <strong><code>a*b</code></strong></p>"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
        ("[a](javascript:alert(1))", "<p>[a](javascript:alert(1))</p>"),
        ("[a](data:text/html,x)", "<p>[a](data:text/html,x)</p>"),
        # A quote cannot end the href: it was escaped before the link was made.
        ('[a](https://x.test/"onmouseover="alert(1))',
         # A bare link ends where a quote starts (never inside an entity): the rest is text.
         '<p>[a](<a href="https://x.test/" target="_blank" rel="noopener noreferrer nofollow">https://x.test/</a>'
         '&quot;onmouseover=&quot;alert(1))</p>'),
        ("[**docs**](https://x.test/a?b=1&c=2)",
         '<p><a href="https://x.test/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow"><strong>docs</strong></a></p>'),
        ("see https://x.test/p.", '<p>see <a href="https://x.test/p" target="_blank" rel="noopener noreferrer nofollow">https://x.test/p</a>.</p>'),
        ("one\ntwo\n\nthree", "<p>one<br>two</p>\n<p>three</p>"),
        ("- a\n- *b*\n\n1. x\n2. y", "<ul><li>a</li><li><em>b</em></li></ul>\n<ol><li>x</li><li>y</li></ol>"),
        ("2*3*4 and snake_case_name", "<p>2*3*4 and snake_case_name</p>"),
        ("\u0000 0\u0000 &amp; ' \"", "<p>0 &amp;amp; &#39; &quot;</p>"),
        ("# Plan ##\n### *Sub*\n#nohash", "<h3>Plan</h3>\n<h5><em>Sub</em></h5>\n<p>#nohash</p>"),
        ("> quoted <b>\n> **more**", "<blockquote><p>quoted &lt;b&gt;<br><strong>more</strong></p></blockquote>"),
        ("```js\n<script>x</script>\n- [ ] **no**\n```\nafter", "<pre><code>&lt;script&gt;x&lt;/script&gt;\n- [ ] **no**</code></pre>\n<p>after</p>"),
        ("- [ ] paint\n- [x] sand\n- plain",
         '<ul><li><input type="checkbox" data-task="0" disabled> paint</li>'
         '<li><input type="checkbox" data-task="1" checked disabled> sand</li><li>plain</li></ul>'),
        ("| a | *b* |\n|---|:-:|\n| 1 | <2> |",
         "<table><thead><tr><th>a</th><th><em>b</em></th></tr></thead><tbody><tr><td>1</td><td>&lt;2&gt;</td></tr></tbody></table>"),
        # A script or javascript: link inside each new block stays text.
        ("# <script>alert(1)</script> [x](javascript:alert(1))", "<h3>&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))</h3>"),
        ("> <img src=x onerror=alert(1)> [x](javascript:alert(1))",
         "<blockquote><p>&lt;img src=x onerror=alert(1)&gt; [x](javascript:alert(1))</p></blockquote>"),
        # The language (dropped) cannot become an attribute either.
        ('```html" onmouseover="alert(1)\n<script>alert(1)</script>\n```', "<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></pre>"),
        ("| <script>alert(1)</script> | [x](javascript:alert(1)) |\n|---|---|\n| <img src=x onerror=alert(1)> | ok |",
         "<table><thead><tr><th>&lt;script&gt;alert(1)&lt;/script&gt;</th><th>[x](javascript:alert(1))</th></tr></thead>"
         "<tbody><tr><td>&lt;img src=x onerror=alert(1)&gt;</td><td>ok</td></tr></tbody></table>"),
        ("- [ ] <script>alert(1)</script> [x](javascript:alert(1))",
         '<ul><li><input type="checkbox" data-task="0" disabled> &lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))</li></ul>'),
        # A fence's opening line holds no backtick after the fence: "```a```" is inline code, as before.
        ("```a```", "<p>``<code>a</code>``</p>"),
    ]
    got = browser.execute_script("return arguments[0].map(c => TackMarkdown.render(c[0]));", cases)
    for (source, expected), actual in zip(cases, got):
        assert actual == expected, f"{source!r}: {actual!r} != {expected!r}"
    # What the browser builds from it has no script-capable attribute or URL.
    unsafe = browser.execute_script("""
        const box = document.createElement('div');
        box.innerHTML = arguments[0].map(c => TackMarkdown.render(c[0])).join('');
        const bad = [];
        box.querySelectorAll('*').forEach(el => {
            for (const a of el.attributes) {
                if (a.name.startsWith('on') || (a.name === 'href' && !/^https?:/.test(a.value))) bad.push(el.outerHTML);
            }
            if (!['P', 'BR', 'STRONG', 'EM', 'CODE', 'A', 'UL', 'OL', 'LI', 'H3', 'H4', 'H5', 'BLOCKQUOTE', 'PRE', 'TABLE',
                  'THEAD', 'TBODY', 'TR', 'TH', 'TD', 'INPUT'].includes(el.tagName)) bad.push(el.outerHTML);
            if (el.tagName === 'INPUT' && (el.type !== 'checkbox' || !el.disabled)) bad.push(el.outerHTML);
        });
        return bad;""", cases)
    assert unsafe == []

    # In a card: the blocks shown, nothing run, a task ticked and saved, still ticked after a reload.
    d = browser
    board_id, api = sign_up_with_a_board(d, web, "Mark Down", "mark@example.com", "Notes")
    todo = api.send("POST", f"/boards/{board_id}/columns", {"name": "Todo"}, d)["column"]["id"]
    description = ("# Plan <script>window.pwned = 1</script>\n"
                   "> <img src=x onerror=\"window.pwned = 1\"> said\n"
                   "```js\n<script>window.pwned = 1</script>\n```\n"
                   "| step | link |\n|---|---|\n| one | [go](javascript:window.pwned=1) |\n\n"
                   "- [ ] paint\n- [x] sand\n- [ ] varnish <b>twice</b>")
    card_id = api.send("POST", f"/boards/{board_id}/cards", {"column_id": todo, "title": "Shed", "description": description}, d)["card"]["id"]
    d.get(web + f"/boards/{board_id}/cards/{card_id}")
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")

    def shown(d):
        return d.execute_script("""
            const v = document.getElementById('cd-description');
            return {heading: [...v.querySelectorAll('h3')].map(e => e.textContent), quote: v.querySelector('blockquote').textContent,
                    code: v.querySelector('pre code').textContent, cells: [...v.querySelectorAll('td')].map(e => e.textContent),
                    boxes: [...v.querySelectorAll('input[data-task]')].map(b => [b.getAttribute('aria-label'), b.checked, b.disabled]),
                    active: v.querySelectorAll('script, img, a, b').length, pwned: !!window.pwned};""")
    assert shown(d) == {
        "heading": ["Plan <script>window.pwned = 1</script>"], "quote": '<img src=x onerror="window.pwned = 1"> said',
        "code": "<script>window.pwned = 1</script>", "cells": ["one", "[go](javascript:window.pwned=1)"],
        "boxes": [["paint", False, False], ["sand", True, False], ["varnish <b>twice</b>", False, False]], "active": 0, "pwned": False}
    before = version(d)
    css_all(d, "#cd-description input[data-task]")[2].click()
    wait(d, lambda d: version(d) == before + 1 and [b[1] for b in shown(d)["boxes"]] == [False, True, True], "the ticked task saved")
    saved = api.get(f"/boards/{board_id}/cards/{card_id}")["description"]
    assert saved == description.replace("- [ ] varnish", "- [x] varnish"), saved
    d.refresh()
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog after a reload")
    assert [b[1:] for b in shown(d)["boxes"]] == [[False, False], [True, False], [True, False]]

    # A tick on a description someone changed meanwhile (this page did not hear of it) gets the
    # usual choice; taking theirs shows theirs and saves nothing.
    d.execute_script("TackBoard.push.close()")
    current = api.get(f"/boards/{board_id}/cards/{card_id}")
    theirs = description.replace("- [ ] paint", "- [x] paint first")
    status, _, reply = request(web, "PATCH", f"/api/v1/boards/{board_id}/cards/{card_id}", {"description": theirs},
                               {"Cookie": api.cookie, "X-CSRF-Token": css(d, "meta[name=csrf-token]").get_attribute("content"),
                                "If-Match": f'"{current["version"]}"'})
    assert status == 200, reply
    css_all(d, "#cd-description input[data-task]")[0].click()
    wait(d, lambda d: css(d, "#cd-description-choice").is_displayed(), "the choice after a stale tick")
    assert "paint first" in css(d, "#cd-description-choice").text
    written = api.get(f"/boards/{board_id}")["board"]["version"]
    css(d, "#cd-description-choice [data-action='take-theirs']").click()
    wait(d, lambda d: [b[0] for b in shown(d)["boxes"]][0] == "paint first", "their text taken")
    assert api.get(f"/boards/{board_id}")["board"]["version"] == written, "taking theirs writes nothing"

    # A viewer sees the boxes, disabled.
    viewer = signup(web, "vera@example.com", "Vera Viewer")
    api.send("PUT", f"/boards/{board_id}/members", {"email": "vera@example.com", "role": "viewer"}, d)
    d.delete_all_cookies()
    open_board(d, web, viewer, board_id)
    open_card(d, "Shed")
    assert [b[1:] for b in shown(d)["boxes"]] == [[True, True], [True, True], [False, True]]


def test_members_tokens_and_logout(web, browser):
    d = browser
    # Bob has an account; Alice signs up in the browser and makes a board.
    status, _, body = request(web, "POST", "/api/v1/auth/signup", {"email": "bob@example.com", "name": "Bob Builder", "password": PASSWORD})
    assert status == 201, body
    board_id, api = sign_up_with_a_board(d, web, "Alice Admin", "alice@example.com", "Team")

    # Members: add Bob as a viewer, then make him a member.
    css(d, ".board-actions a[href$='/members']").click()
    wait(d, lambda d: css_all(d, "body[data-page=members] #add-member"), "the members page")
    css(d, "#add-member [name=email]").send_keys("bob@example.com")
    css(d, "#add-member [name=role] option[value=viewer]").click()
    css(d, "#add-member [type=submit]").click()
    wait(d, lambda d: css_all(d, ".member[data-email='bob@example.com'] .member-role"), "Bob in the list")
    assert css(d, ".member[data-email='bob@example.com'] .member-role").get_attribute("value") == "viewer"
    css(d, ".member[data-email='bob@example.com'] .member-role option[value=member]").click()
    wait(d, lambda d: "Role changed" in css(d, "#toast").text, "the role change")
    roles = {m["email"]: m["role"] for m in api.get(f"/boards/{board_id}/members")["items"]}
    assert roles == {"alice@example.com": "owner", "bob@example.com": "member"}

    # API tokens: created and shown once, usable, revoked.
    css(d, ".topnav a[href='/account/tokens']").click()
    wait(d, lambda d: css_all(d, "body[data-page=tokens] #new-token"), "the tokens page")
    assert not css(d, "#token-table").is_displayed() and css(d, "#no-tokens").is_displayed()
    css(d, "#new-token [name=name]").send_keys("ci script")
    css(d, "#new-token [name=scope] option[value=read_write]").click()
    css(d, "#new-token [type=submit]").click()
    wait(d, lambda d: css(d, "#new-token-secret").is_displayed(), "the new token")
    secret = css(d, "#new-token-value").text
    assert secret.startswith("tack_pat_")
    assert [c.text for c in css_all(d, "#token-table tbody tr .token-name")] == ["ci script"]
    bearer = {"Authorization": "Bearer " + secret}
    assert request(web, "GET", "/api/v1/me", headers=bearer)[2]["user"]["email"] == "alice@example.com"
    d.refresh()
    wait(d, lambda d: css_all(d, "#token-table tbody tr"), "the token list")
    assert secret not in d.page_source, "the secret is shown once"
    css(d, "#token-table [data-action='revoke-token']").click()
    d.switch_to.alert.accept()
    wait(d, lambda d: not css_all(d, "#token-table tbody tr"), "the revoked token to leave the list")
    assert request(web, "GET", "/api/v1/me", headers=bearer)[0] == 401, "a revoked token no longer works"

    # Log out: the pages want a session again.
    css(d, "[data-action='logout']").click()
    wait(d, lambda d: css_all(d, "body[data-page=login] #login-form"), "the login page after logging out")
    d.get(web + "/boards")
    wait(d, lambda d: css_all(d, "#login-form"), "the login redirect")
    problems = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not problems, problems


def test_bell_settings_and_webhooks_pages(web, browser):
    d = browser
    # Bob mentions Carol on a board they share (through the API), Carol sees it in the bell.
    status, _, body = request(web, "POST", "/api/v1/auth/signup", {"email": "bob@example.com", "name": "Bob Builder", "password": PASSWORD})
    assert status == 201, body
    board_id, api = sign_up_with_a_board(d, web, "Carol Clerk", "carol@example.com", "Shared")
    api.send("PUT", f"/boards/{board_id}/members", {"email": "bob@example.com", "role": "member"}, d)
    column = api.send("POST", f"/boards/{board_id}/columns", {"name": "Todo"}, d)["column"]["id"]
    card = api.send("POST", f"/boards/{board_id}/cards", {"column_id": column, "title": "Budget"}, d)["card"]["id"]
    status, headers, body = request(web, "POST", "/api/v1/auth/login", {"email": "bob@example.com", "password": PASSWORD})
    assert status == 200, body
    bob = {"Cookie": headers["Set-Cookie"].split(";", 1)[0], "X-CSRF-Token": body["csrf_token"]}
    # A burst of three mentions on one card is one notification: who, how many times, the newest words.
    for text in ("@carol can you check?", "@carol the totals too", "@carol and the Q3 line, please"):
        status, _, body = request(web, "POST", f"/api/v1/boards/{board_id}/cards/{card}/comments", {"body": text}, bob)
        assert status == 201, body

    d.get(web + "/boards")
    wait(d, lambda d: css(d, "#bell-count").is_displayed() and css(d, "#bell-count").text == "1", "the bell to show 1")
    css(d, "#bell").click()
    wait(d, lambda d: css_all(d, "body[data-page=notifications] .notification"), "the notifications page")
    assert len(css_all(d, ".notification")) == 1
    item = css(d, ".notification")
    assert "Bob Builder mentioned you on “Budget” on Shared (3 times)" in item.text, item.text
    assert css(d, ".notification-excerpt").text == "@carol and the Q3 line, please"
    assert "is-unread" in item.get_attribute("class")
    css(d, "[data-action='read-all']").click()
    wait(d, lambda d: not css_all(d, ".notification.is-unread") and not css(d, "#bell-count").is_displayed(), "everything read")

    # Settings: the email preference is saved.
    css(d, ".topnav a[href='/account/settings']").click()
    wait(d, lambda d: css_all(d, "body[data-page=settings] #settings-form"), "the settings page")
    wait(d, lambda d: css(d, "#email-notifications").get_attribute("value") == "instant", "the current preference")
    css(d, "#email-notifications option[value=daily]").click()
    css(d, "#settings-form [type=submit]").click()
    wait(d, lambda d: "Saved" in css(d, "#toast").text, "the saved preference")
    assert api.get("/me/settings")["email_notifications"] == "daily"

    # Webhooks: an admin adds one; the secret is shown once; it can be turned off.
    d.get(web + f"/boards/{board_id}")
    wait(d, lambda d: css_all(d, ".board-actions a[href$='/webhooks']"), "the webhooks link")
    css(d, ".board-actions a[href$='/webhooks']").click()
    wait(d, lambda d: css_all(d, "body[data-page=webhooks] #new-webhook"), "the webhooks page")
    css(d, "#wh-url").send_keys("https://hooks.example.com/tack")
    for kind in ("card.created", "card.moved"):
        css(d, f"#wh-events input[value='{kind}']").click()
    css(d, "#new-webhook [type=submit]").click()
    wait(d, lambda d: css(d, "#new-webhook-secret").is_displayed(), "the webhook secret")
    assert css(d, "#new-webhook-secret-value").text.startswith("whsec_")
    wait(d, lambda d: css_all(d, ".webhook"), "the webhook in the list")
    assert "card.created, card.moved" in css(d, ".webhook").text
    css(d, ".webhook [data-action='toggle']").click()
    # (Read in the page: the list is re-rendered, so a found element may go stale.)
    wait(d, lambda d: d.execute_script("var b = document.querySelector('.webhook .role-badge'); return b && b.textContent") == "off",
         "the webhook turned off")
    hooks = api.get(f"/boards/{board_id}/webhooks")["items"]
    assert len(hooks) == 1 and hooks[0]["active"] is False and hooks[0]["url"] == "https://hooks.example.com/tack"
    problems = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not problems, problems


# ---- live boards --------------------------------------------------------------------------------

LIVE_WITHIN = 1.0  # seconds: how soon another member's page must show a change


def open_board(driver, base, user, board):
    """`user`'s session in this browser, on the board's page, once it is live."""
    driver.get(base + "/login")
    driver.add_cookie({"name": "tack_session", "value": user.session.split("=", 1)[1], "path": "/"})
    driver.get(f"{base}/boards/{board}")
    wait(driver, lambda d: css(d, "#live-status").get_attribute("data-state") == "live", f"{user.name}'s board page to be live")


def presence(driver):
    return {int(a.get_attribute("data-user-id")) for a in css_all(driver, "#presence .avatar")}


def page_board(driver):
    """[[column name, [[title, sorted label names, done], …]], …] as the page shows it."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('#columns .column[data-column-id]')).map(c => [
            c.querySelector('.column-name').textContent.trim(),
            Array.from(c.querySelectorAll('.cards > .card')).map(k => [
                k.querySelector('.card-title').textContent,
                Array.from(k.querySelectorAll('.label-chip')).map(l => l.textContent).sort(),
                k.classList.contains('is-done')])]);""")


def snapshot_board(snapshot):
    """The same shape from the API's snapshot (columns and cards come in board order)."""
    labels = {label["id"]: label["name"] for label in snapshot["labels"]}
    return [[c["name"], [[k["title"], sorted(labels[i] for i in k["labels"]), k["done"]]
                         for k in snapshot["cards"] if k["column_id"] == c["id"]]]
            for c in snapshot["columns"]]


def seen(driver, condition, what):
    """Waits at most LIVE_WITHIN seconds for another member's change to show on this page."""
    started = time.time()
    wait(driver, condition, what + " (live, without a reload)", timeout=LIVE_WITHIN)
    return time.time() - started


def open_card(driver, title_text):
    card(driver, title_text).click()
    wait(driver, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, f"the dialog of {title_text!r}")


def close_dialog(driver):
    css(driver, "#card-dialog [data-action='close-dialog']").click()
    wait(driver, lambda d: css(d, "#card-dialog").get_attribute("open") is None, "the dialog to close")


def toggle_on(driver, kind, ident):
    """Whether the card dialog shows a label (kind "labels") or assignee ("assignees") as on."""
    selector = f"#cd-{kind} [data-{'label' if kind == 'labels' else 'user'}-id='{ident}']"
    return driver.execute_script("const t = document.querySelector(arguments[0]); return !!t && t.getAttribute('aria-pressed') === 'true'", selector)


def chips(driver, title_text):
    """The sorted label names on a card of the board."""
    return driver.execute_script("""
        const card = Array.from(document.querySelectorAll('#columns .card')).find(k => k.querySelector('.card-title').textContent === arguments[0]);
        return card ? Array.from(card.querySelectorAll('.label-chip')).map(c => c.textContent).sort() : null;""", title_text)


def test_two_members_see_each_others_work_live_and_no_edit_is_lost(web, browsers, tmp_path):
    alice = signup(web, "alice@example.com", "Alice Archer")
    bob = signup(web, "bob@example.com", "Bob Baker")
    board, todo = shared_board(alice, bob, name="Live")
    alice.create_column(board, "Doing")
    labels = {name: alice.call("POST", f"/api/v1/boards/{board}/labels", {"name": name, "color": color}, expect=201)["label"]["id"]
              for name, color in (("urgent", "#e11d48"), ("docs", "#2563eb"), ("bug", "#f59e0b"))}
    shared = alice.create_card(board, todo, "Shared card")["card"]["id"]
    a, b = browsers(), browsers()
    open_board(a, web, alice, board)
    open_board(b, web, bob, board)

    # Presence: both faces on both pages.
    wait(a, lambda d: presence(d) == {alice.id, bob.id}, "Alice's page to show both members present")
    wait(b, lambda d: presence(d) == {alice.id, bob.id}, "Bob's page to show both members present")

    # Alice works; Bob's page follows each change within a second.
    add_card(a, "Todo", "Write the agenda")
    seen(b, lambda d: dict(layout(d))["Todo"] == ["Shared card", "Write the agenda"], "the new card")

    open_card(a, "Write the agenda")
    before = version(a)
    from selenium.webdriver.common.keys import Keys
    css(a, "#cd-title").send_keys(Keys.CONTROL, "a")
    css(a, "#cd-title").send_keys("Write the final agenda\n")
    wait(a, lambda d: version(d) == before + 1, "the rename to be saved")
    close_dialog(a)
    seen(b, lambda d: dict(layout(d))["Todo"] == ["Shared card", "Write the final agenda"], "the renamed card")

    drag(a, "Write the final agenda", onto_column="Doing")
    seen(b, lambda d: layout(d) == [["Todo", ["Shared card"]], ["Doing", ["Write the final agenda"]]], "the moved card")

    before = version(a)
    css(a, "#new-column [name=name]").send_keys("Done\n")
    wait(a, lambda d: version(d) == before + 1, "the new column")
    seen(b, lambda d: [name for name, _ in layout(d)] == ["Todo", "Doing", "Done"], "the new column")

    # Bob has the shared card open; Alice's comment and label appear in his dialog and on the card.
    open_card(b, "Shared card")
    wait(b, lambda d: css_all(d, "#cd-comments .no-comments"), "Bob's comments to load")
    open_card(a, "Shared card")
    before = version(a)
    css(a, "#cd-comment-form textarea").send_keys("Agenda is in Doing")
    css(a, "#cd-comment-form [type=submit]").click()
    wait(a, lambda d: version(d) == before + 1, "the comment")
    seen(b, lambda d: [c.text for c in css_all(d, "#cd-comments .comment-body")] == ["Agenda is in Doing"], "the comment")
    before = version(a)
    css(a, f"#cd-labels [data-label-id='{labels['urgent']}']").click()
    wait(a, lambda d: version(d) == before + 1, "the label")
    seen(b, lambda d: toggle_on(d, "labels", labels["urgent"]) and chips(d, "Shared card") == ["urgent"], "the label")

    # Both edit the description. Alice saves first; Bob is told, sees her text, keeps his.
    css(a, "#cd-description-edit-button").click()
    css(b, "#cd-description-edit-button").click()
    css(a, "#cd-description-input").send_keys("Alice: room 4, 10:00")
    css(b, "#cd-description-input").send_keys("Bob: room 7, 14:00")
    before = version(a)
    css(a, "#cd-description-save").click()
    wait(a, lambda d: version(d) == before + 1 and css(d, "#cd-description").text == "Alice: room 4, 10:00", "Alice's description")
    seen(b, lambda d: css(d, "#cd-description-choice").is_displayed(), "the choice offered to Bob")
    b.save_screenshot(str(tmp_path / "conflict.png"))
    print(f"screenshot: {tmp_path / 'conflict.png'}")
    choice = css(b, "#cd-description-choice").text
    assert "changed by Alice Archer" in choice and "Alice: room 4, 10:00" in choice, choice
    assert css(b, "#cd-description-input").get_attribute("value") == "Bob: room 7, 14:00", "Bob's text is untouched"
    css(b, "#cd-description-choice [data-action='keep-mine']").click()
    before = version(b)
    css(b, "#cd-description-save").click()
    wait(b, lambda d: version(d) == before + 1 and css(d, "#cd-description").text == "Bob: room 7, 14:00", "Bob's description saved")
    seen(a, lambda d: css(d, "#cd-description").text == "Bob: room 7, 14:00", "Bob's description")
    descriptions = [e["payload"]["description"] for e in alice.call("GET", f"/api/v1/boards/{board}/events?after=0&limit=1000")["events"]
                    if e["kind"].startswith("card.") and e["payload"].get("id") == shared]
    assert "Alice: room 4, 10:00" in descriptions and descriptions[-1] == "Bob: room 7, 14:00", descriptions

    # Both toggle a different label at the same moment: both labels stay.
    barrier = threading.Barrier(2)

    def click(driver, label):
        barrier.wait()
        driver.execute_script("document.querySelector(arguments[0]).click()", f"#cd-labels [data-label-id='{label}']")
    threads = [threading.Thread(target=click, args=(a, labels["docs"])), threading.Thread(target=click, args=(b, labels["bug"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = sorted(labels[n] for n in ("urgent", "docs", "bug"))
    for who, d in (("Alice", a), ("Bob", b)):
        wait(d, lambda d: all(toggle_on(d, "labels", i) for i in want) and chips(d, "Shared card") == ["bug", "docs", "urgent"],
             f"both labels on {who}'s page", timeout=5)
    assert sorted(alice.call("GET", f"/api/v1/boards/{board}/cards/{shared}")["labels"]) == want

    # A stale save (Bob's page misses Alice's change: its push connection is closed) answers 412:
    # the same choice; taking hers shows hers and saves nothing.
    b.execute_script("TackBoard.push.close()")
    current = alice.call("GET", f"/api/v1/boards/{board}/cards/{shared}")
    status, body, _ = alice.request("PATCH", f"/api/v1/boards/{board}/cards/{shared}", {"description": "Alice: moved to Friday"},
                                    headers={"If-Match": f'"{current["version"]}"'})
    assert status == 200, body
    css(b, "#cd-description-edit-button").click()
    css(b, "#cd-description-input").send_keys(" (Bob's note)")
    css(b, "#cd-description-save").click()
    wait(b, lambda d: css(d, "#cd-description-choice").is_displayed(), "the choice after a 412")
    assert "Alice: moved to Friday" in css(b, "#cd-description-choice").text
    versions_before = alice.board_version(board)
    css(b, "#cd-description-choice [data-action='take-theirs']").click()
    wait(b, lambda d: css(d, "#cd-description").text == "Alice: moved to Friday", "her text taken")
    assert alice.board_version(board) == versions_before, "taking theirs writes nothing"
    close_dialog(a)
    close_dialog(b)

    # Alice archives a card: it leaves Bob's page.
    open_card(a, "Write the final agenda")
    before = version(a)
    css(a, "#cd-archive").click()
    a.switch_to.alert.accept()
    wait(a, lambda d: version(d) == before + 1, "the archive")
    b.refresh()  # (its push connection was closed on purpose above)
    wait(b, lambda d: css(d, "#live-status").get_attribute("data-state") == "live", "Bob's page live again")
    assert "Write the final agenda" not in str(layout(b))
    open_card(a, "Shared card")
    before = version(a)
    css(a, "#cd-archive").click()
    a.switch_to.alert.accept()
    wait(a, lambda d: version(d) == before + 1, "the second archive")
    seen(b, lambda d: layout(d) == [["Todo", []], ["Doing", []], ["Done", []]], "the archived card to leave")
    assert page_board(a) == page_board(b) == snapshot_board(alice.call("GET", f"/api/v1/boards/{board}"))


def test_a_page_whose_push_process_is_killed_ends_equal_to_a_fresh_load(site, web, browsers):
    alice = signup(web, "alice@example.com", "Alice Archer")
    bob = signup(web, "bob@example.com", "Bob Baker")
    board, todo = shared_board(alice, bob, name="Kill")
    doing = alice.create_column(board, "Doing")
    labels = [alice.call("POST", f"/api/v1/boards/{board}/labels", {"name": n, "color": "#336699"}, expect=201)["label"]["id"]
              for n in ("red", "green", "blue")]
    cards = [alice.create_card(board, todo, f"Card {i}")["card"]["id"] for i in range(8)]
    a = browsers()
    open_board(a, web, alice, board)

    # The push process that holds the page's socket.
    def holder():
        counts = [metrics(port).get("tack_push_connections", 0) for _, port in site.pushes]
        return [i for i, n in enumerate(counts) if n >= 1]
    deadline = time.time() + 10
    while len(holder()) != 1 and time.time() < deadline:
        time.sleep(0.1)
    assert len(holder()) == 1, "the page holds one push connection"
    victim = site.pushes[holder()[0]][0]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)

    # Bob makes 50 changes while the page reconnects to the other push process.
    path = f"/api/v1/boards/{board}"
    done_column = None
    for i in range(50):
        kind = i % 10
        target = cards[i % len(cards)]
        if kind in (0, 1):
            cards.append(bob.create_card(board, todo if i % 3 else doing, f"New {i}")["card"]["id"])
        elif kind == 2:
            bob.call("PATCH", f"{path}/cards/{target}", {"title": f"Renamed {i}"})
        elif kind in (3, 4):
            bob.call("POST", f"{path}/cards/{target}/move", {"column_id": doing if i % 4 else todo, "index": 0})
        elif kind == 5:
            bob.call("PATCH", f"{path}/cards/{target}", {"add_labels": [labels[i % 3]]})
        elif kind == 6:
            bob.call("PATCH", f"{path}/cards/{target}", {"done": True})
        elif kind == 7 and done_column is None:
            done_column = bob.call("POST", f"{path}/columns", {"name": "Done"}, expect=201)["column"]["id"]
        elif kind == 7:
            bob.call("PATCH", f"{path}/columns/{done_column}", {"name": f"Done {i}"})
        elif kind == 8 and len(cards) > 10:
            bob.call("PATCH", f"{path}/cards/{cards.pop(0)}", {"archived": True})
        else:
            bob.call("POST", f"{path}/cards/{target}/move", {"column_id": done_column or doing, "index": 0})
    final = bob.board_version(board)
    wait(a, lambda d: version(d) == final, f"the page to catch up to version {final}", timeout=40)
    wait(a, lambda d: css(d, "#live-status").get_attribute("data-state") == "live", "the page live again")
    live = page_board(a)
    expected = snapshot_board(bob.call("GET", path))
    assert live == expected
    a.refresh()
    wait(a, lambda d: css_all(d, "#board"), "the fresh load")
    assert page_board(a) == live


def test_escape_and_closing_keep_typed_text_as_a_draft(web, browsers):
    alice = signup(web, "alice@example.com", "Alice Archer")
    board = alice.create_board("Drafts")
    todo = alice.create_column(board, "Todo")
    alice.create_card(board, todo, "Plan")
    from selenium.webdriver.common.keys import Keys
    a = browsers()
    open_board(a, web, alice, board)

    # Esc in the description editor: the dialog closes, the text is kept and comes back.
    open_card(a, "Plan")
    css(a, "#cd-description-edit-button").click()
    css(a, "#cd-description-input").send_keys("Half-written thoughts")
    css(a, "#cd-comment-form textarea").send_keys("A comment in progress")
    css(a, "#cd-comment-form textarea").send_keys(Keys.ESCAPE)
    wait(a, lambda d: css(d, "#card-dialog").get_attribute("open") is None, "Esc to close the dialog")
    open_card(a, "Plan")
    assert css(a, "#cd-description-input").is_displayed()
    assert css(a, "#cd-description-input").get_attribute("value") == "Half-written thoughts"
    assert css(a, "#cd-comment-form textarea").get_attribute("value") == "A comment in progress"

    # Also after a reload (the draft is kept for the tab), and after closing with the × button.
    close_dialog(a)
    a.refresh()
    wait(a, lambda d: css_all(d, "#board"), "the reload")
    open_card(a, "Plan")
    assert css(a, "#cd-description-input").get_attribute("value") == "Half-written thoughts"
    before = version(a)
    css(a, "#cd-description-save").click()
    wait(a, lambda d: version(d) == before + 1 and css(d, "#cd-description").text == "Half-written thoughts", "the draft saved")
    css(a, "#card-dialog [data-action='close-dialog']").click()
    open_card(a, "Plan")
    assert not css(a, "#cd-description-input").is_displayed(), "a saved draft is gone"
    close_dialog(a)

    # The column dialog too.
    css(a, "[data-action='edit-column']").click()
    name = css(a, "#column-form [name=name]")
    name.send_keys(" and more")
    name.send_keys(Keys.ESCAPE)
    wait(a, lambda d: css(d, "#column-dialog").get_attribute("open") is None, "Esc to close the column dialog")
    css(a, "[data-action='edit-column']").click()
    assert css(a, "#column-form [name=name]").get_attribute("value") == "Todo and more"


def emailed_link(outbox, count, path):
    """The link to `path` in the `count`-th email, once it has arrived."""
    import re
    from helpers import wait_until
    wait_until(lambda: len(mails(outbox)) >= count, what=f"email number {count}")
    text = mails(outbox)[count - 1][2]
    found = re.search(r"(http://\S+" + re.escape(path) + r"#\S+)", text)
    assert found, text
    return found.group(1)


def test_invited_by_email_a_newcomer_lands_on_the_board_and_a_forgotten_password_is_reset(mail_web, browsers):
    web, outbox = mail_web
    owner_browser, newcomer = browsers(), browsers()
    d = owner_browser
    board, api = sign_up_with_a_board(d, web, "Olga Owner", "olga@example.com", "Garden")
    # The members page: an address without an account is invited (emailed), and listed as pending.
    d.get(f"{web}/boards/{board}/members")
    css(d, "#add-member [name=email]").send_keys("newcomer@example.com")
    css(d, "#add-member [name=role]").send_keys("viewer")
    css(d, "#add-member [type=submit]").click()
    wait(d, lambda d: "Invitation emailed to newcomer@example.com." in css(d, "#toast").get_attribute("textContent"), "the invitation toast")
    wait(d, lambda d: "newcomer@example.com" in css(d, "#invitation-list").text, "the pending invitation")
    link = emailed_link(outbox, 1, "/invitations/accept")

    # The newcomer opens the emailed link, creates the account and lands on the board as a viewer.
    n = newcomer
    n.get(link)
    wait(n, lambda n: "Olga Owner invited newcomer@example.com to the board “Garden” as a viewer." in css(n, "#invitation-summary").text,
         "the invitation summary")
    assert "#" not in n.current_url  # the link is out of the address bar once read
    assert css(n, "#accept-form [name=email]").get_attribute("value") == "newcomer@example.com"
    css(n, "#accept-form [name=name]").send_keys("Nico Newcomer")
    css(n, "#accept-form [name=password]").send_keys(PASSWORD + "\n")
    wait(n, lambda n: n.current_url.endswith(f"/boards/{board}") and css_all(n, "body[data-page=board] #board"), "the board")
    assert css(n, "#board").get_attribute("data-role") == "viewer"
    # Used once: opening it again says so.
    other = browsers()
    other.get(link)
    wait(other, lambda o: "already accepted" in css(o, "#invitation-error").text, "the used-link message")

    # Forgot password: from the login page, by email, once.
    n.delete_all_cookies()
    n.get(web + "/login")
    css(n, "a[href='/password_reset']").click()
    wait(n, lambda n: css_all(n, "#reset-request-form"), "the reset page")
    css(n, "#reset-request-form [name=email]").send_keys("newcomer@example.com\n")
    wait(n, lambda n: "If an account uses this address" in css(n, "#reset-sent").text, "the same answer for every address")
    reset = emailed_link(outbox, 2, "/password_reset")
    n.get(reset)
    wait(n, lambda n: css(n, "#reset-form").is_displayed(), "the new password form")
    css(n, "#reset-form [name=password]").send_keys("a brand new garden passphrase\n")
    wait(n, lambda n: css_all(n, "body[data-page=boards]"), "the boards page after the reset")
    assert "Garden" in css(n, "main").text
    n.get(reset)
    css(n, "#reset-form [name=password]").send_keys("and yet another passphrase\n")
    wait(n, lambda n: "already used" in css(n, "#reset-form .form-error").text, "the used reset link refused")


def test_a_due_date_is_a_day_or_a_day_with_a_time(web, browser):
    from datetime import datetime
    d = browser
    board_id, api = sign_up_with_a_board(d, web, "Dee Due", "dee@example.com", "Deadlines")
    todo = api.send("POST", f"/boards/{board_id}/columns", {"name": "Todo"}, d)["column"]["id"]
    card_id = api.send("POST", f"/boards/{board_id}/cards", {"column_id": todo, "title": "File taxes"}, d)["card"]["id"]
    wait(d, lambda d: visible_titles(d) == ["File taxes"], "the card")
    d.execute_script("window.TackBoard.open(arguments[0])", card_id)
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")
    set_value = "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))"
    saved = lambda: api.get(f"/boards/{board_id}/cards/{card_id}")  # noqa: E731

    # A day alone: noon UTC of it, no time.
    d.execute_script(set_value, css(d, "#cd-due"), "2030-05-06")
    wait(d, lambda d: saved().get("due_at") == "2030-05-06T12:00:00Z", "the day saved")
    assert saved()["due_has_time"] is False
    # With a time: that moment of the reader's time zone, shown with the time.
    d.execute_script(set_value, css(d, "#cd-due-time"), "14:30")
    wait(d, lambda d: saved()["due_has_time"] is True, "the time saved")
    expected = d.execute_script("return new Date('2030-05-06T14:30').toISOString()")
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    assert parse(saved()["due_at"]) == parse(expected), (saved()["due_at"], expected)
    badge = lambda d: card(d, "File taxes").find_element("css selector", ".badge-due")  # noqa: E731
    wait(d, lambda d: "30" in badge(d).text and ("2:30" in badge(d).text or "14:30" in badge(d).text), "the time on the card")

    # A time already past today is overdue now; the same day without a time is not (it is due today).
    today = d.execute_script("const n = new Date(); return [n.getFullYear(), n.getMonth() + 1, n.getDate()]"
                             ".map((x) => String(x).padStart(2, '0')).join('-')")
    # The day and the time changed in one go (two saves in flight at once): both are kept, and a
    # person is never offered a conflict with their own edit.
    d.execute_script(set_value + "; " + set_value.replace("arguments[0]", "arguments[2]").replace("arguments[1]", "arguments[3]"),
                     css(d, "#cd-due"), today, css(d, "#cd-due-time"), "00:00")
    wait(d, lambda d: "is-overdue" in badge(d).get_attribute("class"), "the past time overdue")
    assert saved()["due_has_time"] is True and not css(d, "#cd-due-choice").text.strip(), css(d, "#cd-due-choice").text
    d.execute_script(set_value, css(d, "#cd-due-time"), "")
    wait(d, lambda d: saved()["due_has_time"] is False and "is-overdue" not in badge(d).get_attribute("class"),
         "today's day not overdue")
    # Reloaded, the dialog shows what was saved.
    d.refresh()
    wait(d, lambda d: visible_titles(d) == ["File taxes"], "the board again")
    d.execute_script("window.TackBoard.open(arguments[0])", card_id)
    wait(d, lambda d: css(d, "#cd-due").get_attribute("value") == today and css(d, "#cd-due-time").get_attribute("value") == "",
         "the day without a time in the dialog")


def test_dialogs_and_pages_fit_a_phone(web, browser):
    """On a phone-sized window no page scrolls sideways and every dialog fits the screen's width."""
    d = browser
    board_id, api = sign_up_with_a_board(d, web, "Phil Phone", "phil@example.com", "Pocket")
    todo = api.send("POST", f"/boards/{board_id}/columns", {"name": "Todo"}, d)["column"]["id"]
    # A long line of code and a wide table scroll inside their own boxes.
    description = ("```\n" + "call(the, plumber, about, the, kitchen, sink); " * 4 + "\n```\n\n| " + " | ".join(f"column {n}" for n in range(12)) +
                   " |\n|" + "---|" * 12 + "\n| " + " | ".join("x" * 12 for _ in range(12)) + " |")
    card_id = api.send("POST", f"/boards/{board_id}/cards", {"column_id": todo, "title": "Call the plumber about the kitchen sink",
                                                             "description": description}, d)["card"]["id"]
    api.send("POST", f"/boards/{board_id}/invitations", {"email": "pending@example.com"}, d)
    attach_in_page(d, board_id, card_id, "a-photo-of-the-leaking-kitchen-sink-taken-on-monday-morning-before-the-plumber-came.png",
                   tiny_png(), "image/png")
    d.set_window_size(390, 844)

    def fits(what):
        width = d.execute_script("""
            const open = document.querySelector('dialog[open]');
            const box = open ? open.getBoundingClientRect() : null;
            return [document.documentElement.scrollWidth, window.innerWidth, box ? box.left : 0, box ? box.right : 0,
                    open ? open.scrollWidth - open.clientWidth : 0];""")
        assert width[0] <= width[1], f"{what} scrolls sideways on a phone: {width}"
        assert width[2] >= 0 and width[3] <= width[1], f"{what} is wider than a phone: {width}"
        assert width[4] <= 0, f"{what} scrolls sideways inside on a phone: {width}"

    for path in (f"/boards/{board_id}/members", "/notifications", "/search?q=plumber", "/account/settings"):
        d.get(web + path)
        wait(d, lambda d: d.execute_script("return document.readyState") == "complete", path)
        time.sleep(0.3)
        fits(path)
    d.get(web + f"/boards/{board_id}/cards/{card_id}")
    wait(d, lambda d: css(d, "#card-dialog").get_attribute("open") is not None, "the card dialog")
    wait(d, lambda d: css_all(d, "#cd-attachments .attachment"), "the attachment in the card dialog")
    fits("the card dialog")
    css(d, "#card-dialog [data-action='close-dialog']").click()
    for opener, dialog in (("[data-action='board-settings']", "#board-dialog"),
                           ("[data-action='board-activity']", "#activity-dialog"),
                           (f".column[data-column-id='{todo}'] [data-action='edit-column']", "#column-dialog")):
        css(d, opener).click()
        wait(d, lambda d: css(d, dialog).get_attribute("open") is not None, dialog)
        fits(dialog)
        css(d, f"{dialog} [data-action='close-dialog']").click()
    d.execute_script("document.activeElement.blur()")
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(d).send_keys("?").perform()
    wait(d, lambda d: css(d, "#keys-dialog").get_attribute("open") is not None, "the shortcuts dialog")
    fits("the shortcuts dialog")
    css(d, "#keys-dialog [data-action='close-dialog']").click()
    d.delete_all_cookies()
    for path in ("/login", "/password_reset", "/invitations/accept#i1.x"):
        d.get(web + path)
        wait(d, lambda d: d.execute_script("return document.readyState") == "complete", path)
        time.sleep(0.3)
        fits(path)


# ---- attachments --------------------------------------------------------------------------------

def tiny_png():
    """A real 4×3 PNG."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes((30, 120, 220)) * 4 for _ in range(3))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def drop_file(driver, selector, name, data, content_type):
    """Drops a file on the element `selector` as a person dragging it from their desktop would: a
    File in a DataTransfer, dispatched as dragenter, dragover and drop."""
    import base64
    driver.execute_script("""
        const [selector, name, b64, type] = arguments;
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type }));
        const target = document.querySelector(selector);
        for (const kind of ['dragenter', 'dragover', 'drop']) {
          target.dispatchEvent(new DragEvent(kind, { bubbles: true, cancelable: true, dataTransfer: transfer }));
        }""", selector, name, base64.b64encode(data).decode(), content_type)


def fetch_in_page(driver, url):
    """[status, bytes, content type] of a GET made by the page itself, with its session cookie."""
    driver.set_script_timeout(30)
    answer = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], { credentials: 'same-origin' })
          .then(async (r) => done([r.status, Array.from(new Uint8Array(await r.arrayBuffer())), r.headers.get('content-type')]))
          .catch((e) => done([0, [], String(e)]));""", url)
    return answer[0], bytes(answer[1]), answer[2]


def attach_in_page(driver, board, card_id, name, data, content_type):
    """Uploads through the API with the page's session and CSRF token; returns the attachment."""
    import base64
    import json
    driver.set_script_timeout(30)
    answer = driver.execute_async_script("""
        const [board, card, name, b64, type, done] = arguments;
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        fetch(`/api/v1/boards/${board}/cards/${card}/attachments?name=${encodeURIComponent(name)}`, {
          method: 'POST', credentials: 'same-origin', body: bytes,
          headers: { 'Content-Type': type, 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content },
        }).then(async (r) => done([r.status, await r.text()])).catch((e) => done([0, String(e)]));""",
        board, card_id, name, base64.b64encode(data).decode(), content_type)
    assert answer[0] == 201, f"upload of {name}: {answer}"
    return json.loads(answer[1])["attachment"]


def test_a_file_dropped_on_a_card_is_downloaded_by_another_member_and_refused_to_an_outsider(web, browsers, tmp_path):
    alice = signup(web, "alice@example.com", "Alice Archer")
    bob = signup(web, "bob@example.com", "Bob Baker")
    eve = signup(web, "eve@example.com", "Eve Outsider")
    board, todo = shared_board(alice, bob, name="Files")
    alice.create_column(board, "Later")
    card_id = alice.create_card(board, todo, "Holiday photos")["card"]["id"]
    a, b, e = browsers(), browsers(), browsers()
    open_board(b, web, bob, board)
    open_card(b, "Holiday photos")
    wait(b, lambda d: css_all(d, "#cd-attachments .no-attachments"), "Bob's attachments to load")
    open_board(a, web, alice, board)

    # Alice drags a file from her desktop onto the card on the board.
    data = bytes(range(256)) * 40 + "ünïcödé".encode()
    before = version(a)
    drop_file(a, f"#columns .card[data-card-id='{card_id}']", "plan (final).bin", data, "application/octet-stream")
    wait(a, lambda d: version(d) == before + 1, "the dropped file to be saved")
    # Bob's open dialog shows it live, with its size and who attached it.
    seen(b, lambda d: [n.text for n in css_all(d, "#cd-attachments .attachment-name")] == ["plan (final).bin"], "the attachment")
    meta = css(b, "#cd-attachments .attachment-meta").text
    assert "10 KB" in meta and "Alice Archer" in meta, meta
    # Bob downloads it in his own browser session: the same bytes.
    href = css(b, "#cd-attachments .attachment-name").get_attribute("href")
    status, body, _ = fetch_in_page(b, href)
    assert status == 200 and body == data, f"Bob's download: {status}, {len(body)} bytes"

    # An image dropped into Alice's open dialog is a thumbnail; made the cover, it shows on the card.
    open_card(a, "Holiday photos")
    image = tiny_png()
    before = version(a)
    drop_file(a, "#card-dialog", "beach.png", image, "image/png")
    wait(a, lambda d: version(d) == before + 1, "the dropped image")
    wait(a, lambda d: d.execute_script(
        "const i = document.querySelector('#cd-attachments .attachment-thumb'); return !!i && i.complete && i.naturalWidth === 4"), "the thumbnail")
    before = version(a)
    css(a, "#cd-attachments [data-action='make-cover']").click()
    wait(a, lambda d: version(d) == before + 1, "the cover")
    seen(b, lambda d: d.execute_script(
        "const i = document.querySelector(`.card[data-card-id='${arguments[0]}'] .card-cover`);"
        "return !!i && !i.hidden && i.complete && i.naturalWidth === 4", card_id), "the cover on Bob's board")

    # A screenshot pasted into the dialog (a File without a name), and a file from the picker.
    before = version(a)
    a.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], '', { type: 'image/png' }));
        document.querySelector('#card-dialog').dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: transfer }));""",
        __import__("base64").b64encode(image).decode())
    wait(a, lambda d: version(d) == before + 1, "the pasted image")
    picked = tmp_path / "agenda.txt"
    picked.write_text("1. Flights\n2. Hotel\n")
    before = version(a)
    a.execute_script("document.getElementById('cd-attach-input').hidden = false")
    css(a, "#cd-attach-input").send_keys(str(picked))
    wait(a, lambda d: version(d) == before + 1, "the picked file")
    names = ["plan (final).bin", "beach.png", "pasted-1.png", "agenda.txt"]
    seen(b, lambda d: [n.text for n in css_all(d, "#cd-attachments .attachment-name")] == names, "the pasted and picked files")
    assert [n.text for n in css_all(a, "#cd-attachments .attachment-name")] == names

    # Eve, who is not a member, gets nothing, even with the URL in her own session.
    e.get(web + "/login")
    e.add_cookie({"name": "tack_session", "value": eve.session.split("=", 1)[1], "path": "/"})
    e.get(web + "/boards")
    status, body, _ = fetch_in_page(e, href)
    assert status == 404 and body != data, f"an outsider's download: {status}"

    # Bob deletes the file; Alice's list follows.
    close_dialog(b)
    open_card(b, "Holiday photos")
    wait(b, lambda d: len(css_all(d, "#cd-attachments .attachment")) == 4, "the attachments in Bob's dialog")
    b.execute_script("window.confirm = () => true")
    css(b, "#cd-attachments [data-action='delete-attachment']").click()
    seen(a, lambda d: [n.text for n in css_all(d, "#cd-attachments .attachment-name")] == names[1:], "the deletion")

    # A card with a cover is dragged by its picture like any other card.
    close_dialog(a)
    drag(a, "Holiday photos", onto_column="Later")
    assert layout(a) == [["Todo", []], ["Later", ["Holiday photos"]]], layout(a)


def test_a_checklist_built_and_ticked_in_one_browser_shows_its_progress_live_in_the_other(web, browsers):
    alice = signup(web, "alice.c@example.com", "Alice Archer")
    bob = signup(web, "bob.c@example.com", "Bob Baker")
    board, todo = shared_board(alice, bob, name="Checklists")
    alice.create_card(board, todo, "Launch")
    alice.call("POST", f"/api/v1/boards/{board}/cards/{alice.create_card(board, todo, 'Chatty')['card']['id']}/comments",
               {"body": "one"}, expect=201)
    a, b = browsers(), browsers()
    open_board(a, web, alice, board)
    open_board(b, web, bob, board)
    # The card front counts comments (no cryptic sign) and hides the progress of a card without items.
    assert css(card(b, "Chatty"), ".badge-comments").text == "1"
    assert not css(card(b, "Launch"), ".badge-checklist").is_displayed()

    open_card(a, "Launch")
    wait(a, lambda d: "No checklist yet." in css(d, "#cd-checklists").text, "the empty checklists")
    css(a, "#cd-checklist-add").click()
    title = css(a, "#cd-checklist-form [name=title]")
    title.clear()
    title.send_keys("Before launch\n")
    wait(a, lambda d: css_all(d, "#cd-checklists .checklist .checklist-add input"), "the new checklist")
    # Bob has the card open too: he sees the checklist and each item arrive.
    open_card(b, "Launch")
    seen(b, lambda d: [h.text for h in css_all(d, "#cd-checklists .checklist-title")] == ["Before launch"], "the checklist")
    for text in ("Write notes", "Tag the release", "Announce"):
        before = version(a)
        box = css(a, "#cd-checklists .checklist-add input")
        box.send_keys(text + "\n")
        wait(a, lambda d: version(d) == before + 1, f"the item {text!r}")
    seen(b, lambda d: [t.text for t in css_all(d, "#cd-checklists .checklist-text")] == ["Write notes", "Tag the release", "Announce"],
         "the three items")
    # Alice ticks two; Bob's dialog and the card front on both pages show 2/3.
    for text in ("Write notes", "Announce"):
        before = version(a)
        item = next(i for i in css_all(a, "#cd-checklists .checklist-item") if i.find_element("css selector", ".checklist-text").text == text)
        item.find_element("css selector", "input[type=checkbox]").click()
        wait(a, lambda d: version(d) == before + 1, f"ticking {text!r}")
    seen(b, lambda d: [i.get_attribute("class").count("is-done") for i in css_all(d, "#cd-checklists .checklist-item")] == [1, 0, 1],
         "the ticks in Bob's dialog")
    seen(b, lambda d: css(d, "#cd-checklists .checklist-count").text == "2/3", "the checklist's count")
    close_dialog(b)
    seen(b, lambda d: css(card(d, "Launch"), ".badge-checklist").text == "2/3", "the progress on the card front")
    close_dialog(a)
    assert css(card(a, "Launch"), ".badge-checklist").text == "2/3"
    # Bob ticks the last one from his side: complete on Alice's page, and still after a reload.
    open_card(b, "Launch")
    wait(b, lambda d: len(css_all(d, "#cd-checklists .checklist-item")) == 3, "Bob's items")
    before = version(b)
    css_all(b, "#cd-checklists .checklist-item input[type=checkbox]")[1].click()
    wait(b, lambda d: version(d) == before + 1, "Bob's tick")
    seen(a, lambda d: css(card(d, "Launch"), ".badge-checklist").text == "3/3"
         and "is-complete" in css(card(d, "Launch"), ".badge-checklist").get_attribute("class"), "the completed checklist")
    a.refresh()
    wait(a, lambda d: css(card(d, "Launch"), ".badge-checklist").text == "3/3", "the progress after a reload")
    # A comment from Bob moves the count on Alice's card front.
    before = version(b)
    css(b, "#cd-comment-form textarea").send_keys("Shipped")
    css(b, "#cd-comment-form [type=submit]").click()
    wait(b, lambda d: version(d) == before + 1, "Bob's comment")
    seen(a, lambda d: css(card(d, "Launch"), ".badge-comments").text == "1", "the comment count")


def activity(driver, where):
    """The activity list's sentences, newest first ("#cd-activity" or "#board-activity")."""
    return driver.execute_script("return [...document.querySelectorAll(arguments[0] + ' .activity-text')].map(p => p.textContent)", where)


def test_the_activity_shows_both_users_changes(web, browsers):
    alice = signup(web, "alice.a@example.com", "Alice Archer")
    bob = signup(web, "bob.a@example.com", "Bob Baker")
    board, todo = shared_board(alice, bob, name="Activity")
    doing = alice.create_column(board, "Doing")
    urgent = alice.call("POST", f"/api/v1/boards/{board}/labels", {"name": "urgent", "color": "#e11d48"}, expect=201)["label"]["id"]
    card_id = alice.create_card(board, todo, "Fix login")["card"]["id"]
    a, b = browsers(), browsers()
    open_board(a, web, alice, board)
    open_board(b, web, bob, board)

    # Both have the card open; each one's change is in both dialogs' activity, newest first, live.
    open_card(a, "Fix login")
    open_card(b, "Fix login")
    for d in (a, b):
        wait(d, lambda d: activity(d, "#cd-activity") == ["Alice Archer created this card in Todo"], "the card's history")
    before = version(a)
    css(a, f"#cd-column option[value='{doing}']").click()
    wait(a, lambda d: version(d) == before + 1, "Alice's move")
    before = version(b)
    css(b, f"#cd-labels [data-label-id='{urgent}']").click()
    wait(b, lambda d: version(d) == before + 1, "Bob's label")
    before = version(b)
    css(b, "#cd-comment-form textarea").send_keys("Looks good")
    css(b, "#cd-comment-form [type=submit]").click()
    wait(b, lambda d: version(d) == before + 1, "Bob's comment")
    before = version(a)
    css(a, "#cd-done").click()
    wait(a, lambda d: version(d) == before + 1, "Alice marking it done")
    card_activity = ["Alice Archer marked this card done", "Bob Baker commented", "Bob Baker added the label urgent",
                     "Alice Archer moved this card from Todo to Doing", "Alice Archer created this card in Todo"]
    for d in (a, b):
        seen(d, lambda d: activity(d, "#cd-activity") == card_activity, "both users' changes in the card's activity")
    assert css(a, "#cd-activity .activity-excerpt").text == "Looks good"
    close_dialog(a)
    close_dialog(b)

    # The board's activity, from its header: the same changes in the board's words, and the
    # board's own; then a change by each while it is open.
    board_activity = ["Alice Archer marked “Fix login” done", "Bob Baker commented on “Fix login”",
                      "Bob Baker added the label urgent to “Fix login”", "Alice Archer moved “Fix login” from Todo to Doing",
                      "Alice Archer added “Fix login” to Todo", "Alice Archer created the label urgent",
                      "Alice Archer added the column Doing", "Alice Archer added Bob Baker to the board",
                      "Alice Archer added the column Todo", "Alice Archer created the board"]
    for d in (a, b):
        css(d, "[data-action='board-activity']").click()
        wait(d, lambda d: activity(d, "#board-activity") == board_activity, "the board's activity")
    bob.call("PATCH", f"/api/v1/boards/{board}/cards/{card_id}", {"title": "Fix the login"})
    alice.create_column(board, "Done")
    # (A card is named as it is now, also in the lines before it was renamed.)
    board_activity = ["Alice Archer added the column Done", "Bob Baker renamed “Fix login” to “Fix the login”"] + [
        line.replace("“Fix login”", "“Fix the login”") for line in board_activity]
    for d in (a, b):
        seen(d, lambda d: activity(d, "#board-activity") == board_activity, "both users' new changes in the board's activity")
    assert not css(b, "#board-activity-more").is_displayed()

    # Longer histories come a page at a time.
    for n in range(16):
        alice.call("PATCH", f"/api/v1/boards/{board}/cards/{card_id}", {"title": f"Fix the login ({n})"})
        if n < 8:
            bob.create_card(board, todo, f"Card {n}")
    b.refresh()
    wait(b, lambda d: css(d, "#live-status").get_attribute("data-state") == "live", "Bob's page again")
    css(b, "[data-action='board-activity']").click()
    wait(b, lambda d: len(activity(d, "#board-activity")) == 20 and css(d, "#board-activity-more").is_displayed(), "the first page")
    assert activity(b, "#board-activity")[:2] == ["Alice Archer renamed “Fix the login (14)” to “Fix the login (15)”",
                                                  "Alice Archer renamed “Fix the login (13)” to “Fix the login (14)”"]
    while css(b, "#board-activity-more").is_displayed():
        count = len(activity(b, "#board-activity"))
        css(b, "#board-activity-more").click()
        wait(b, lambda d: len(activity(d, "#board-activity")) > count, "the next page")
    assert activity(b, "#board-activity")[-len(board_activity):] == [
        line if "renamed" in line else line.replace("“Fix the login”", "“Fix the login (15)”") for line in board_activity]
    assert len(activity(b, "#board-activity")) == len(board_activity) + 16 + 8
    css(b, "#activity-dialog [data-action='close-dialog']").click()
    open_card(b, "Fix the login (15)")
    wait(b, lambda d: len(activity(d, "#cd-activity")) == 20 and css(d, "#cd-activity-more").is_displayed(), "the card's first page")
    css(b, "#cd-activity-more").click()
    wait(b, lambda d: activity(d, "#cd-activity")[-1] == "Alice Archer created this card in Todo", "the card's whole history")
    assert len(activity(b, "#cd-activity")) == 6 + 16 and not css(b, "#cd-activity-more").is_displayed()

    # A kind this page does not know (a newer server's) gets a general sentence, not an error.
    b.execute_script("""const s = TackBoard.store;
        s.apply({type: 'event', board: s.board.id, version: s.version + 1, id: 'x', kind: 'sticker.added', actor: arguments[0],
                 card: arguments[1], at: new Date().toISOString(), data: {shape: 'star'}});""", bob.id, card_id)
    wait(b, lambda d: activity(d, "#cd-activity")[0] == "Bob Baker changed this card", "the unknown kind in people's words")


def test_a_trello_export_is_imported_from_the_boards_page(web, browser, tmp_path):
    from trello import TrelloBoard
    export = TrelloBoard("From Trello")
    doing = export.list("Doing", 1)
    launch = export.card(doing, "Imported card", 1, desc="Came **from** Trello")
    export.checklist(launch, "Steps", 1, [("One", True), ("Two", False)])
    path = tmp_path / "trello-board.json"
    path.write_bytes(export.bytes())
    broken = tmp_path / "not-an-export.json"
    broken.write_text('{"name": "nothing else"}')
    d = browser
    sign_up(d, web, "Ida Importer", "ida@example.com")
    # A file that is not an export: the form says why, and no board is made.
    css(d, "#import-file").send_keys(str(broken))
    css(d, "#import-trello [type=submit]").click()
    wait(d, lambda d: css(d, "#import-trello .form-error").is_displayed(), "the import's error", timeout=30)
    assert "no lists or no cards" in css(d, "#import-trello .form-error").text
    assert not css_all(d, "#board-list .board-tile")
    # The export: progress, then the new board opens with its card and checklist progress.
    css(d, "#import-file").send_keys(str(path))
    css(d, "#import-trello [type=submit]").click()
    wait(d, lambda d: css_all(d, "body[data-page=board] #board"), "the imported board to open", timeout=60)
    assert css(d, ".board-name").text == "From Trello"
    assert layout(d) == [["Doing", ["Imported card"]]]
    assert css(card(d, "Imported card"), ".badge-checklist").text == "1/2"
