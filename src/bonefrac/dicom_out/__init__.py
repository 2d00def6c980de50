"""DICOM results a PACS can store: a TID 1500 structured report of the findings and an annotated secondary
capture, both filed into the source radiograph's study (highdicom over pydicom; the `dicom` extra)."""
