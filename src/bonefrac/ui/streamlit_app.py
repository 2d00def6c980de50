"""The bonefrac Streamlit page: layout only. Start it with `bonefrac ui`.

Reads BONEFRAC_API_URL (talk to a running service) or BONEFRAC_MODEL_PATH (run the engine in-process), and
BONEFRAC_DEMO_DIR (demo radiographs offered beside the upload);
everything it shows comes from bonefrac.ui.client and bonefrac.ui.present.
"""

from __future__ import annotations

import os

import streamlit as st

from bonefrac.errors import BonefracError
from bonefrac.ui import present
from bonefrac.ui.client import Analysis, DetectorClient, HttpClient, make_client

WAIT_ENV = "BONEFRAC_UI_WAIT_S"
SLIDER_STEP = 0.01


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


def _show_analysis(index: int, analysis: Analysis) -> None:
    st.subheader(analysis.name)
    st.markdown(f"**{present.call_line(analysis)}**")
    st.caption(present.summary_line(analysis))
    png = present.annotated_png(analysis)
    original, annotated = st.columns(2)
    original.image(analysis.radiograph.pixels, caption="original", width="stretch")
    annotated.image(png, caption="with fracture boxes", width="stretch")
    annotated.caption(present.LEGEND)
    rows = present.box_rows(analysis)
    if rows:
        st.table(rows)
    else:
        st.info("No boxes at these operating points. Lower the threshold to see weaker candidates.")
    png_name, json_name = present.download_names(analysis.name)
    left, right = st.columns(2)
    left.download_button(
        "Download annotated PNG",
        png,
        file_name=png_name,
        mime="image/png",
        key=f"png-{index}",
        on_click="ignore",
    )
    right.download_button(
        "Download detections JSON",
        present.result_json(analysis),
        file_name=json_name,
        mime="application/json",
        key=f"json-{index}",
        on_click="ignore",
    )


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
    except BonefracError as exc:
        st.error(_message(exc))
        st.button("Try again")
        st.stop()

    if card.stand_in:
        st.error(present.STAND_IN_WARNING, icon="\U0001f6a7")

    with st.sidebar:
        st.header("Model")
        st.caption(f"{card.name} {card.version} via {client.where}")
        start = present.start_threshold(card)
        slider_value = st.slider(
            "Confidence threshold",
            min_value=0.0,
            max_value=1.0,
            value=start,
            step=SLIDER_STEP,
            help="Starts at the model's operating points (the high-sensitivity box threshold). Moved, it is "
            "the lowest box confidence, shown on images of any call; boxes below the high-specificity "
            "threshold are dashed.",
        )
        threshold = (
            None if abs(slider_value - start) < SLIDER_STEP / 2 else slider_value
        )  # unmoved: the model's points
        st.subheader("Operating points")
        for line in present.operating_point_lines(card):
            st.caption(line)
        st.caption(present.LEGEND)
    with st.expander("Model card", expanded=False):
        st.table([{"field": field, "value": value} for field, value in present.card_facts(card)])

    uploads = st.file_uploader(f"Radiographs ({present.ACCEPTED_TYPES_TEXT})", accept_multiple_files=True)
    inputs = [(upload.name, upload.getvalue()) for upload in uploads or []]
    demo_dir = os.environ.get("BONEFRAC_DEMO_DIR")
    demos = present.demo_images(demo_dir)
    if demo_dir and demos:
        chosen = st.multiselect(present.demo_caption(demo_dir), [p.name for p in demos])
        inputs += [(p.name, p.read_bytes()) for p in demos if p.name in chosen]
    for index, (name, data) in enumerate(inputs):
        try:
            with st.spinner(f"Analysing {name} ..."):
                analysis = _analyze(client, client.where, data, name, threshold)
        except BonefracError as exc:
            st.error(f"{name}: {_message(exc)}")
            continue
        _show_analysis(index, analysis)


main()
