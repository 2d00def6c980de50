"""The model card. `record.py` holds the ModelCard record, read by the serving side: no torch, no heavy
imports in this package's __init__."""
