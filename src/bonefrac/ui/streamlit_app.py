"""The bonefrac Streamlit page: layout only. Start it with `bonefrac ui`.

Reads BONEFRAC_API_URL (talk to a running service) or BONEFRAC_MODEL_PATH (run the engine in-process), and
BONEFRAC_DEMO_DIR (demo radiographs offered beside the upload, with their label files);
everything it shows comes from bonefrac.ui's modules (client, present, thresholds, reference, performance,
view, case_file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from bonefrac.card.record import ModelCard
from bonefrac.errors import BonefracError, ImageError
from bonefrac.ui import present, thresholds
from bonefrac.ui.case_file import CaseItem, case_zip, report_html, unique_stems
from bonefrac.ui.client import Analysis, DetectorClient, HttpClient, make_client
from bonefrac.ui.performance import performance_lines, short_line
from bonefrac.ui.reference import (
    ACCEPTED_LABELS_TEXT,
    Reference,
    Verdict,
    judge,
    label_file_for,
    label_source,
    reference_from_text,
    reports_for_images,
    split_uploads,
    unpaired_labels,
)
from bonefrac.ui.view import MAX_ZOOM, View, apply_view

WAIT_ENV = "BONEFRAC_UI_WAIT_S"
THRESHOLD_KEY = "threshold"
VERDICT_STYLE = {
    "found": "success",
    "true negative": "success",
    "partly found": "warning",
    "false alarm": "warning",
    "missed": "error",
}


@dataclass(frozen=True)
class Input:
    """One radiograph to analyse, and the text of its label file when it has one."""

    name: str
    data: bytes
    label_text: str | None = None
    label_source: str | None = None
    report: Reference | None = None  # from an uploaded DICOM structured report, already in pixels


@st.cache_resource(show_spinner=False)
def _client(api_url: str | None, model_path: str | None, wait_s: float) -> DetectorClient:
    client = make_client(api_url, model_path)
    if isinstance(client, HttpClient):
        client.wait_until_ready(timeout_s=wait_s)
    return client


@st.cache_data(show_spinner=False, max_entries=64)
def _analyze(
    _client: DetectorClient, where: str, data: bytes, name: str, threshold: float | None
) -> Analysis:
    return _client.analyze(data, name, threshold)


def _message(exc: BonefracError) -> str:
    return str(getattr(exc, "plain", "") or exc)


def _set_threshold(value: float) -> None:
    st.session_state[THRESHOLD_KEY] = value


def _threshold_controls(card: ModelCard) -> float | None:
    """The threshold control with its reset and named points; returns what to ask the model for."""
    offered = thresholds.options(card)
    start = thresholds.start_value(card)
    if st.session_state.get(THRESHOLD_KEY) not in offered:  # first run, or another model's value
        st.session_state[THRESHOLD_KEY] = start
    value = st.select_slider(
        "Box confidence threshold",
        options=offered,
        format_func=lambda v: thresholds.option_label(v, card),
        key=THRESHOLD_KEY,
        help="Starts exactly at the model's operating points. Any other value is the lowest box confidence "
        f"shown, on images of any call. The lowest value offered is {thresholds.floor_value(card):.4g}.",
    )
    st.caption(thresholds.meaning(value, card))
    st.button(
        "Reset to the operating point",
        on_click=_set_threshold,
        args=(start,),
        disabled=value == start,
        width="stretch",
    )
    for point in thresholds.named_points(card)[1:]:
        st.button(
            f"Use {point.name} ({thresholds.format_value(point.value)})",
            on_click=_set_threshold,
            args=(point.value,),
            disabled=value == point.value,
            width="stretch",
            key=f"named-{point.key}",
        )
    return thresholds.request_threshold(value, card)


def _view_controls() -> View:
    st.subheader("Image view")
    centre = st.slider("Window centre (level)", 0, 255, 128, help="Display value at mid-grey.")
    width = st.slider("Window width", 2, 256, 256, help="256: the whole range; narrower: more contrast.")
    zoom = st.slider("Zoom", 1.0, MAX_ZOOM, 1.0, step=0.5)
    centre_x = st.slider("Zoom centre, across", 0.0, 1.0, 0.5, step=0.05, disabled=zoom == 1)
    centre_y = st.slider("Zoom centre, down", 0.0, 1.0, 0.5, step=0.05, disabled=zoom == 1)
    st.caption("The view applies to the prediction, the reference and the original alike.")
    return View(centre, width, zoom, centre_x, centre_y)


def _reference_for(item: Input, analysis: Analysis, card: ModelCard) -> tuple[Reference, Verdict] | None:
    if item.report is not None:
        return item.report, judge(analysis.detections, item.report)
    if item.label_text is None or item.label_source is None:
        return None
    radiograph = analysis.radiograph
    reference = reference_from_text(
        item.label_text, item.label_source, radiograph.width, radiograph.height, len(card.class_names)
    )
    return reference, judge(analysis.detections, reference)


def _show_analysis(
    index: int, stem: str, item: Input, analysis: Analysis, card: ModelCard, view: View, custom: bool
) -> CaseItem:
    st.subheader(analysis.name)
    st.markdown(f"**{present.call_line(analysis)}**")
    judged = _reference_for(item, analysis, card)
    verdict_text = None
    if judged is not None:
        verdict_text = present.verdict_line(*judged)
        getattr(st, VERDICT_STYLE[judged[1].outcome])(verdict_text)
    trust = short_line(card)
    if custom:
        trust += " These numbers hold at the model's operating points, not at a threshold you chose."
    st.caption(trust)
    st.caption(present.summary_line(analysis))
    annotated = present.annotated_pixels(analysis)
    left, right = st.columns(2)
    left.image(apply_view(annotated, view), caption="prediction", width="stretch", output_format="PNG")
    reference_pixels = None
    if judged is not None:
        reference_pixels = present.reference_pixels(analysis, *judged)
        right.image(
            apply_view(reference_pixels, view), caption="reference", width="stretch", output_format="PNG"
        )
    else:
        right.image(
            apply_view(analysis.radiograph.pixels, view),
            caption="original",
            width="stretch",
            output_format="PNG",
        )
        right.caption("No label file for this image, so no reference: " + ACCEPTED_LABELS_TEXT)
    st.caption(present.LEGEND)
    if judged is not None:
        with st.expander("Original (window/level and zoom)"):
            st.image(
                apply_view(analysis.radiograph.pixels, view),
                caption="original",
                width="stretch",
                output_format="PNG",
            )
    rows = present.box_rows(analysis, None if judged is None else judged[1])
    if rows:
        st.table(rows)
    else:
        st.info("No boxes at these operating points. Lower the threshold to see weaker candidates.")
    from bonefrac.imaging.render import encode_png

    png = encode_png(annotated)
    case = CaseItem(
        analysis,
        png,
        None if reference_pixels is None else encode_png(reference_pixels),
        verdict_text,
        None if judged is None else judged[1],
    )
    png_name, json_name = present.download_names(analysis.name)
    buttons = st.columns(3)
    buttons[0].download_button(
        "Download annotated PNG",
        png,
        file_name=png_name,
        mime="image/png",
        key=f"png-{index}",
        on_click="ignore",
    )
    buttons[1].download_button(
        "Download detections JSON",
        present.result_json(analysis),
        file_name=json_name,
        mime="application/json",
        key=f"json-{index}",
        on_click="ignore",
    )
    buttons[2].download_button(
        "Download report (HTML)",
        report_html(case, card),
        file_name=f"{stem}_report.html",
        mime="text/html",
        key=f"report-{index}",
        on_click="ignore",
    )
    return case


def _inputs(demo_dir: str | None) -> list[Input]:
    uploads = st.file_uploader(
        f"Radiographs ({present.ACCEPTED_TYPES_TEXT}), with their label files if you have them",
        accept_multiple_files=True,
        help=ACCEPTED_LABELS_TEXT,
    )
    st.caption(f"Ground truth: {ACCEPTED_LABELS_TEXT}")
    try:
        sorted_uploads = split_uploads((upload.name, upload.getvalue()) for upload in uploads or [])
    except ImageError as exc:
        st.error(str(exc))
        return []
    images, labels = sorted_uploads.images, sorted_uploads.labels
    for name in unpaired_labels([name for name, _ in images], labels):
        st.warning(f"{name}: no uploaded image has this label file's name, so it is not used.")
    reports, unused = reports_for_images(images, sorted_uploads.reports)
    for name in unused:
        st.warning(f"{name}: this structured report refers to no uploaded DICOM image, so it is not used.")
    inputs = []
    for name, data in images:
        label = labels.get(Path(name).stem)
        text, source = (label[1], f"uploaded {label[0]}") if label else (None, None)
        inputs.append(Input(name, data, text, source, report=reports.get(name)))
    demos = present.demo_images(demo_dir)
    if demo_dir and demos:
        chosen = st.multiselect(present.demo_caption(demo_dir), [p.name for p in demos])
        for path in (p for p in demos if p.name in chosen):
            label_path = label_file_for(path)
            text = None if label_path is None else label_path.read_text(encoding="utf-8", errors="replace")
            source = None if label_path is None else label_source(label_path, path)
            inputs.append(Input(path.name, path.read_bytes(), text, source))
    return inputs


def main() -> None:
    st.set_page_config(page_title="bonefrac: fracture detection", layout="wide")
    st.title("bonefrac: fracture detection on radiographs")
    st.warning(present.RESEARCH_NOTICE, icon="\u26a0\ufe0f")

    api_url = os.environ.get("BONEFRAC_API_URL") or None
    model_path = os.environ.get("BONEFRAC_MODEL_PATH") or None
    wait_s = float(os.environ.get(WAIT_ENV, "60"))
    try:
        with st.spinner(f"Connecting to {api_url or model_path} ..."):
            client = _client(api_url, model_path, wait_s)
            card = client.model_card()
            markdown = client.model_card_markdown()
    except BonefracError as exc:
        st.error(_message(exc))
        st.button("Try again")
        st.stop()

    if card.stand_in:
        st.error(present.STAND_IN_WARNING, icon="\U0001f6a7")

    with st.sidebar:
        st.header("Model")
        st.caption(f"{card.name} {card.version} via {client.where}")
        threshold = _threshold_controls(card)
        st.subheader("Operating points")
        for line in present.operating_point_lines(card):
            st.caption(line)
        st.caption(present.LEGEND)
        view = _view_controls()
    st.caption(
        "How well the model does: " + " ".join(performance_lines(card)) + " Details: the model card below."
    )
    with st.expander("Model card", expanded=False):
        if markdown:
            st.markdown(markdown)
        else:
            st.caption("This model has no MODEL_CARD.md; its model_card.json says:")
            st.table([{"field": field, "value": value} for field, value in present.card_facts(card)])

    inputs = _inputs(os.environ.get("BONEFRAC_DEMO_DIR"))
    cases: list[CaseItem] = []
    stems = unique_stems([item.name for item in inputs])
    for index, (item, stem) in enumerate(zip(inputs, stems, strict=True)):
        try:
            with st.spinner(f"Analysing {item.name} ..."):
                analysis = _analyze(client, client.where, item.data, item.name, threshold)
        except BonefracError as exc:
            st.error(f"{item.name}: {_message(exc)}")
            continue
        cases.append(_show_analysis(index, stem, item, analysis, card, view, threshold is not None))
    if cases:
        st.divider()
        st.download_button(
            f"Download all {len(cases)} results (ZIP: annotated images, CSV, one HTML report per image)",
            case_zip(cases, card),
            file_name="bonefrac_results.zip",
            mime="application/zip",
            key="zip",
            on_click="ignore",
        )


main()
