"""cimopt.report.verdict: each tensor against its own scale; degenerate references are uninformative."""
from __future__ import annotations

import numpy as np
import pytest

from cimopt.report.verdict import judge, judge_tensor, MATCH, MISMATCH, TensorVerdict, UNINFORMATIVE

R = np.random.default_rng(0).standard_normal((4, 10)).astype(np.float32)


@pytest.mark.parametrize("scale", [1e-14, 1e-9, 1.0, 1e7])
def test_scale_free(scale: float) -> None:
    ref = R * scale
    assert judge_tensor("y", ref * (1 + 1e-6), ref).status == MATCH
    assert judge_tensor("y", np.zeros_like(ref), ref).status == MISMATCH
    assert judge_tensor("y", -ref, ref).status == MISMATCH
    assert judge_tensor("y", ref + 1e-3 * scale, ref).status == MISMATCH


@pytest.mark.parametrize(("ref", "reason"), [(np.zeros((3, 3)), "all zero"), (np.full((3, 3), 0.1), "constant"),
                                             (np.array([1.0, np.nan]), "non-finite")])
def test_degenerate_reference_is_uninformative(ref: np.ndarray, reason: str) -> None:
    v = judge_tensor("y", ref.copy(), ref)
    assert v.status == UNINFORMATIVE and reason in v.reason


def test_nonzero_against_all_zero_is_a_mismatch() -> None:
    assert judge_tensor("y", np.full((2, 2), 1e-3), np.zeros((2, 2))).status == MISMATCH


def test_missing_shape_nonfinite() -> None:
    assert judge_tensor("y", None, R).status == MISMATCH
    assert judge_tensor("y", R[:2], R).status == MISMATCH
    bad = R.copy()
    bad[0, 0] = np.inf
    assert judge_tensor("y", bad, R).status == MISMATCH


def test_judge_names_the_first_diverging_intermediate() -> None:
    ref = {"a": R, "b": R * 2, "y": R * 3}
    ours = {"a": R, "b": -R * 2, "y": -R * 3}
    v = judge(ours, ref, ["y"], ["a", "b"])
    assert v.status == MISMATCH and v.first_divergence == "b" and "b" in v.summary()
    assert judge(ref, ref, ["y"], ["a", "b"]).match


def test_uninformative_output_is_not_a_match() -> None:
    ref = {"a": R, "y": np.zeros(3)}
    v = judge(dict(ref), ref, ["y"], ["a"])
    assert v.status == UNINFORMATIVE and not v.match and "uninformative" in v.summary()


def test_a_degenerate_output_beside_an_informative_one() -> None:
    ref = {"y": R, "anchors": np.full(4, 0.5)}
    v = judge(dict(ref), ref, ["y", "anchors"])
    assert v.match and "uninformative: anchors" in v.summary()
    wrong = {"y": R, "anchors": np.full(4, 0.7)}
    assert judge(wrong, ref, ["y", "anchors"]).status == MISMATCH


def test_local_recheck_excuses_only_verified_inputs() -> None:
    ref = {"a": R, "y": R}
    ours = {"a": R, "y": R + 1}
    calls: list[set[str]] = []

    def local(name: str, verified: set[str]) -> TensorVerdict | None:
        calls.append(set(verified))
        return TensorVerdict(name, MATCH, 0.0, 1.0, "ok") if "a" in verified else None

    assert judge(ours, ref, ["y"], ["a"], local).match
    assert calls == [{"a"}]
    bad_a = {"a": -R, "y": R + 1}
    assert judge(bad_a, ref, ["y"], ["a"], local).status == MISMATCH
