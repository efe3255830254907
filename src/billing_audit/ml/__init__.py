"""The learned anomaly score: the only runtime package that imports scikit-learn, numpy or skops.

Only the functions that score events (scan, process) and the retraining function reach it; the
webhook function's import graph never does (tests/unit/test_handler_imports.py).
"""
