"""The UI in a real browser: Debian chromium, driven by Playwright, against `bonefrac ui` and the service."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
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

STAND_IN_POINT = 0.005

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
    """The tiny model with a model card that marks it a stand-in and sets its operating point to 0.005 (the
    untrained tiny model's boxes are weak: a few lie above it)."""
    from bonefrac.card.record import ModelCard, OperatingPoint, card_path_for, write_model_card

    model = tmp_path / "stand_in" / "model.onnx"
    model.parent.mkdir()
    shutil.copyfile(tiny_onnx_model, model)
    card = ModelCard(
        name="tiny-stand-in",
        version="0.0.1",
        class_names=["fractured"],
        input_size=64,
        operating_point=OperatingPoint(threshold=STAND_IN_POINT, rule="max_f1", split="val"),
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

            slider = page.get_by_role("slider").first
            # the model card's operating point, exactly; below the 0.05 floor, so it is the lowest value
            expect(slider).to_have_attribute("aria-valuetext", "0.005 (the model's operating point (max_f1))")
            sidebar = page.locator("[data-testid=stSidebar]")
            expect(sidebar.get_by_text("one operating point for both tiers: 0.005 (max_f1)")).to_be_visible()
            expect(
                sidebar.get_by_text("Solid boxes: high-specificity operating point.").first
            ).to_be_visible()
            slider.focus()
            page.keyboard.press("Home")
            expect(slider).to_have_attribute("aria-valuetext", "0.005 (the model's operating point (max_f1))")

            page.locator("input[type=file]").set_input_files([str(png_file), str(dicom_file)])
            expect(page.get_by_text("Download annotated PNG")).to_have_count(2)
            expect(page.get_by_text("at threshold 0.005 (").first).to_be_visible()
            calls = page.locator("[data-testid=stMarkdownContainer]").filter(has_text="Call: ")
            expect(calls).to_have_count(2)
            expect(calls.first).to_contain_text("Fracture probability: no classifier with this model")

            tables = page.locator("[data-testid=stTable] table").filter(has_text="width (px)")
            expect(tables).to_have_count(2)
            rows = tables.first.locator("tbody tr")
            assert rows.count() > 0
            assert "fractured" in rows.first.inner_text()
            # one operating point for both tiers: every box at or above it is solid
            assert "high specificity (solid)" in rows.first.inner_text()
            dicom_row = tables.nth(1).locator("tbody tr").first.inner_text()
            assert "\u2014" not in dicom_row  # DICOM pixel spacing: sizes in mm are filled in

            images = page.locator("[data-testid=stImage] img")
            expect(images).to_have_count(4)  # per image: prediction and original (no label file)
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
            assert document["threshold"] == STAND_IN_POINT
            assert len(document["detections"]) == rows.count()
            assert {d["tier"] for d in document["detections"]} == {"high_specificity"}
            assert document["image"]["fracture_probability"] is None and document["image"]["call"]

            page.get_by_text("Model card", exact=True).click()  # no MODEL_CARD.md: the card's facts
            expect(page.get_by_text("This model has no MODEL_CARD.md")).to_be_visible()
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
            slider = page.get_by_role("slider").first
            expect(slider).to_have_attribute("aria-valuetext", "0.005 (the model's operating point (max_f1))")
            page.locator("input[type=file]").set_input_files([str(image), str(broken)])
            expect(page.get_by_text("at threshold 0.005 (")).to_be_visible()
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
            _choose_demo(page, first)
            expect(page.get_by_text("Download annotated PNG")).to_have_count(1)
            expect(page.locator("[data-testid=stHeading]").filter(has_text=first)).to_have_count(1)
            calls = page.locator("[data-testid=stMarkdownContainer]").filter(has_text="Call: ")
            expect(calls).to_have_count(1)
            assert page.get_by_text("This is a STAND-IN model").count() == 0
        finally:
            browser.close()


def _choose_demo(page, name: str) -> None:
    """Pick a demo radiograph by typing its name into the list (the list may sit at the window's bottom edge,
    where its drop-down has no room to show options)."""
    field = page.locator("[data-testid=stMultiSelect] input")
    field.click()
    field.fill(name)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # close the list; the page re-runs with the choice


def _nonblank(path: Path) -> np.ndarray:
    """The screenshot's pixels, after checking it shows something: many colours, real contrast."""
    pixels = _png_pixels(path.read_bytes())
    assert pixels.std() > 20, f"{path.name} looks blank (std {pixels.std():.1f})"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500, f"{path.name} has too few colours"
    return pixels


def _slider(page, label: str):
    """The slider whose label is exactly `label`."""
    box = page.locator("[data-testid=stSlider]").filter(has=page.get_by_text(label, exact=True))
    return box.get_by_role("slider")


def _image(page, ui_url: str, caption: str, index: int = 0) -> np.ndarray:
    """Pixels of the `index`-th picture captioned `caption`, fetched from the UI's media server."""
    img = page.locator("[data-testid=stImage]").filter(has_text=caption).nth(index).locator("img")
    return _png_pixels(httpx.get(httpx.URL(ui_url).join(img.get_attribute("src"))).content)


def _image_when(page, ui_url: str, caption: str, ready, timeout_s: float = 60) -> np.ndarray:
    """`_image`, fetched again until `ready(pixels)` holds (the page re-runs after a control moves) or time is
    up; the last pixels either way, for the caller's assertion to explain."""
    deadline = time.monotonic() + timeout_s
    while True:
        img = page.locator("[data-testid=stImage]").filter(has_text=caption).first.locator("img")
        answer = httpx.get(httpx.URL(ui_url).join(img.get_attribute("src") or "/"))
        # a picture replaced while it was fetched answers 404, not a PNG
        pixels = _png_pixels(answer.content) if answer.content.startswith(b"\x89PNG") else None
        if pixels is not None and (ready(pixels) or time.monotonic() > deadline):
            return pixels
        assert time.monotonic() < deadline, f"the {caption} picture could not be fetched within {timeout_s} s"
        page.wait_for_timeout(300)


def _binary_share(pixels: np.ndarray) -> float:
    """The share of grey pixels that are pure black or white (a 2-value window leaves little else)."""
    grey = pixels[(pixels == pixels[..., :1]).all(axis=2)]
    return float(np.isin(grey, (0, 255)).mean()) if grey.size else 0.0


def _tag_bands(pixels: np.ndarray, colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    """Runs of rows where `colour` fills a label tag (more than 12 pixels of a row: more than the outlines'
    edges, less than a tag's background between its letters), as (first, last)."""
    rows = np.flatnonzero(np.all(pixels == colour, axis=2).sum(axis=1) > 12)
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1) if rows.size else []
    return [(int(r[0]), int(r[-1])) for r in runs if len(r) >= 6]


def test_browser_truth_threshold_view_and_case_file_with_the_shipped_model(
    launched, free_port, subprocess_env, tmp_path
):
    """What a new user sees with `make run`'s model and demo radiographs, at laptop size (1280 x 800): the
    reference beside the prediction with a found/missed/false-alarm verdict, the readable model card and the
    measured sensitivity and specificity, the threshold at the exact operating point with reset and named
    points, nested reference boxes whose labels do not cover each other, window/level and zoom, the per-image
    report and the ZIP of all results. Screenshots are saved and checked for content."""
    import io
    import zipfile

    from playwright.sync_api import expect, sync_playwright

    from bonefrac.card.record import card_path_for, read_model_card
    from bonefrac.demo.folder import read_demo_manifest
    from bonefrac.demo.prepare import prepare_demo
    from bonefrac.ui import thresholds
    from bonefrac.ui.client import EngineClient
    from bonefrac.ui.performance import short_line
    from bonefrac.ui.present import REFERENCE_COLOUR, verdict_line
    from bonefrac.ui.reference import judge, label_file_for, label_source, reference_from_text

    card = read_model_card(card_path_for(SHIPPED_MODEL))
    demo_dir = tmp_path / "demo"
    prepare_demo(demo_dir, cwd=SHIPPED_MODEL.parents[2])
    manifest = read_demo_manifest(demo_dir)
    assert manifest is not None
    fractured = next(image for image in manifest.images if image.boxes)
    demo_image = demo_dir / fractured.file
    # what the page must say about it, from the same engine and the same matching
    analysis = EngineClient(SHIPPED_MODEL).analyze(demo_image.read_bytes(), demo_image.name, None)
    label = label_file_for(demo_image)
    assert label is not None
    reference = reference_from_text(
        label.read_text(), label_source(label, demo_image), analysis.radiograph.width,
        analysis.radiograph.height, len(card.class_names),
    )  # fmt: skip
    verdict = judge(analysis.detections, reference)
    expected_verdict = verdict_line(reference, verdict)

    # an upload with a label file that marks one fracture twice, nested: two tags, one above the other
    upload = tmp_path / "nested.png"
    upload.write_bytes(demo_image.read_bytes() if demo_image.suffix == ".png" else _as_png(demo_image))
    (tmp_path / "nested.txt").write_text("0 0.5 0.5 0.3 0.3\n0 0.5 0.505 0.29 0.29\n")

    port = free_port()
    command = [
        sys.executable, "-m", "bonefrac", "ui", "--model", str(SHIPPED_MODEL), "--demo-dir", str(demo_dir),
        "--port", str(port),
    ]  # fmt: skip
    process = launched.start("ui-truth", command, subprocess_env())
    ui_url = f"http://127.0.0.1:{port}"
    launched.wait_http(process, f"{ui_url}/_stcore/health")
    start = thresholds.start_value(card)
    start_text = thresholds.option_label(start, card)
    shots = {name: tmp_path / f"ui_browser_{name}.png" for name in ("side_by_side", "view", "threshold")}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
            page.set_default_timeout(120_000)
            expect.set_options(timeout=120_000)
            page.goto(ui_url)

            # the threshold starts exactly at the operating point; reset is there, the named points too
            threshold = page.get_by_role("slider").first
            expect(threshold).to_have_attribute("aria-valuetext", start_text)
            assert start_text.startswith(thresholds.format_value(start)) and start != round(start, 2)
            reset = page.get_by_role("button", name="Reset to the operating point")
            expect(reset).to_be_disabled()
            named = thresholds.named_points(card)[1:]
            for point in named:
                expect(page.get_by_role("button", name=f"Use {point.name}")).to_be_visible()

            # the model card, readable, and the measured numbers in words
            expect(page.get_by_text("How well the model does: Measured on the").first).to_be_visible()
            page.get_by_text("Model card", exact=True).click()
            expect(
                page.get_by_role("heading", name=f"Model card: {card.name} {card.version}")
            ).to_be_visible()
            page.get_by_text("Model card", exact=True).click()  # fold it again

            # a demo radiograph: prediction beside the reference, with the verdict
            _choose_demo(page, demo_image.name)
            alert = page.locator("[data-testid=stAlert]").filter(has_text="Reference (labels/")
            expect(alert).to_have_text(expected_verdict.replace(" >= ", " ≥ "))
            expect(page.get_by_text(short_line(card), exact=False).first).to_be_visible()
            prediction_box = page.locator("[data-testid=stImage]").filter(has_text="prediction").first
            expect(prediction_box).to_be_visible()
            expect(page.locator("[data-testid=stImage]").filter(has_text="reference").first).to_be_visible()
            table = page.locator("[data-testid=stTable] table").filter(has_text="width (px)").first
            if len(analysis.detections):
                expect(table).to_contain_text("matches a fracture" if verdict.found else "false alarm")
            prediction_box.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots["side_by_side"]))
            shot = _nonblank(shots["side_by_side"])
            reference_pixels = _image(page, ui_url, "reference")
            assert np.all(reference_pixels == REFERENCE_COLOUR, axis=2).sum() > 100  # green reference boxes
            # both panels are in the screenshot, side by side: the green reference lies right of the middle
            green = np.argwhere(np.all(shot == REFERENCE_COLOUR, axis=2))
            assert green.size and green[:, 1].min() > shot.shape[1] // 2

            # window/level and zoom change the pictures
            before = _image(page, ui_url, "prediction")
            _slider(page, "Window width").focus()
            page.keyboard.press("Home")  # the narrowest window: almost only black and white
            expect(_slider(page, "Window width")).to_have_attribute("aria-valuetext", "2")
            narrow = _image_when(page, ui_url, "prediction", lambda p: _binary_share(p) > 0.95)
            assert _binary_share(narrow) > 0.95
            _slider(page, "Window width").focus()
            page.keyboard.press("End")
            expect(_slider(page, "Window width")).to_have_attribute("aria-valuetext", "256")
            _slider(page, "Zoom").focus()
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")  # 2x
            expect(_slider(page, "Zoom")).to_have_attribute("aria-valuetext", "2.00")
            zoomed = _image_when(page, ui_url, "prediction", lambda p: p.shape[0] < before.shape[0] * 0.75)
            assert abs(zoomed.shape[0] * 2 - before.shape[0]) <= 2
            assert abs(zoomed.shape[1] * 2 - before.shape[1]) <= 2
            assert not np.isin(zoomed, (0, 255)).all()  # the full window again: grey values
            prediction_box.scroll_into_view_if_needed()
            page.screenshot(path=str(shots["view"]))
            _nonblank(shots["view"])
            _slider(page, "Zoom").focus()
            page.keyboard.press("Home")
            expect(_slider(page, "Zoom")).to_have_attribute("aria-valuetext", "1.00")

            # a named point, a step away and back (the exact value again), the floor, and reset
            spec = named[0]
            page.get_by_role("button", name=f"Use {spec.name}").click()
            expect(threshold).to_have_attribute("aria-valuetext", thresholds.option_label(spec.value, card))
            expect(
                page.get_by_text(f"at threshold {thresholds.format_value(spec.value)}").first
            ).to_be_visible()
            expect(reset).to_be_enabled()
            threshold.focus()
            page.keyboard.press("ArrowRight")
            nxt = thresholds.options(card)[thresholds.options(card).index(spec.value) + 1]
            expect(threshold).to_have_attribute("aria-valuetext", thresholds.option_label(nxt, card))
            page.keyboard.press("ArrowLeft")
            expect(threshold).to_have_attribute("aria-valuetext", thresholds.option_label(spec.value, card))
            page.keyboard.press("Home")
            floor = thresholds.floor_value(card)
            expect(threshold).to_have_attribute("aria-valuetext", thresholds.option_label(floor, card))
            assert floor > 0
            page.locator("[data-testid=stSidebar]").screenshot(path=str(shots["threshold"]))
            _nonblank(shots["threshold"])
            page.keyboard.press("End")
            expect(threshold).to_have_attribute("aria-valuetext", "1.00")
            expect(page.get_by_text("every box with confidence ≥ 1.00 is shown")).to_be_visible()
            reset.click()
            expect(threshold).to_have_attribute("aria-valuetext", start_text)
            expect(reset).to_be_disabled()

            # an uploaded image with its label file: nested reference boxes get separate, whole tags
            page.locator("input[type=file]").set_input_files([str(upload), str(tmp_path / "nested.txt")])
            expect(
                page.locator("[data-testid=stAlert]").filter(has_text="Reference (uploaded nested.txt")
            ).to_be_visible()
            references = page.locator("[data-testid=stImage]").filter(has_text="reference")
            expect(references).to_have_count(2)
            expect(page.get_by_role("button", name="Download all 2 results")).to_be_visible()  # the run ended
            nested = _image(page, ui_url, "reference", index=0)  # uploads come before demo images
            bands = sorted(_tag_bands(nested, REFERENCE_COLOUR))
            assert len(bands) == 2, bands  # two tags, neither covering the other
            heights = [last - first for first, last in bands]
            assert abs(heights[0] - heights[1]) <= 2, bands  # both whole (an outline row may join one)

            # the case file: one report per image, and a ZIP of everything
            with page.expect_download() as report_download:
                page.get_by_role("button", name="Download report (HTML)").nth(1).click()  # the demo image
            report = tmp_path / "report.html"
            report_download.value.save_as(report)
            html = report.read_text()
            assert html.count("data:image/png;base64,") == 2 and "Research use only" in html
            assert expected_verdict.split(": ", 1)[1].rstrip(".") in html.replace("&gt;", ">")
            with page.expect_download() as zip_download:
                page.get_by_role("button", name="Download all 2 results").click()
            archive = zipfile.ZipFile(io.BytesIO(Path(zip_download.value.path()).read_bytes()))
            names = set(archive.namelist())
            stem = demo_image.stem
            assert {
                "results.csv",
                f"annotated/{stem}_annotated.png",
                f"reference/{stem}_reference.png",
            } <= names
            assert {f"reports/{stem}_report.html", "reports/nested_report.html"} <= names
            csv_text = archive.read("results.csv").decode()
            assert f"{demo_image.name}," in csv_text and f",{verdict.outcome}," in csv_text
        finally:
            browser.close()
    for shot_path in shots.values():
        _keep_artifact(shot_path)


def _as_png(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("L").save(buffer, format="PNG")
    return buffer.getvalue()
