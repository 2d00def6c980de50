"""Data sets: reading YOLO layouts, checks, EDA reports, subsets, synthetic radiographs."""
