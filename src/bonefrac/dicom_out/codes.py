"""The coded concepts bonefrac's DICOM results use: standard codes (SNOMED CT, DCM, UCUM) where one exists,
else the private coding scheme `99BONEFRAC` (DICOM PS3.16 8.2: a designator starting with "99")."""

from __future__ import annotations

from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom.sr.coding import Code

PRIVATE_SCHEME = "99BONEFRAC"

FRACTURE = Code("125605004", "SCT", "Fracture of bone")
PRESENT = Code("52101004", "SCT", "Present")
ABSENT = Code("2667000", "SCT", "Absent")
NO_UNITS = Code("1", "UCUM", "no units")
PROCEDURE = Code("168537006", "SCT", "Plain radiography")

CONFIDENCE = Code("box-confidence", PRIVATE_SCHEME, "Detector confidence")
IMAGE_SCORE = Code("image-score", PRIVATE_SCHEME, "Image fracture score")
FRACTURE_PROBABILITY = Code("fracture-probability", PRIVATE_SCHEME, "Classifier fracture probability")
OPERATING_POINT = Code("operating-point", PRIVATE_SCHEME, "Operating point reached")
TIERS = {
    "high_specificity": Code("high-specificity", PRIVATE_SCHEME, "High specificity operating point"),
    "high_sensitivity": Code("high-sensitivity", PRIVATE_SCHEME, "High sensitivity operating point"),
    "negative": Code("no-operating-point", PRIVATE_SCHEME, "Below every operating point"),
}
TIER_OF_CODE = {code.value: tier for tier, code in TIERS.items()}


def private_scheme_item() -> CodingSchemeIdentificationItem:
    """The CodingSchemeIdentificationSequence item that declares PRIVATE_SCHEME."""
    return CodingSchemeIdentificationItem(
        designator=PRIVATE_SCHEME,
        name="bonefrac fracture detection results",
        responsible_organization="bonefrac",
    )
