"""The UI in a real browser: Debian chromium, driven by Playwright, against `bonefrac ui` and the service."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"Debian chromium not found at {CHROMIUM} (make browser-deps, or apt-get install chromium)",
    ),
]


def _keep_artifact(path: Path) -> None:
    """Copy a screenshot to $BONEFRAC_ARTIFACTS when set (CI uploads that folder)."""
    target = os.environ.get("BONEFRAC_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(target) / path.name)


def _png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture
def stand_in_model(tiny_onnx_model: Path, tmp_path: Path) -> Path:
    """The tiny model with a model card that marks it a stand-in and sets its operating point to 0.3."""
    from bonefrac.card.record import ModelCard, OperatingPoint, card_path_for, write_model_card

    model = tmp_path / "stand_in" / "model.onnx"
    model.parent.mkdir()
    shutil.copyfile(tiny_onnx_model, model)
    card = ModelCard(
        name="tiny-stand-in",
        version="0.0.1",
        class_names=["fractured"],
        input_size=64,
        operating_point=OperatingPoint(threshold=0.3, rule="max_f1", split="val"),
        stand_in=True,
        limitations=["trained 1 epoch on 30 synthetic images"],
    )
    write_model_card(card, card_path_for(model))
    return model


@pytest.fixture
def ui_url(launched, start_service, stand_in_model: Path, free_port, subprocess_env) -> str:
    service_url = start_service(stand_in_model)
    port = free_port()
    command = [sys.executable, "-m", "bonefrac", "ui", "--api-url", service_url, "--port", str(port)]
    process = launched.start("ui", command, subprocess_env())
    url = f"http://127.0.0.1:{port}"
    launched.wait_http(process, f"{url}/_stcore/health")
    return url


def test_browser_upload_shows_boxes_table_and_downloads(
    ui_url: str, sample_png: bytes, sample_dicom: bytes, tmp_path: Path
):
    from playwright.sync_api import expect, sync_playwright

    png_file, dicom_file = tmp_path / "wrist.png", tmp_path / "elbow.dcm"
    png_file.write_bytes(sample_png)
    dicom_file.write_bytes(sample_dicom)
    screenshot = tmp_path / "ui_browser_test.png"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)  # a shared 2-core machine can be slow; waits end on success
            page.goto(ui_url)
            expect(page.get_by_text("bonefrac: fracture detection on radiographs")).to_be_visible()
            expect(page.get_by_text("Research use only")).to_be_visible()
            expect(page.get_by_text("not a medical device", exact=False).first).to_be_visible()
            expect(page.get_by_text("This is a STAND-IN model")).to_be_visible()
            expect(page.get_by_text("tiny-stand-in 0.0.1 via")).to_be_visible()

            slider = page.get_by_role("slider")
            expect(slider).to_have_value("0.3")  # the model card's operating point
            sidebar = page.locator("[data-testid=stSidebar]")
            expect(sidebar.get_by_text("one operating point for both tiers: 0.300 (max_f1)")).to_be_visible()
            expect(sidebar.get_by_text("Solid boxes: high-specificity operating point.")).to_be_visible()
            slider.focus()
            page.keyboard.press("Home")
            expect(slider).to_have_value("0")

            page.locator("input[type=file]").set_input_files([str(png_file), str(dicom_file)])
            expect(page.get_by_text("Download annotated PNG")).to_have_count(2)
            expect(page.get_by_text("boxes at threshold 0.00").first).to_be_visible()
            calls = page.locator("[data-testid=stMarkdownContainer]").filter(has_text="Call: ")
            expect(calls).to_have_count(2)
            expect(calls.first).to_contain_text("Fracture probability: no classifier with this model")

            tables = page.locator("[data-testid=stTable] table").filter(has_text="width (px)")
            expect(tables).to_have_count(2)
            rows = tables.first.locator("tbody tr")
            assert rows.count() > 0
            assert "fractured" in rows.first.inner_text()
            # the tiny model's boxes are all below the card's 0.3: shown at 0 as the dashed tier
            assert "high sensitivity (dashed)" in rows.first.inner_text()
            dicom_row = tables.nth(1).locator("tbody tr").first.inner_text()
            assert "\u2014" not in dicom_row  # DICOM pixel spacing: sizes in mm are filled in

            images = page.locator("[data-testid=stImage] img")
            expect(images).to_have_count(4)
            original = httpx.get(httpx.URL(ui_url).join(images.nth(0).get_attribute("src"))).content
            annotated = httpx.get(httpx.URL(ui_url).join(images.nth(1).get_attribute("src"))).content
            assert _png_pixels(original).shape == _png_pixels(annotated).shape
            assert not np.array_equal(_png_pixels(original), _png_pixels(annotated))  # boxes were drawn

            with page.expect_download() as png_download:
                page.get_by_role("button", name="Download annotated PNG").first.click()
            assert png_download.value.suggested_filename == "wrist_annotated.png"
            downloaded_png = tmp_path / "downloaded.png"
            png_download.value.save_as(downloaded_png)
            assert _png_pixels(downloaded_png.read_bytes()).shape == (128, 128, 3)

            with page.expect_download() as json_download:
                page.get_by_role("button", name="Download detections JSON").first.click()
            downloaded_json = tmp_path / "downloaded.json"
            json_download.value.save_as(downloaded_json)
            document = json.loads(downloaded_json.read_text())
            assert document["file_name"] == "wrist.png"
            assert document["threshold"] == 0.0
            assert len(document["detections"]) == rows.count()
            assert {d["tier"] for d in document["detections"]} == {"high_sensitivity"}
            assert document["image"]["fracture_probability"] is None and document["image"]["call"]

            page.get_by_text("Model card").click()
            expect(page.get_by_text("operating point", exact=True)).to_be_visible()
            # Streamlit scrolls inside its own container: a tall viewport puts the whole page in one shot.
            page.set_viewport_size({"width": 1400, "height": 3600})
            page.wait_for_timeout(500)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    _keep_artifact(screenshot)
    assert screenshot.stat().st_size > 10_000


def test_browser_in_process_engine_without_service(
    launched, stand_in_model: Path, free_port, subprocess_env, sample_png: bytes, tmp_path: Path
):
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    command = [sys.executable, "-m", "bonefrac", "ui", "--model", str(stand_in_model), "--port", str(port)]
    process = launched.start("ui-in-process", command, subprocess_env())
    launched.wait_http(process, f"http://127.0.0.1:{port}/_stcore/health")
    image = tmp_path / "hand.png"
    image.write_bytes(sample_png)
    broken = tmp_path / "notes.png"
    broken.write_bytes(b"these are notes, not a radiograph")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)  # a shared 2-core machine can be slow; waits end on success
            page.goto(f"http://127.0.0.1:{port}")
            expect(page.get_by_text(f"via in-process: {stand_in_model}")).to_be_visible()
            slider = page.get_by_role("slider")
            expect(slider).to_have_value("0.3")
            slider.focus()
            page.keyboard.press("Home")
            expect(slider).to_have_value("0")
            page.locator("input[type=file]").set_input_files([str(image), str(broken)])
            expect(page.get_by_text("boxes at threshold 0.00")).to_be_visible()
            table = page.locator("[data-testid=stTable] table").filter(has_text="width (px)")
            expect(table).to_have_count(1)
            assert table.locator("tbody tr").count() > 0
            error = page.locator("[data-testid=stAlert]").filter(has_text="notes.png:")
            expect(error).to_contain_text("accepted formats are")  # the bad file is explained, not a crash
        finally:
            browser.close()


def test_browser_two_tiers_probability_call_and_dashed_boxes(
    launched, tiered_model, tiny_pair_reference, free_port, subprocess_env, tmp_path: Path
):
    """A model with a classifier and two operating points, in-process: the call, the probability, both points
    in the sidebar, the tier of each box, and dashed boxes in the annotated image."""
    from playwright.sync_api import expect, sync_playwright

    from bonefrac.imaging.io import load_image
    from bonefrac.infer.classifier import FractureClassifier

    model = tiered_model()
    probability = FractureClassifier(model.parent / "classifier.onnx").probability(
        load_image(tiny_pair_reference.image)
    )
    port = free_port()
    command = [sys.executable, "-m", "bonefrac", "ui", "--model", str(model), "--port", str(port)]
    process = launched.start("ui-tiered", command, subprocess_env())
    launched.wait_http(process, f"http://127.0.0.1:{port}/_stcore/health")
    image = tmp_path / "ankle.png"
    image.write_bytes(tiny_pair_reference.image.read_bytes())
    screenshot = tmp_path / "ui_browser_tiers.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)
            page.goto(f"http://127.0.0.1:{port}")
            sidebar = page.locator("[data-testid=stSidebar]")
            # Streamlit's markdown shows ">=" as "≥"
            expect(sidebar.get_by_text("high specificity (solid boxes): image score ≥")).to_be_visible()
            expect(sidebar.get_by_text("high sensitivity (dashed boxes): image score ≥")).to_be_visible()
            expect(sidebar.get_by_text("image score = 0.50 x classifier probability")).to_be_visible()
            page.locator("input[type=file]").set_input_files([str(image)])
            call = page.locator("[data-testid=stMarkdownContainer]").filter(has_text="Call: ")
            expect(call).to_contain_text("Call: high specificity")
            expect(call).to_contain_text(f"Fracture probability {probability:.3f} (classifier)")
            table = page.locator("[data-testid=stTable] table").filter(has_text="width (px)")
            rows = table.locator("tbody tr")
            expect(rows).to_have_count(len(tiny_pair_reference.confidences))  # waits for the table
            expect(rows.first).to_contain_text("high specificity (solid)")
            for index in range(1, len(tiny_pair_reference.confidences)):
                expect(rows.nth(index)).to_contain_text("high sensitivity (dashed)")
            expect(page.get_by_text("Dashed boxes: high-sensitivity operating point").first).to_be_visible()
            page.set_viewport_size({"width": 1400, "height": 2400})
            page.wait_for_timeout(500)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    _keep_artifact(screenshot)


SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model.onnx"


def test_browser_demo_radiograph_with_the_shipped_model(launched, free_port, subprocess_env, tmp_path):
    """What `make run` shows: the shipped FracAtlas model (no stand-in banner) and the demo radiographs it
    prepares (FracAtlas test images when FracAtlas is beside the checkout, else synthetic ones), captioned
    with their kind."""
    from playwright.sync_api import expect, sync_playwright

    from bonefrac.card.record import card_path_for, read_model_card
    from bonefrac.demo.prepare import prepare_demo
    from bonefrac.ui.present import DEMO_CAPTIONS, demo_images, operating_point_lines

    card = read_model_card(card_path_for(SHIPPED_MODEL))
    demo_dir = tmp_path / "demo"
    kind = prepare_demo(demo_dir, cwd=SHIPPED_MODEL.parents[2]).manifest.kind
    first = demo_images(demo_dir)[0].name
    port = free_port()
    command = [
        sys.executable, "-m", "bonefrac", "ui", "--model", str(SHIPPED_MODEL), "--demo-dir", str(demo_dir),
        "--port", str(port),
    ]  # fmt: skip
    process = launched.start("ui-shipped", command, subprocess_env())
    launched.wait_http(process, f"http://127.0.0.1:{port}/_stcore/health")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)
            page.goto(f"http://127.0.0.1:{port}")
            expect(page.get_by_text(f"{card.name} {card.version} via")).to_be_visible()
            for line in operating_point_lines(card):  # the card's two tiers (or its one point), in words
                shown = line.replace(" >= ", " ≥ ")  # Streamlit's markdown shows " >= " as " ≥ "
                expect(page.get_by_text(shown, exact=False)).to_be_visible()
            expect(page.get_by_text(DEMO_CAPTIONS[kind])).to_be_visible()
            page.locator("[data-testid=stMultiSelect]").click()
            page.get_by_role("option", name=first).click()
            page.keyboard.press("Escape")  # close the list; the page re-runs with the choice
            expect(page.get_by_text("Download annotated PNG")).to_have_count(1)
            expect(page.locator("[data-testid=stHeading]").filter(has_text=first)).to_have_count(1)
            calls = page.locator("[data-testid=stMarkdownContainer]").filter(has_text="Call: ")
            expect(calls).to_have_count(1)
            assert page.get_by_text("This is a STAND-IN model").count() == 0
        finally:
            browser.close()
