"""Private Numba kernels (no validation, no globals). Wrappers live in movereg.signal.

Module map (a sample's way through the room):

* :mod:`.feed` — the streaming entry point: one call per push runs counts
  (:mod:`.counts`), the features (:mod:`.engine`) and the emission (:mod:`.emit`).
* :mod:`.engine` — :func:`.engine.process` unpacks the stores and runs, in order, stream
  C (count values into their epochs' rows), stream A per sample (``_stream_a``: epoch
  sums, low-pass, jerk, impacts, hops' z-angle, non-wear blocks), the bins of stream B
  (``_decimate``) and, at the end of a recording, ``_close``.
* :mod:`.epoch` — closing an epoch's sample-local part (ENMO, MAD, jerk, non-wear, ...).
* :mod:`.rhythm` — stream B: bins -> high-pass -> lag products per 1-s hop block ->
  per hop periodicity, flapping-band power and vigour -> an epoch's rhythm columns.
* :mod:`.counts` — ActiGraph-compatible counts (Neishabouri et al. 2022).
* :mod:`.emit` — finished rows of the row store -> output columns.
* :mod:`.layout` — where every parameter and state value lives in the stores (``PI_*``,
  ``PF_*``, ``S_*``, ``F_*``, ``RF_*``/``RI_*``, ``LY_*``) and the working arrays' shapes.
* :mod:`.views` — borrowed (reference-count-free) views of the stores.
* :mod:`.state` — named getters and setters of stream A's state groups (the epoch's
  counters and sums, the detectors, three-axis slots, the non-wear step, the low-pass),
  so the per-sample loop never spells out store slots.

The plan (parameters and sizes per rate, epoch and config) is built outside the room, in
:mod:`movereg.signal._plan`; the JIT policy is :mod:`movereg.signal._jit`.
"""

__all__: list[str] = []
