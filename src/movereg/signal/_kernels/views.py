"""Borrowed arrays: views of the kernels' stores without reference counting.

Numba reference-counts arrays: every view, and every array argument of a call that is not
inlined, costs an increment and a decrement (out-of-line calls, atomic when the array owns
a meminfo). Per hop and per push that was as much as the work itself. The kernels
therefore run on *borrowed* arrays: the same data, shape and strides with no meminfo, so
those updates do nothing. A borrowed array is valid only while the array it was taken
from is alive. Only an entry point's own arguments are borrowed (the caller holds them
for the whole call), never a local allocation: Numba frees a local array after the last
use of its variable, which would be the borrowing itself. Nothing borrowed is returned
or stored.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba.core import cgutils, types
from numba.core import config as numba_config
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

__all__ = ["borrow", "borrow_view"]


@intrinsic
def _jit_borrow(typingctx: Any, a: Any) -> Any:
    """``a`` without reference counting (valid while ``a`` itself is alive)."""
    if not isinstance(a, types.Array):
        return None
    sig = a(a)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ary = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(sig.return_type)(context, builder)
        populate_array(out, data=ary.data, shape=ary.shape, strides=ary.strides,
                       itemsize=ary.itemsize, meminfo=None)
        return out._getvalue()

    return sig, codegen


@intrinsic
def _jit_borrow_view(typingctx: Any, a: Any, offset: Any, shape: Any) -> Any:
    """``a[offset:offset + prod(shape)].reshape(shape)`` for a 1-D C-contiguous ``a``,
    borrowed (no reference counting) and unchecked: the layout in ``istore``/``fstore``
    guarantees the bounds (:func:`movereg.signal._kernels.layout.store_shapes`)."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
            and isinstance(offset, types.Integer)
            and isinstance(shape, (types.Tuple, types.UniTuple))
            and all(isinstance(d, types.Integer) for d in shape.types)):
        return None
    retty = a.copy(ndim=len(shape), layout="C")
    sig = retty(a, offset, shape)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ary = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(retty)(context, builder)
        off = context.cast(builder, args[1], sig.args[1], types.intp)
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[2]), sig.args[2].types,
                                strict=True)]
        strides = [ary.itemsize]
        for d in reversed(dims[1:]):
            strides.insert(0, builder.mul(strides[0], d))
        populate_array(out, data=builder.gep(ary.data, [off]), shape=dims, strides=strides,
                       itemsize=ary.itemsize, meminfo=None)
        return out._getvalue()

    return sig, codegen


def _py_borrow(a: np.ndarray) -> np.ndarray:
    """:func:`_jit_borrow` as plain Python (``NUMBA_DISABLE_JIT=1``, the coverage run)."""
    return a


def _py_borrow_view(a: np.ndarray, offset: int, shape: tuple[int, ...]) -> np.ndarray:
    """:func:`_jit_borrow_view` as plain Python (``NUMBA_DISABLE_JIT=1``, the coverage run)."""
    return a[offset:offset + math.prod(shape)].reshape(shape)


_NO_JIT = bool(getattr(numba_config, "DISABLE_JIT", 0))
#: ``a`` borrowed (see the module docstring)
borrow: Any = _py_borrow if _NO_JIT else _jit_borrow
#: ``a[offset:offset + prod(shape)].reshape(shape)``, borrowed and unchecked
borrow_view: Any = _py_borrow_view if _NO_JIT else _jit_borrow_view
