import sys

import numpy as np
import pytest
from imaging_factories import encode_raster, gradient
from PIL import Image

from bonefrac.errors import ImageError
from bonefrac.imaging.io import load_image

ROW = np.array([[0, 50, 100, 150, 200]])  # stored values; slope 2, intercept -100 -> -100, 0, 100, 200, 300


def _gray(radiograph):
    pixels = radiograph.pixels
    assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2])
    return pixels[..., 0]


@pytest.mark.parametrize(
    ("function", "center", "width", "expected"),
    [
        # LINEAR: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clipped
        ("LINEAR", 100, 201, [0, 1, 128, 255, 255]),
        # LINEAR_EXACT: y = ((x - c) / w + 0.5) * 255, clipped
        ("LINEAR_EXACT", 100, 200, [0, 0, 128, 255, 255]),
        ("LINEAR_EXACT", 0, 400, [64, 128, 191, 255, 255]),
        # SIGMOID: y = 255 / (1 + exp(-4 (x - c) / w))
        ("SIGMOID", 100, 200, [30, 30, 128, 225, 225]),
    ],
)
def test_dicom_rescale_then_window_matches_hand_computed(make_dicom, function, center, width, expected):
    data = make_dicom(
        ROW.astype(np.uint16),
        bits_stored=12,
        RescaleSlope=2,
        RescaleIntercept=-100,
        WindowCenter=center,
        WindowWidth=width,
        VOILUTFunction=function,
    )
    radiograph = load_image(data)
    if function == "SIGMOID":  # hand values rounded from 255 / (1 + e^(+-2)) = 30.4 / 224.6
        expected = list(np.rint(255 / (1 + np.exp(-4 * (np.array([-100, 0, 100, 200, 300]) - 100) / 200))))
    assert _gray(radiograph)[0].tolist() == expected
    assert radiograph.metadata["voi"] == "window"
    assert radiograph.metadata["voi_lut_function"] == function


def test_dicom_monochrome1_is_inverted_after_windowing(make_dicom):
    common = dict(bits_stored=12, RescaleSlope=2, RescaleIntercept=-100, WindowCenter=100, WindowWidth=201)
    mono2 = load_image(make_dicom(ROW.astype(np.uint16), photometric="MONOCHROME2", **common))
    mono1 = load_image(make_dicom(ROW.astype(np.uint16), photometric="MONOCHROME1", **common))
    assert _gray(mono1)[0].tolist() == [255, 254, 127, 0, 0]
    assert np.array_equal(_gray(mono1), 255 - _gray(mono2))
    assert mono1.metadata["inverted"] == "MONOCHROME1"


def test_dicom_first_of_several_windows_is_used(make_dicom):
    data = make_dicom(
        ROW.astype(np.uint16), WindowCenter=[100, 0], WindowWidth=[200, 400], VOILUTFunction="LINEAR_EXACT"
    )
    assert _gray(load_image(data))[0].tolist() == [0, 64, 128, 191, 255]


@pytest.mark.parametrize(
    ("stored", "signed", "bits", "expected"),
    [
        ([[0, 1000, 4095]], False, 12, [0, 62, 255]),  # 12-bit in 16: actual range, not 0..65535
        ([[-1000, 0, 1000]], True, 16, [0, 128, 255]),  # signed values
        ([[7, 7, 7]], False, 16, [0, 0, 0]),  # constant image
    ],
)
def test_dicom_without_window_uses_actual_value_range(make_dicom, stored, signed, bits, expected):
    data = make_dicom(np.array(stored, np.int32), signed=signed, bits_stored=bits)
    radiograph = load_image(data)
    assert _gray(radiograph)[0].tolist() == expected
    assert radiograph.metadata["voi"] == "value range"


@pytest.mark.parametrize("vr", ["US", "OW"])
def test_dicom_voi_lut_sequence_preferred_over_window(make_dicom, vr):
    from pydicom.dataset import Dataset

    lut = Dataset()
    lut.LUTDescriptor = [4, 0, 16]  # 4 entries, first mapped value 0, 16-bit entries
    table = [10, 20, 40, 90]
    lut.add_new("LUTData", vr, table if vr == "US" else np.array(table, "<u2").tobytes())
    lut.LUTExplanation = "TEST LUT"
    data = make_dicom(
        np.array([[0, 1, 2, 3, 9]], np.uint16), VOILUTSequence=[lut], WindowCenter=0, WindowWidth=2
    )
    radiograph = load_image(data)
    # LUT output 10, 20, 40, 90, 90 (beyond the table: last entry), scaled from the LUT range 10..90.
    assert _gray(radiograph)[0].tolist() == [0, 32, 96, 255, 255]
    assert radiograph.metadata["voi"] == "VOI LUT"


def test_dicom_invalid_window_falls_back_to_value_range(make_dicom):
    data = make_dicom(np.array([[0, 500, 1000]], np.uint16), WindowCenter=10, WindowWidth=0)
    radiograph = load_image(data)
    assert _gray(radiograph)[0].tolist() == [0, 128, 255]
    assert radiograph.metadata["voi"] == "value range"


@pytest.mark.parametrize(
    ("elements", "spacing", "source"),
    [
        ({"PixelSpacing": [0.139, 0.14]}, (0.139, 0.14), "PixelSpacing"),
        ({"ImagerPixelSpacing": [0.2, 0.2]}, (0.2, 0.2), "ImagerPixelSpacing"),
        ({"PixelSpacing": [0.1, 0.1], "ImagerPixelSpacing": [0.2, 0.2]}, (0.1, 0.1), "PixelSpacing"),
        ({"PixelSpacing": [0, 0.1], "ImagerPixelSpacing": [0.2, 0.3]}, (0.2, 0.3), "ImagerPixelSpacing"),
        ({}, None, None),
    ],
)
def test_dicom_pixel_spacing_is_carried(make_dicom, elements, spacing, source):
    radiograph = load_image(make_dicom(gradient(8, 8).astype(np.uint16), **elements))
    assert radiograph.pixel_spacing_mm == (pytest.approx(spacing) if spacing else None)
    assert radiograph.metadata.get("pixel_spacing_source") == source


def test_dicom_metadata_is_technical_without_patient_identifiers(make_dicom):
    data = make_dicom(
        gradient(8, 8).astype(np.uint16),
        bits_stored=12,
        BodyPartExamined="HAND",
        ViewPosition="PA",
        RescaleSlope=1,
        RescaleIntercept=0,
    )
    meta = load_image(data, name="scan.dcm").metadata
    assert meta["modality"] == "DX" and meta["body_part_examined"] == "HAND" and meta["view_position"] == "PA"
    assert meta["bit_depth"] == 12 and meta["original_width"] == 8 and meta["original_height"] == 8
    assert meta["transfer_syntax"] == "Explicit VR Little Endian"
    assert meta["rescale_slope"] == 1.0 and type(meta["rescale_slope"]) is float
    text = repr(meta)
    assert "SECRET-ID-123" not in text and "Test^Patient" not in text


def test_dicom_multiframe_needs_a_frame(make_dicom):
    frames = np.stack([np.full((4, 6), value, np.uint8) for value in (0, 128, 255)])
    frames[:, 0, 0] = 0  # a range on every frame
    frames[:, 0, 1] = 255
    data = make_dicom(frames)
    with pytest.raises(ImageError, match=r"3 frames; choose one with frame=0\.\.2"):
        load_image(data)
    second = load_image(data, frame=1)
    assert _gray(second)[1:, :].tolist() == np.full((3, 6), 128).tolist()
    assert second.metadata["frames"] == 3 and second.metadata["frame"] == 1
    with pytest.raises(ImageError, match=r"frame 3 is out of range.*3 frame\(s\)"):
        load_image(data, frame=3)


def test_dicom_single_frame_accepts_frame_zero_only(make_dicom):
    data = make_dicom(gradient(4, 4).astype(np.uint8))
    assert load_image(data, frame=0).width == 4
    with pytest.raises(ImageError, match="frame 1 is out of range"):
        load_image(data, frame=1)


def test_dicom_without_pixel_data_is_refused(make_dicom):
    data = make_dicom(np.zeros((0, 0), np.uint8))
    with pytest.raises(ImageError, match=r"no pixel data \(SOP class Digital X-Ray.*modality DX\)"):
        load_image(data, name="report.dcm")


def test_dicom_above_pixel_limit_is_refused_before_decoding(make_dicom):
    data = make_dicom(np.zeros((2, 2), np.uint8), Rows=60000, Columns=60000)  # header lies; 4 bytes of pixels
    with pytest.raises(ImageError, match="60000 x 60000 = 3,600,000,000 pixels, above the limit"):
        load_image(data)
    with pytest.raises(ImageError, match="above the limit of 10 pixels"):
        load_image(make_dicom(np.zeros((4, 4), np.uint8)), max_pixels=10)


def test_dicom_truncated_pixel_data_is_refused(make_dicom):
    data = make_dicom(np.zeros((2, 2), np.uint16), Rows=64, Columns=64)
    with pytest.raises(ImageError, match="pixel data could not be decoded"):
        load_image(data)


def test_dicom_compressed_without_decoder_names_syntax_and_install(make_dicom):
    from pydicom.uid import JPEGLosslessSV1

    data = make_dicom(
        np.zeros((8, 8), np.uint16),
        transfer_syntax=JPEGLosslessSV1,
        encapsulated_frames=[b"\xff\xd8\xff\xc3" + b"\x00" * 60 + b"\xff\xd9"],
    )
    with pytest.raises(
        ImageError, match=r"JPEG Lossless.*1\.2\.840\.10008\.1\.2\.4\.70.*pip install pylibjpeg"
    ):
        load_image(data)


def test_dicom_rle_compressed_decodes_natively(make_dicom):
    from pydicom.uid import RLELossless

    stored = (gradient(16, 20) * 16).astype(np.uint16)
    plain = load_image(make_dicom(stored, bits_stored=12))
    compressed = load_image(make_dicom(stored, bits_stored=12, compress=RLELossless))
    assert compressed.metadata["transfer_syntax"] == "RLE Lossless"
    assert np.array_equal(compressed.pixels, plain.pixels)


def test_dicom_jpeg_baseline_matches_the_same_jpeg_file(make_dicom):
    from pydicom.uid import JPEGBaseline8Bit

    jpeg = encode_raster(Image.fromarray(gradient(16, 24).astype(np.uint8)), "JPEG", quality=90)
    data = make_dicom(
        np.zeros((16, 24), np.uint8), transfer_syntax=JPEGBaseline8Bit, encapsulated_frames=[jpeg]
    )
    from_dicom, from_jpeg = load_image(data), load_image(jpeg)
    # Both stretch the decoded values' actual range; the DICOM path decodes through pydicom's Pillow plugin.
    gray = np.asarray(Image.open(__import__("io").BytesIO(jpeg))).astype(np.int64)
    expected = np.rint((gray - gray.min()) * 255 / (gray.max() - gray.min()))
    assert np.array_equal(_gray(from_dicom), expected)
    assert from_jpeg.pixels.shape == from_dicom.pixels.shape


@pytest.mark.parametrize("bits", [8, 16])
def test_dicom_and_equivalent_png_give_the_same_pixels(make_dicom, bits):
    top = 255 if bits == 8 else 4000
    stored = gradient(20, 30, top=top) + (0 if bits == 8 else 50)
    dtype = np.uint8 if bits == 8 else np.uint16
    from_dicom = load_image(make_dicom(stored.astype(dtype)))
    png_image = (
        Image.fromarray(stored.astype(dtype)) if bits == 8 else Image.fromarray(stored.astype(np.uint16))
    )
    from_png = load_image(encode_raster(png_image, "PNG"))
    assert from_png.metadata["bit_depth"] == bits
    assert np.array_equal(from_dicom.pixels, from_png.pixels)


def test_dicom_windowed_equals_png_of_the_window(make_dicom):
    stored = gradient(20, 30, top=4095)
    windowed = np.clip(np.rint(((stored - 2048) / 1024 + 0.5) * 255), 0, 255).astype(np.uint8)
    from_dicom = load_image(
        make_dicom(
            stored.astype(np.uint16),
            bits_stored=12,
            WindowCenter=2048,
            WindowWidth=1024,
            VOILUTFunction="LINEAR_EXACT",
        )
    )
    from_png = load_image(encode_raster(Image.fromarray(windowed), "PNG"))
    assert np.array_equal(from_dicom.pixels, from_png.pixels)


def test_dicom_without_preamble_is_sniffed_and_decoded(make_dicom):
    stored = gradient(6, 10).astype(np.uint8)
    data = make_dicom(stored, preamble=False)
    assert data[128:132] != b"DICM"
    radiograph = load_image(data)
    assert radiograph.source_format == "dicom"
    assert _gray(radiograph).tolist() == stored.tolist()


def test_dicom_rgb_is_kept(make_dicom):
    rgb = np.stack([gradient(6, 8), 255 - gradient(6, 8), np.full((6, 8), 30)], axis=2).astype(np.uint8)
    radiograph = load_image(make_dicom(rgb, photometric="RGB"))
    assert np.array_equal(radiograph.pixels, rgb)


def test_dicom_without_pydicom_says_what_to_install(make_dicom, monkeypatch):
    data = make_dicom(gradient(4, 4).astype(np.uint8))
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(ImageError, match=r"needs pydicom.*pip install 'bonefrac\[serve\]'"):
        load_image(data)


def test_dicom_enhanced_functional_groups_give_per_frame_window_and_spacing(make_dicom):
    from pydicom.dataset import Dataset

    def group(**macros):
        item = Dataset()
        for macro, values in macros.items():
            inner = Dataset()
            for keyword, value in values.items():
                setattr(inner, keyword, value)
            setattr(item, macro, [inner])
        return item

    shared = group(
        PixelMeasuresSequence={"PixelSpacing": [0.25, 0.5]},
        PixelValueTransformationSequence={"RescaleSlope": 2, "RescaleIntercept": -100},
    )
    per_frame = [
        group(
            FrameVOILUTSequence={"WindowCenter": 100, "WindowWidth": 200, "VOILUTFunction": "LINEAR_EXACT"}
        ),
        group(FrameVOILUTSequence={"WindowCenter": 0, "WindowWidth": 400, "VOILUTFunction": "LINEAR_EXACT"}),
    ]
    data = make_dicom(
        np.stack([ROW, ROW]).astype(np.uint16),
        SharedFunctionalGroupsSequence=[shared],
        PerFrameFunctionalGroupsSequence=per_frame,
    )
    first, second = load_image(data, frame=0), load_image(data, frame=1)
    assert _gray(first)[0].tolist() == [0, 0, 128, 255, 255]
    assert _gray(second)[0].tolist() == [64, 128, 191, 255, 255]
    assert first.pixel_spacing_mm == (0.25, 0.5)


@pytest.mark.parametrize(
    "syntax", ["ImplicitVRLittleEndian", "ExplicitVRBigEndian", "DeflatedExplicitVRLittleEndian"]
)
def test_dicom_uncompressed_transfer_syntaxes_give_the_same_pixels(make_dicom, syntax):
    import pydicom.uid

    stored = (gradient(6, 8) * 16).astype(np.uint16)
    reference = load_image(make_dicom(stored)).pixels
    radiograph = load_image(make_dicom(stored, transfer_syntax=getattr(pydicom.uid, syntax)))
    assert np.array_equal(radiograph.pixels, reference)
    assert radiograph.metadata["transfer_syntax"] == getattr(pydicom.uid, syntax).name


def test_dicom_jpeg2000_lossless_decodes_through_pillow(make_dicom):
    from PIL import features
    from pydicom.uid import JPEG2000Lossless

    if not features.check("jpg_2000"):
        pytest.skip("Pillow built without OpenJPEG")
    stored = (gradient(16, 24) * 16).astype(np.uint16)
    codestream = encode_raster(Image.fromarray(stored), "JPEG2000", irreversible=False, no_jp2=True)
    data = make_dicom(
        np.zeros((16, 24), np.uint16),
        bits_stored=16,
        transfer_syntax=JPEG2000Lossless,
        encapsulated_frames=[codestream],
    )
    radiograph = load_image(data)
    assert radiograph.metadata["transfer_syntax"] == JPEG2000Lossless.name
    assert np.array_equal(radiograph.pixels, load_image(make_dicom(stored, bits_stored=16)).pixels)


def test_dicom_modality_lut_sequence_is_applied(make_dicom):
    from pydicom.dataset import Dataset

    lut = Dataset()
    lut.LUTDescriptor = [4, 0, 16]
    lut.ModalityLUTType = "US"
    lut.add_new("LUTData", "US", [0, 100, 1000, 4000])
    radiograph = load_image(make_dicom(np.array([[0, 1, 2, 3]], np.uint16), ModalityLUTSequence=[lut]))
    assert _gray(radiograph)[0].tolist() == [0, 6, 64, 255]  # 0, 100, 1000, 4000 over the range 0..4000
    assert radiograph.metadata["intensity_range"] == [0.0, 4000.0]


def test_dicom_palette_colour_is_applied(make_dicom):
    ramp = np.arange(256, dtype=np.uint16) * 257  # 16-bit palette entries
    tables = {"Red": ramp, "Green": ramp[::-1].copy(), "Blue": np.zeros(256, np.uint16)}
    elements = {}
    for colour, table in tables.items():
        elements[f"{colour}PaletteColorLookupTableDescriptor"] = [256, 0, 16]
        elements[f"{colour}PaletteColorLookupTableData"] = table.astype("<u2").tobytes()
    radiograph = load_image(
        make_dicom(np.array([[0, 128, 255]], np.uint8), photometric="PALETTE COLOR", **elements)
    )
    assert radiograph.pixels[0].tolist() == [[0, 255, 0], [128, 127, 0], [255, 0, 0]]


def test_dicom_ybr_jpeg_baseline_colour_is_converted_to_rgb(make_dicom):
    from pydicom.uid import JPEGBaseline8Bit

    rgb = np.stack([gradient(16, 24), 255 - gradient(16, 24), np.full((16, 24), 90)], axis=2).astype(np.uint8)
    jpeg = encode_raster(Image.fromarray(rgb), "JPEG", quality=95, subsampling=0)
    data = make_dicom(
        np.zeros((16, 24, 3), np.uint8),
        photometric="YBR_FULL",
        transfer_syntax=JPEGBaseline8Bit,
        encapsulated_frames=[jpeg],
    )
    from_dicom, from_jpeg = load_image(data), load_image(jpeg)
    assert from_dicom.pixels.shape == (16, 24, 3)
    assert np.abs(from_dicom.pixels.astype(int) - from_jpeg.pixels.astype(int)).max() <= 2


@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
def test_dicom_pixel_padding_is_left_out_of_the_value_range(make_dicom, dtype):
    stored = np.array([[0, 1000, 2000, 3000]], dtype)
    radiograph = load_image(make_dicom(stored, signed=dtype == np.int16, PixelPaddingValue=0))
    assert _gray(radiograph)[0].tolist() == [0, 0, 128, 255]  # range 1000..3000; padding clips to black
    assert radiograph.metadata["intensity_range"] == [1000.0, 3000.0]
    assert radiograph.metadata["pixel_padding_value"] == 0
