"""The model card: its record (`record.py`, read by the serving side: no torch, no heavy imports here), the
reference results it is compared with (`references.py`), and publishing it from evaluations (`publish.py`,
`markdown.py`, `limitations.py`, `training.py`)."""
