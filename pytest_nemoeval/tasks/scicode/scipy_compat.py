import scipy.integrate as _si
if not hasattr(_si, "simps"):
    _si.simps = lambda y, x=None, dx=1.0, axis=-1, even=None: _si.simpson(y, x=x, dx=dx, axis=axis)
if not hasattr(_si, "trapz"):
    _si.trapz = lambda y, x=None, dx=1.0, axis=-1: _si.trapezoid(y, x=x, dx=dx, axis=axis)
if not hasattr(_si, "cumtrapz"):
    _si.cumtrapz = lambda y, x=None, dx=1.0, axis=-1, initial=None: _si.cumulative_trapezoid(
        y, x=x, dx=dx, axis=axis, initial=initial)
