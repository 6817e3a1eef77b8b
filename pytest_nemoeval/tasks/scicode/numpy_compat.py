import numpy as _np
for _old, _new in (("trapz", "trapezoid"), ("float_", "float64"), ("complex_", "complex128"), ("Inf", "inf"),
                   ("NaN", "nan"), ("infty", "inf")):
    if not hasattr(_np, _old):
        setattr(_np, _old, getattr(_np, _new))
