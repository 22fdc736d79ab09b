"""The playground in a real browser: Playwright driving Chromium (Debian's `chromium`; Playwright's
own browser download needs the network). Each test saves a screenshot, for the docs, under
docs/images/playground/ (or $FNN_SCREENSHOTS)."""

import os
import re
import shutil
from pathlib import Path

import pytest

import fnn


sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install playwright")
CHROMIUM = os.environ.get("FNN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # a browser and a page per test: seconds each
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium to drive: apt-get install chromium (or set FNN_CHROMIUM)"),
]
SCREENSHOTS = Path(os.environ.get("FNN_SCREENSHOTS", Path(__file__).resolve().parents[1] / "docs/images/playground"))


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url)
    page.wait_for_selector("#algorithm li")
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name.removeprefix('test_')}.png"), full_page=True)
    context.close()
    assert errors == [], f"the page's script failed: {errors}"


def figure(page, selector) -> float:
    return float(page.text_content(selector))


def epoch(page) -> int:
    return int(page.text_content("#epoch").replace(",", ""))


def wait_epoch(page, at_least: int) -> None:
    page.wait_for_function(f"Number(document.getElementById('epoch').textContent.replace(/,/g, '')) >= {at_least}")


def surface(page) -> str:
    return page.evaluate("document.getElementById('surface').toDataURL()")


def test_training_the_circle_lowers_the_test_loss_and_changes_the_surface(page):
    loss, picture = figure(page, "#test-loss"), surface(page)
    page.click("#play")
    wait_epoch(page, 40)
    page.click("#play")  # pause
    assert figure(page, "#test-loss") < 0.5 * loss
    assert figure(page, "#test-accuracy") > 0.9
    assert surface(page) != picture
    assert page.text_content("#play").endswith("Play")
    page.check("#show-test")


def test_changing_an_activation_rebuilds_the_network_then_steps_follow_algorithm_4_1(page):
    page.select_option('select.activation[data-layer="0"]', "relu")
    page.wait_for_function("document.getElementById('forward').textContent.includes('ReLU')")
    assert epoch(page) == 0
    page.click("#step")
    wait_epoch(page, 1)
    page.click("#sample")
    page.wait_for_function("document.getElementById('trace').textContent.includes('δ')")
    trace = page.text_content("#trace")
    assert "line 5: sample n =" in trace and "z⁽¹⁾" in trace and "δ⁽³⁾" in trace
    active = page.eval_on_selector_all("#algorithm li.active", "items => items.map(i => Number(i.dataset.line))")
    assert active == [5, 6, 7, 8, 9, 10, 11]
    assert int(page.text_content("#updates").replace(",", "")) == 26  # 250 points in batches of 10, then one


def test_the_gradient_check_button_compares_with_central_differences(page):
    page.click("#gradient-check")
    page.wait_for_selector("#gradient-result table")
    assert "agrees with central differences" in page.text_content("#gradient-result")


def test_the_network_exports_as_a_model_file_and_the_page_as_a_png(page, tmp_path):
    page.click("#step")
    wait_epoch(page, 1)
    with page.expect_download() as download:
        page.click("#export-model")
    model_path = tmp_path / download.value.suggested_filename
    download.value.save_as(model_path)
    assert model_path.name == "playground-x1-x2.npz" and fnn.load(model_path).widths == [2, 8, 8, 1]
    with page.expect_download() as download:
        page.click("#export-png")
    png = tmp_path / "playground.png"
    download.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_uploaded_points_are_trained_on(page):
    rows = "\n".join(f"{x},{y},{int(x * y > 0)}" for x in range(-5, 6) for y in range(-5, 6) if x and y)
    page.set_input_files("#upload", files=[{"name": "quadrants.csv", "mimeType": "text/csv",
                                            "buffer": ("x1,x2,label\n" + rows).encode()}])
    page.wait_for_function("document.getElementById('status').textContent.includes('quadrants.csv')")
    assert "100 points, two classes" in page.text_content("#status")
    page.click("#step")
    wait_epoch(page, 1)


def test_bad_input_is_explained_and_the_page_keeps_working(page):
    page.set_input_files("#upload", files=[{"name": "broken.csv", "mimeType": "text/csv",
                                            "buffer": b"a,b,c\n1,2\n3,x,4\n"}])
    page.wait_for_function("document.getElementById('status').classList.contains('error')")
    assert "cannot use this file" in page.text_content("#status")

    page.fill('#layers input.width[data-layer="0"]', "1000000")
    page.dispatch_event('#layers input.width[data-layer="0"]', "change")
    page.wait_for_function("document.getElementById('status').textContent.includes('up to 32')")
    assert page.input_value('#layers input.width[data-layer="0"]') == "8"  # the refused width is undone

    page.check('#data-sets input[value="plane"]')
    page.wait_for_function("!document.getElementById('status').classList.contains('error')")
    page.check('#features input[value="x1_squared"]')
    page.select_option('select.activation[data-layer="0"]', "identity")
    page.select_option('select.activation[data-layer="1"]', "identity")
    page.wait_for_function("document.getElementById('forward').textContent.includes('identity(z⁽²⁾)')")
    page.select_option("#learning-rate", "100")
    page.wait_for_function("document.getElementById('status').textContent.includes('steer training')")
    page.click("#step")
    page.wait_for_function("document.getElementById('status').textContent.includes('diverged')")
    assert epoch(page) == 0 and "error" in page.get_attribute("#status", "class")

    page.select_option("#learning-rate", "0.0001")
    page.wait_for_function("document.getElementById('status').textContent.includes('steer training')")
    page.click("#play")
    wait_epoch(page, 3)
    page.click("#play")
    assert re.fullmatch(r"[0-9.]+", page.text_content("#test-loss"))


def test_play_pressed_while_a_step_is_on_its_way_trains_on(page):
    page.click("#step")
    page.click("#play")  # the step's answer has not come yet
    wait_epoch(page, 5)
    page.click("#play")
    assert page.text_content("#play").endswith("Play") and "paused" in page.text_content("#status")
