"""bonefrac inside a hospital's imaging network: a DICOM node that analyses what a PACS sends and sends the
results back, and a DICOMweb client that processes studies on a PACS gateway (the `dicom` extra)."""
