"""Learned detectors: one calibrated scikit-learn classifier per family (issue 3).

The engine calls `load_classifiers(models_dir)` once and then `Classifiers.predict` on
batches of `listing_text(listing)` strings; `Classifiers.explain` gives the spans of the
n-grams that pushed a text towards a family, and `field_span` maps them back to fields.
"""
from scanner.ml.document import field_span, listing_text, segments
from scanner.ml.runtime import Classifiers, ModelError, load_classifiers

__all__ = ["Classifiers", "ModelError", "field_span", "listing_text", "load_classifiers", "segments"]
