"""Metrics: importing this package registers them."""
from sparse_sharing.components.metrics.accuracy import Accuracy, AccuracyConfig
from sparse_sharing.components.metrics.base import Metric, check_aligned
from sparse_sharing.components.metrics.span_f1 import SpanF1, SpanF1Config

__all__ = ["Accuracy", "AccuracyConfig", "Metric", "SpanF1", "SpanF1Config", "check_aligned"]
