"""ROC AUC of ``rhythm_strength`` on the classroom SMM sessions, per child, wrist and type.

Run from the repository root: ``PYTHONPATH=src python -m validation.smm_auroc`` (add
``--loco`` for the leave-one-child-out view of the chosen parameters). Writes
``validation/results/smm_auroc.md`` and ``.json``; the README's validation section quotes
them. Method: ``tests/data/smm/README.md`` and :mod:`validation.smm` (5-s epochs, SMM =
>= 50 % inside Rock/Flap/Flap-Rock, non-SMM = inside ``Good Data`` touching no episode).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from validation.smm import (
    SESSIONS,
    SIDES,
    TYPES,
    auc,
    epoch_labels,
    load_annotations,
    load_raw,
    load_wrist,
    resample,
    to_g,
)

RESULTS = Path(__file__).resolve().parent / "results"
EPOCH_S = 5.0
COLUMN = "rhythm_strength"
# parameters shown in the leave-one-child-out view: FeatureConfig field -> values tried.
# flap_jerk_ref_g_s: the flapping band's RMS jerk at which the vigour term reaches 0.5 (a
# hand flapping 1-3 cm either way at 3 Hz accelerates by about 0.25-0.75 g RMS, i.e. jerks
# by about 5-15 g/s; fidgeting and handling are slower and smoother).
# The other shipped rhythm parameters (chosen before the sessions were seen, from the
# movements' physics) are shown the same way: the high-pass moving average (s), the flap
# band's edges (Hz), the stillness gate (mg) and the autocorrelation window (s).
LOCO: dict[str, tuple[float, ...]] = {"flap_jerk_ref_g_s": (4.0, 6.0, 8.0, 10.0, 12.0, 18.0),
                                      "rhythm_ma_s": (1.0, 1.5, 2.0, 3.0),
                                      "flap_low_hz": (1.0, 1.5, 2.0),
                                      "flap_high_hz": (5.0, 6.0, 7.0),
                                      "rhythm_gate_mg": (10.0, 20.0, 30.0, 40.0, 60.0,
                                                     80.0),
                                      "rhythm_window_s": (3.0, 5.0, 7.0)}
# An SMM epoch is "one-handed" on a wrist when that wrist's mean jerk is below this share
# of the other wrist's in the same epoch: the labels describe the child, and that wrist
# barely took part (a diagnostic of the labels, not an input of the feature).
ONE_HANDED = 0.25

Records = dict[str, np.ndarray]


def child_of(session: str) -> str:
    return session.split("-")[1]


def rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3-D rotation matrix (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def session_records(session: str, side: str, *, fs_hz: float = 60.0, config: Any = None,
                    rotate: np.ndarray | None = None, x: np.ndarray | None = None,
                    t0_ms: float | None = None) -> Records:
    """Scored epochs of one wrist: label, type, rhythm_strength, rhythm_hz, flap_share."""
    from movereg.signal import extract_features

    if x is None or t0_ms is None:
        t0_ms, x = load_wrist(session, side, fs_hz)
    if rotate is not None:
        x = np.ascontiguousarray(x @ rotate.T)
    tab = extract_features(x, fs_hz, t0_ns=round(t0_ms * 1e6), epoch_s=EPOCH_S,
                           config=config)
    lab = epoch_labels(tab["epoch_start"] / 1e6, tab["coverage"], EPOCH_S,
                       load_annotations(session))
    keep = lab.label >= 0
    n = int(keep.sum())
    return {"child": np.full(n, child_of(session), dtype=object),
            "session": np.full(n, session, dtype=object),
            "side": np.full(n, side, dtype=object),
            "label": lab.label[keep], "kind": lab.kind[keep],
            "score": np.nan_to_num(np.asarray(tab[COLUMN], dtype=np.float64)[keep]),
            "epoch_start": np.asarray(tab["epoch_start"], dtype=np.int64)[keep],
            "jerk": np.asarray(tab["jerk_g_s"], dtype=np.float64)[keep],
            "rhythm_hz": np.asarray(tab["rhythm_hz"], dtype=np.float64)[keep],
            "flap_share": np.asarray(tab["flap_share"], dtype=np.float64)[keep]}


def concat(parts: Iterable[Records]) -> Records:
    parts = list(parts)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def with_other_wrist(a: Records, b: Records) -> tuple[Records, Records]:
    """Both wrists of one session with ``other_jerk``: the other wrist's mean jerk (g/s) in
    the same epoch (matched by start; NaN where the other wrist has no scored epoch)."""
    def other(r: Records, o: Records) -> Records:
        j = dict(zip(o["epoch_start"].tolist(), o["jerk"].tolist(), strict=True))
        return {**r, "other_jerk": np.array([j.get(t, np.nan)
                                             for t in r["epoch_start"].tolist()])}
    return other(a, b), other(b, a)


def all_records(*, fs_hz: float = 60.0, config: Any = None,
                sessions: Sequence[str] = SESSIONS, seed: int | None = None) -> Records:
    """Every session and wrist; ``seed`` rotates each wrist by its own random rotation."""
    rng = np.random.default_rng(seed) if seed is not None else None
    out = []
    for s in sessions:
        pair = []
        for side in SIDES:
            rot = rotation(rng) if rng is not None else None
            if fs_hz == 60.0:
                pair.append(session_records(s, side, fs_hz=fs_hz, config=config, rotate=rot))
            else:
                t, v = load_raw(s, side)
                t0, x = resample(t, v, fs_hz)
                pair.append(session_records(s, side, fs_hz=fs_hz, config=config, rotate=rot,
                                            x=to_g(x, fs_hz), t0_ms=t0))
        out.extend(with_other_wrist(*pair))
    return concat(out)


def _auc_where(r: Records, sel: np.ndarray, kind: str | None = None) -> float:
    neg = sel & (r["label"] == 0)
    pos = sel & (r["label"] == 1)
    if kind is not None:
        pos &= r["kind"] == kind
    return auc(r["score"][pos], r["score"][neg])


def summary(r: Records) -> dict[str, Any]:
    """AUROC tables: pooled, per child, per type, per child and type; rhythm_hz medians."""
    out: dict[str, Any] = {"pooled": {}, "child": {}, "type": {}, "child_type": {},
                           "session": {}, "pooled_without": {}, "n": {},
                           "rhythm_hz_median": {}}
    children = sorted(set(r["child"].tolist()))
    for side in SIDES:
        w = r["side"] == side
        out["pooled"][side] = _auc_where(r, w)
        out["n"][side] = {"smm": int((w & (r["label"] == 1)).sum()),
                          "other": int((w & (r["label"] == 0)).sum())}
        for c in children:
            out["child"].setdefault(c, {})[side] = _auc_where(r, w & (r["child"] == c))
            for k in TYPES:
                npos = int((w & (r["child"] == c) & (r["kind"] == k)).sum())
                val = _auc_where(r, w & (r["child"] == c), k) if npos >= 10 else None
                out["child_type"].setdefault(f"{c} {k}", {})[side] = val
        for sess in sorted(set(r["session"].tolist())):
            out["session"].setdefault(sess, {})[side] = _auc_where(r, w & (r["session"] == sess))
            out["pooled_without"].setdefault(sess, {})[side] = _auc_where(
                r, w & (r["session"] != sess))
        for k in TYPES:
            out["type"].setdefault(k, {})[side] = _auc_where(r, w, k)
            hz = r["rhythm_hz"][w & (r["kind"] == k)]
            out["rhythm_hz_median"].setdefault(k, {})[side] = (
                float(np.nanmedian(hz)) if np.isfinite(hz).any() else float("nan"))
    if "other_jerk" in r:
        out["one_handed"] = _one_handed(r, children)
    return out


def _one_handed(r: Records, children: list[str]) -> dict[str, Any]:
    """Per wrist: the SMM epochs in which that wrist barely moved (mean jerk below
    ``ONE_HANDED`` times the other wrist's), per session, and the AUROCs without them."""
    one = (r["label"] == 1) & (r["jerk"] < ONE_HANDED * r["other_jerk"])
    out: dict[str, Any] = {"n": {}, "session": {}, "pooled": {}, "child": {}, "type": {}}
    for side in SIDES:
        w = (r["side"] == side) & ~one
        out["n"][side] = int((one & (r["side"] == side)).sum())
        for sess in sorted(set(r["session"][one].tolist())):
            n = int((one & (r["side"] == side) & (r["session"] == sess)).sum())
            out["session"].setdefault(sess, {})[side] = n
        out["pooled"][side] = _auc_where(r, w)
        for c in children:
            out["child"].setdefault(c, {})[side] = _auc_where(r, w & (r["child"] == c))
        out["type"].setdefault("Flap", {})[side] = _auc_where(r, w, "Flap")
    return out


def acceptance(s: dict[str, Any]) -> dict[str, bool]:
    """The issue's acceptance: pooled >= 0.92, each child >= 0.85, Flap >= 0.85 per wrist."""
    return {"pooled >= 0.92": all(v >= 0.92 for v in s["pooled"].values()),
            "every child >= 0.85": all(v >= 0.85 for c in s["child"].values()
                                       for v in c.values()),
            "flapping >= 0.85": all(v >= 0.85 for v in s["type"]["Flap"].values()),
            "rock hz in 0.5-1.5": all(0.5 <= v <= 1.5
                                      for v in s["rhythm_hz_median"]["Rock"].values()),
            "flap hz in 1.5-5": all(1.5 <= v <= 5.0
                                    for v in s["rhythm_hz_median"]["Flap"].values())}


def _fmt(v: float | None) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.3f}"


def markdown(s: dict[str, Any], loco: dict[str, Any] | None = None) -> str:
    lines = [f"# ROC AUC of `{COLUMN}` on the classroom SMM sessions", "",
             "Generated by `python -m validation.smm_auroc`. Six sessions, three children "
             "(Goodwin et al. 2014; `tests/data/smm`), 5-s epochs, no per-child training.", "",
             "| | Left wrist | Right wrist |", "|---|---|---|"]
    def add(name: str, v: dict[str, Any]) -> None:
        lines.append(f"| {name} | {_fmt(v[SIDES[0]])} | {_fmt(v[SIDES[1]])} |")

    add("pooled", s["pooled"])
    groups = (("child", "child {}"), ("type", "{} (all children)"),
              ("child_type", "child {}"), ("session", "session {}"),
              ("pooled_without", "pooled without {}"))
    for key, label in groups:
        for k, v in s[key].items():
            if any(x is not None for x in v.values()):
                add(label.format(k), v)
    for k, v in s["rhythm_hz_median"].items():
        lines.append(f"| median `rhythm_hz` in {k} epochs, Hz | {v[SIDES[0]]:.2f} | "
                     f"{v[SIDES[1]]:.2f} |")
    lines.append(f"| epochs SMM / other | {s['n'][SIDES[0]]['smm']} / "
                 f"{s['n'][SIDES[0]]['other']} | {s['n'][SIDES[1]]['smm']} / "
                 f"{s['n'][SIDES[1]]['other']} |")
    lines += ["", "Types: SMM epochs of that type (most overlap) vs all non-SMM epochs. "
              "Per child and type only with >= 10 epochs.", ""]
    if "one_handed" in s:
        lines += _one_handed_md(s["one_handed"])
    if loco:
        lines += ["## Leave one child out", "",
                  "For each parameter, the value a tuner would pick on the other two children "
                  "(mean AUROC over their wrists), and the held-out child's AUROC with it and "
                  "with the shipped value.", "",
                  "| parameter | held-out child | picked on the others | held-out AUROC "
                  "(picked) | held-out AUROC (shipped) |", "|---|---|---|---|---|"]
        for p, rows in loco.items():
            for c, row in rows["held_out"].items():
                lines.append(f"| `{p}` | {c} | {row['picked']:g} | "
                             f"{_fmt(row['auc_picked'])} | {_fmt(row['auc_shipped'])} |")
        for p, rows in loco.items():
            children = list(next(iter(rows["by_value"].values())))
            lines += ["", f"AUROC (mean of both wrists) per child for each `{p}` tried "
                      f"(shipped: {rows['shipped']:g}):", "",
                      "| value | " + " | ".join(f"child {c}" for c in children) + " |",
                      "|---|" + "---|" * len(children)]
            for v, per in rows["by_value"].items():
                lines.append(f"| {float(v):g} | "
                             + " | ".join(_fmt(per[c]) for c in children) + " |")
        lines.append("")
    return "\n".join(lines)


def _one_handed_md(o: dict[str, Any]) -> list[str]:
    lines = ["## One-handed SMM epochs (a diagnostic of the labels)", "",
             "The labels describe the child, not the wrist. An SMM epoch is one-handed on a "
             f"wrist when that wrist's mean jerk is below {ONE_HANDED:g} x the other wrist's "
             "(it barely took part). The same AUROCs without those epochs:", "",
             "| | Left wrist | Right wrist |", "|---|---|---|",
             f"| one-handed SMM epochs | {o['n'][SIDES[0]]} | {o['n'][SIDES[1]]} |"]
    for sess, per in o["session"].items():
        lines.append(f"| of which session {sess} | {per.get(SIDES[0], 0)} | "
                     f"{per.get(SIDES[1], 0)} |")
    lines.append(f"| pooled without them | {_fmt(o['pooled'][SIDES[0]])} | "
                 f"{_fmt(o['pooled'][SIDES[1]])} |")
    for c, per in o["child"].items():
        lines.append(f"| child {c} without them | {_fmt(per[SIDES[0]])} | "
                     f"{_fmt(per[SIDES[1]])} |")
    fl = o["type"]["Flap"]
    lines += [f"| Flap without them | {_fmt(fl[SIDES[0]])} | {_fmt(fl[SIDES[1]])} |", ""]
    return lines


def _others(per: dict[float, dict[str, float]], held: str, v: float) -> float:
    """Mean AUROC with value ``v`` over every child but ``held``."""
    return float(np.mean([a for c, a in per[v].items() if c != held]))


def loco_view(params: dict[str, tuple[float, ...]]) -> dict[str, Any]:
    """Leave-one-child-out: per parameter, the value picked without each child."""
    from movereg.signal import FeatureConfig

    base = FeatureConfig()
    out: dict[str, Any] = {}
    for p, values in params.items():
        per: dict[float, dict[str, float]] = {}
        for v in values:
            kw: dict[str, Any] = {p: v}
            r = all_records(config=dataclasses.replace(base, **kw))
            per[v] = {c: float(np.mean([_auc_where(r, (r["child"] == c) & (r["side"] == s))
                                        for s in SIDES]))
                      for c in sorted(set(r["child"].tolist()))}
        shipped = getattr(base, p)
        rows = {}
        for c in per[values[0]]:
            picked = max(values, key=functools.partial(_others, per, c))
            rows[c] = {"picked": picked, "auc_picked": per[picked][c],
                       "auc_shipped": per[shipped][c] if shipped in per else None}
        out[p] = {"shipped": shipped, "by_value": {str(k): v for k, v in per.items()},
                  "held_out": rows}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loco", action="store_true", help="leave-one-child-out view")
    ap.add_argument("--fs", type=float, default=60.0, help="resampling rate, Hz")
    ap.add_argument("--seed", type=int, default=None, help="random rotation per wrist")
    ap.add_argument("--out", type=Path, default=RESULTS / "smm_auroc")
    args = ap.parse_args(argv)
    s = summary(all_records(fs_hz=args.fs, seed=args.seed))
    s["acceptance"] = acceptance(s)
    loco = loco_view(LOCO) if args.loco and LOCO else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"summary": s, "loco": loco}, indent=2) + "\n", encoding="utf-8")
    md = markdown(s, loco)
    args.out.with_suffix(".md").write_text(md + "\n", encoding="utf-8")
    sys.stdout.write(md + "\n" + json.dumps(s["acceptance"]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
