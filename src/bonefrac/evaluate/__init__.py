"""Evaluation: box matching, AP/ROC/FROC with bootstrap intervals, operating points, reports."""
