"""Former home of the linear probes, kept so that existing imports work.

The maths is in `aelab.metrics.probes`, the figures and tables in `aelab.metrics.probe_tables`,
the embedding task's probes in `aelab.eval._probes`; import from there.
"""

from aelab.metrics.probe_tables import (
    order_table,
    per_class_figure,
    per_class_markdown,
    r2_figure,
    target_table,
)
from aelab.metrics.probes import (
    DESCRIPTOR_ORDERS,
    MIN_CLASS_SAMPLES,
    is_constant,
    majority_rate,
    order_summary,
    per_class_r2,
    ridge_accuracy,
    ridge_predict,
    ridge_r2,
)

__all__ = [
    "DESCRIPTOR_ORDERS",
    "MIN_CLASS_SAMPLES",
    "is_constant",
    "majority_rate",
    "order_summary",
    "order_table",
    "per_class_figure",
    "per_class_markdown",
    "per_class_r2",
    "r2_figure",
    "ridge_accuracy",
    "ridge_predict",
    "ridge_r2",
    "target_table",
]
