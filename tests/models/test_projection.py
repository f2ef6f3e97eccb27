"""The content projection against exact ground truth: closed-form ridge, a recovered linear map,
neighbours against stable sorting and the rows it mixes, the held-out ranking at every bias
shift against conservative ranks of the full shifted score matrix, and each ONNX graph
against `apply`."""

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from app.bundle import PROJECTION_INPUT, PROJECTION_OUTPUT
from models.metrics import RankingMetrics, conservative_ranks
from models.projection import (
    NEIGHBOURS_K,
    NEIGHBOURS_TAU,
    RIDGE_RELATIVE_ALPHAS,
    SHIFTS_SD,
    Feedforward,
    HeldOutJudge,
    Layer,
    Neighbours,
    Projection,
    RidgePath,
    choose_projection,
    choose_shift,
    fit_mlp,
    fit_ridge,
    top_k,
)
from models.ranked_projection import RANKED_STEPS, fit_ranked, log_partition_without_target

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def reference_ridge(x: F32, y: F32, alpha: float) -> tuple[F32, F32]:
    """min ||[x 1] beta - y||^2 + alpha ||W||^2, intercept unpenalised: the normal equations."""
    augmented = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    penalty = np.diag([alpha] * x.shape[1] + [0.0])
    beta = np.linalg.solve(augmented.T @ augmented + penalty, augmented.T @ y.astype(np.float64))
    return beta[:-1].astype(np.float32), beta[-1].astype(np.float32)


def relative_to_absolute(x: F32, relative_alpha: float) -> float:
    centred = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    return relative_alpha * float((centred**2).sum() / x.shape[1])


@pytest.mark.parametrize(("n", "d"), [(60, 8), (12, 40)])  # primal, then dual (D > n)
def test_ridge_equals_the_closed_form(n: int, d: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.standard_normal((n, 5)).astype(np.float32)
    path = RidgePath(x, y)
    assert path.dual == (d > n)
    for relative_alpha in (0.01, 1.0, 30.0):
        weight, bias = reference_ridge(x, y, relative_to_absolute(x, relative_alpha))
        for layer in (path.layer(relative_alpha), fit_ridge(x, y, relative_alpha)):
            np.testing.assert_allclose(layer.weight, weight, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(layer.bias, bias, rtol=1e-4, atol=1e-5)


def test_ridge_recovers_a_linear_map() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 10)).astype(np.float32)
    true_weight = rng.standard_normal((10, 4)).astype(np.float32)
    true_bias = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)
    layer = fit_ridge(x, x @ true_weight + true_bias, relative_alpha=1e-6)
    np.testing.assert_allclose(layer.weight, true_weight, atol=1e-3)
    np.testing.assert_allclose(layer.bias, true_bias, atol=1e-3)


def test_mlp_learns_a_linear_map() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 3)) + 5.0).astype(np.float32)
    mlp = Projection("mlp", Feedforward(fit_mlp(x, y, seed=0)), {})
    residual = ((mlp.apply(x) - y) ** 2).mean()
    assert residual < 0.05 * y.var(axis=0).mean()


def linear_catalogue(seed: int) -> tuple[F32, F32, F32, npt.NDArray[np.int64]]:
    """200 items whose [embedding | bias] (H = 32) is an isometry of 40-d Gaussian content.

    Each state is 5 x its next item's embedding: with the true rows that item ranks first
    (nearly orthogonal random embeddings), so an exact projection scores MRR 1.
    """
    rng = np.random.default_rng(seed)
    content = rng.standard_normal((200, 40)).astype(np.float32)
    isometry, _ = np.linalg.qr(rng.standard_normal((40, 33)))  # orthonormal columns
    targets = (content @ isometry).astype(np.float32)
    next_rows = rng.integers(0, 200, size=500)
    states = 5.0 * targets[next_rows, :-1]
    return content, targets, states, next_rows


def test_choose_projection_ranks_candidates_and_refits_the_winner() -> None:
    content, targets, states, next_rows = linear_catalogue(seed=3)
    projection = choose_projection(content, targets, states, next_rows, seed=0)
    n_neighbours = len(NEIGHBOURS_K) * len(NEIGHBOURS_TAU)
    n_ranked = len(RANKED_STEPS)
    assert len(projection.validation) == len(RIDGE_RELATIVE_ALPHAS) + 1 + n_ranked + n_neighbours
    best = max(projection.validation, key=lambda row: row["held_out"]["mrr@20"])
    assert best["held_out"]["mrr@20"] == 1.0  # an exact projection ranks held-out items first
    assert projection.kind == best["kind"] == "ridge"  # the map is linear: ridge is exact
    assert projection.params == best["params"]
    assert projection.counts["items"] == 200
    assert projection.counts["held_out_items"] == 20
    assert 0 < projection.counts["held_out_states"] < 500
    # each state's own item outscores every other by far: no shift costs a warm target, and
    # none is needed, so the tie goes to no shift at all
    assert projection.bias_shift == 0.0
    choice = projection.shift_choice
    assert choice["within_tolerance"]
    assert choice["warm_recall_reference"] == 1.0
    assert [point["warm"]["recall@20"] for point in choice["frontier"]] == [1.0] * len(SHIFTS_SD)
    # refitted on every item: the linear map is reproduced on all of them
    np.testing.assert_allclose(projection.apply(content), targets, atol=0.05)
    assert projection.describe()["validation"] == list(projection.validation)


def clustered_catalogue(seed: int) -> tuple[F32, F32, F32, I64]:
    """300 items in 60 clusters of 5: content and rows are a cluster's own plus small noise.

    Rows depend on the cluster alone, and 60 arbitrary rows are no affine function of
    8-d content: ridge cannot place a held-out item, its cluster mates can.
    """
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(60), 5)
    centres = rng.standard_normal((60, 8)).astype(np.float32)
    cluster_rows = rng.standard_normal((60, 17)).astype(np.float32)
    content = (centres[cluster] + 0.05 * rng.standard_normal((300, 8))).astype(np.float32)
    targets = (cluster_rows[cluster] + 0.05 * rng.standard_normal((300, 17))).astype(np.float32)
    next_rows = rng.integers(0, 300, size=300)
    return content, targets, 5.0 * targets[next_rows, :-1], next_rows


def test_choose_projection_places_clustered_items_among_their_neighbours() -> None:
    content, targets, states, next_rows = clustered_catalogue(seed=0)
    projection = choose_projection(content, targets, states, next_rows, seed=0)
    assert projection.kind == "neighbours"
    assert isinstance(projection.mapping, Neighbours)
    (row,) = (row for row in projection.validation if row["params"] == projection.params)
    ridge = max(row["held_out"]["recall@20"] for row in projection.validation[:9])
    assert row["held_out"]["recall@20"] == 1.0 > ridge
    # the shift it serves is the one it was judged at, a point of its own frontier
    choice = projection.shift_choice
    assert projection.bias_shift == row["shift"] == choice["frontier"][choice["chosen"]]["shift"]
    assert row["shift_sd"] == choice["shift_sd"] == SHIFTS_SD[choice["chosen"]]
    assert projection.describe()["shift_choice"] == choice


def test_neighbours_is_no_candidate_above_the_storage_limit() -> None:
    catalogue = linear_catalogue(seed=3)
    n_floats = 200 * (40 + 33)  # the content and rows the refitted graph would store
    short = (10,)  # ranked training plays no part here
    at_limit = choose_projection(*catalogue, max_stored_floats=n_floats, ranked_steps=short)
    above = choose_projection(*catalogue, max_stored_floats=n_floats - 1, ranked_steps=short)
    n_neighbours = len(NEIGHBOURS_K) * len(NEIGHBOURS_TAU)
    assert [row["kind"] for row in at_limit.validation].count("neighbours") == n_neighbours
    assert "neighbours" not in [row["kind"] for row in above.validation]


def test_choose_projection_is_seeded() -> None:
    content, targets, states, next_rows = linear_catalogue(seed=4)
    first = choose_projection(content, targets, states, next_rows, seed=5, ranked_steps=(10, 30))
    second = choose_projection(content, targets, states, next_rows, seed=5, ranked_steps=(10, 30))
    assert first.validation == second.validation
    np.testing.assert_array_equal(first.apply(content), second.apply(content))


def integer_catalogue(seed: int) -> tuple[F32, I64, F32, F32, I64, F32]:
    """40 items (H = 3), 8 held out, 300 states: small integers, so that scores tie often and
    every float sum is exact."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(-2, 3, (40, 4)).astype(np.float32)
    held_out = np.sort(rng.choice(40, 8, replace=False)).astype(np.int64)
    projected = rng.integers(-2, 3, (8, 4)).astype(np.float32)
    states = rng.integers(-2, 3, (300, 3)).astype(np.float32)
    next_rows = rng.integers(0, 40, 300)
    shifts = np.array([-3.0, -1.0, 0.0, 1.0, 2.0, 6.0], dtype=np.float32)
    return targets, held_out, projected, states, next_rows, shifts


def metrics_of(ranks: I64, n_items: int) -> dict[str, float]:
    metrics = RankingMetrics(cutoffs=(20, n_items))
    metrics.add(ranks)
    return metrics.result()


def test_held_out_judge_equals_ranks_of_the_shifted_score_matrix() -> None:
    targets, held_out, projected, states, next_rows, shifts = integer_catalogue(seed=9)
    judge = HeldOutJudge(targets, held_out, states, next_rows, shifts)
    held = np.isin(next_rows, held_out)
    assert judge.n_held_out_states == held.sum() > 0
    # the reference: the held-out items unreachable (a -inf target ties every row: last)
    unreachable = states @ targets[:, :-1].T + targets[:, -1]
    unreachable[:, held_out] = -np.inf
    reference = metrics_of(conservative_ranks(unreachable, next_rows)[~held], 40)
    assert judge.warm_reference == reference["recall@20"]
    rows = targets.copy()
    rows[held_out] = projected
    for shift, point in zip(shifts, judge.frontier(projected), strict=True):
        scores = states @ rows[:, :-1].T + rows[:, -1]
        scores[:, held_out] += shift
        ranks = conservative_ranks(scores, next_rows)
        expected_held, expected_warm = metrics_of(ranks[held], 40), metrics_of(ranks[~held], 40)
        assert point["shift"] == shift
        assert point["held_out"]["recall@20"] == expected_held["recall@20"]
        assert point["held_out"]["mrr@20"] == pytest.approx(expected_held["mrr@20"], rel=1e-12)
        assert point["held_out"]["mrr"] == pytest.approx(expected_held["mrr@40"], rel=1e-12)
        assert point["warm"]["recall@20"] == expected_warm["recall@20"]
        assert point["warm"]["mrr@20"] == pytest.approx(expected_warm["mrr@20"], rel=1e-12)


def test_held_out_judge_refuses_non_finite_projections() -> None:
    targets, held_out, projected, states, next_rows, shifts = integer_catalogue(seed=10)
    judge = HeldOutJudge(targets, held_out, states, next_rows, shifts)
    projected[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        judge.frontier(projected)


def point(shift: float, held: float, warm: float, mrr: float = 0.0) -> dict[str, Any]:
    return {
        "shift": shift,
        "held_out": {"recall@20": held, "mrr@20": held / 2, "mrr": mrr},
        "warm": {"recall@20": warm, "mrr@20": warm / 2},
    }


def test_choose_shift_takes_the_best_held_out_point_that_holds_the_bar() -> None:
    points = [point(-1.0, 0.01, 0.50), point(1.0, 0.05, 0.495), point(2.0, 0.20, 0.40)]
    assert choose_shift(points, bar=0.495) == (1, True)
    assert choose_shift(points, bar=0.6) == (0, False)  # none holds it: the best warm point
    # held-out ties go to warm recall, then to the uncut MRR, then to the smaller shift
    tied = [point(-1.0, 0.0, 0.5, 0.01), point(0.0, 0.0, 0.5, 0.01), point(1.0, 0.0, 0.49, 0.02)]
    assert choose_shift(tied, bar=0.0) == (1, True)
    tied[0]["held_out"]["mrr"] = 0.011
    assert choose_shift(tied, bar=0.0) == (0, True)


def test_top_k_breaks_ties_to_the_lower_column_as_onnx_does() -> None:
    rng = np.random.default_rng(11)
    scores = rng.integers(-2, 3, (30, 25)).astype(np.float32)  # many ties
    scores[0] = 0.0  # all tied: the first k columns
    for k in (1, 5, 25):
        values, columns = top_k(scores, k)
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(columns, expected)
        np.testing.assert_array_equal(values, np.take_along_axis(scores, expected, axis=1))
    with pytest.raises(ValueError, match="k"):
        top_k(scores, 26)


def test_neighbours_mixes_the_rows_of_the_most_similar_items() -> None:
    rng = np.random.default_rng(12)
    content = rng.standard_normal((6, 4)).astype(np.float32)
    content[3] = 0.0  # an item without content: never a neighbour, but in the mean row
    rows = rng.standard_normal((6, 3)).astype(np.float32)
    neighbours = Neighbours.fit(content, rows, k=2, tau=0.5)
    assert len(neighbours.content) == 5
    np.testing.assert_allclose(neighbours.mean_row, rows.mean(axis=0), rtol=1e-6)
    query = rng.standard_normal((1, 4)).astype(np.float32)
    unit = content / np.maximum(np.linalg.norm(content, axis=1, keepdims=True), 1e-12)
    cosine = (unit @ (query[0] / np.linalg.norm(query[0]))).astype(np.float64)
    cosine[3] = -np.inf
    first, second = np.argsort(-cosine)[:2]
    weight = 1.0 / (1.0 + np.exp((cosine[second] - cosine[first]) / 0.5))  # a 2-way softmax
    expected = weight * rows[first] + (1.0 - weight) * rows[second]
    np.testing.assert_allclose(neighbours.apply(query)[0], expected, rtol=1e-5, atol=1e-6)
    # a fitted item's own content, at any scale, under a small tau: that item's row
    sharp = Neighbours.fit(content, rows, k=3, tau=1e-3)
    np.testing.assert_allclose(sharp.apply(3.0 * content[[4, 0]]), rows[[4, 0]], atol=1e-6)
    # a zero vector (an empty title): the mean row, never NaN
    np.testing.assert_array_equal(sharp.apply(np.zeros((1, 4), np.float32))[0], sharp.mean_row)
    with pytest.raises(ValueError, match="k"):
        Neighbours.fit(content, rows, k=6, tau=0.5)  # only 5 items have content


def test_bias_shift_moves_only_the_bias_column() -> None:
    rng = np.random.default_rng(6)
    layer = Layer(rng.standard_normal((4, 3)).astype(np.float32), np.zeros(3, dtype=np.float32))
    projection = Projection("ridge", Feedforward((layer,)), {})
    content = rng.standard_normal((5, 4)).astype(np.float32)
    shifted = projection.with_bias_shift(-1.5).apply(content)
    np.testing.assert_allclose(shifted[:, :-1], projection.apply(content)[:, :-1])
    np.testing.assert_allclose(shifted[:, -1], projection.apply(content)[:, -1] - 1.5, rtol=1e-6)
    assert projection.bias_shift == 0.0  # the original is untouched


@pytest.mark.parametrize("kind", ["ridge", "mlp", "neighbours"])
def test_onnx_graph_matches_apply(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((50, 16)).astype(np.float32)
    y = rng.standard_normal((50, 9)).astype(np.float32)
    mapping: Feedforward | Neighbours
    if kind == "neighbours":
        mapping = Neighbours.fit(x, y, k=5, tau=0.2)
    else:
        mapping = Feedforward(
            (fit_ridge(x, y, 0.1),) if kind == "ridge" else fit_mlp(x, y, seed=0, steps=20)
        )
    projection = Projection(kind, mapping, {}).with_bias_shift(0.25)
    path = tmp_path / "projection.onnx"
    projection.write_onnx(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [PROJECTION_INPUT]
    assert [o.name for o in session.get_outputs()] == [PROJECTION_OUTPUT]
    for batch in (1, 7):  # the batch axis is dynamic
        content = rng.standard_normal((batch, 16)).astype(np.float32)
        content[-1] = 0.0  # an empty title
        (onnx_out,) = session.run([PROJECTION_OUTPUT], {PROJECTION_INPUT: content})
        assert onnx_out.shape == (batch, 9)
        assert onnx_out.dtype == np.float32
        assert np.isfinite(onnx_out).all()
        np.testing.assert_allclose(onnx_out, projection.apply(content), atol=1e-5)
    if isinstance(mapping, Neighbours):  # a fitted item's own content under a small tau
        sharp = Projection(kind, Neighbours.fit(x, y, k=5, tau=1e-3), {})
        sharp.write_onnx(path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (onnx_out,) = session.run([PROJECTION_OUTPUT], {PROJECTION_INPUT: 2.0 * x[[3, 8]]})
        np.testing.assert_allclose(onnx_out, y[[3, 8]], atol=1e-5)


def test_shapes_are_checked() -> None:
    content, targets, states, next_rows = linear_catalogue(seed=8)
    with pytest.raises(ValueError, match="content"):
        choose_projection(content[:-1], targets, states, next_rows)
    with pytest.raises(ValueError, match="states"):
        choose_projection(content, targets, states[:, :-1], next_rows)
    with pytest.raises(ValueError, match="content"):
        Projection("ridge", Feedforward((fit_ridge(content, targets, 1.0),)), {}).apply(
            content[:, :-1]
        )


def test_the_log_partition_leaves_out_the_target() -> None:
    rng = np.random.default_rng(4)
    states = rng.standard_normal((7, 5)).astype(np.float32)
    rows = rng.standard_normal((9, 6)).astype(np.float32)
    targets = rng.integers(0, 9, size=7)
    scores = states @ rows[:, :-1].T + rows[:, -1]
    expected = [
        np.log(np.exp(np.delete(row, target)).sum())
        for row, target in zip(scores, targets, strict=True)
    ]
    got = log_partition_without_target(states, rows, targets)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_ranked_training_teaches_a_map_from_nothing_to_rank_new_items_first() -> None:
    content, targets, states, next_rows = linear_catalogue(seed=5)
    d, h1 = content.shape[1], targets.shape[1]
    zero = (np.zeros((d, h1), np.float32), np.zeros(h1, np.float32))
    snapshots = fit_ranked(content, targets, states, next_rows, zero, seed=0, steps=(1, 300))
    assert [steps for steps, _, _ in snapshots] == [1, 300]

    def mrr(weight: F32, bias: F32) -> float:
        """Each state's next item replaced by its projection, ranked against the true rows."""
        projected = content @ weight + bias
        own = (states * projected[next_rows, :-1]).sum(axis=1) + projected[next_rows, -1]
        scores = states @ targets[:, :-1].T + targets[:, -1]
        scores[np.arange(len(states)), next_rows] = -np.inf
        return float((1.0 / (1 + (scores >= own[:, None]).sum(axis=1))).mean())

    first, last = (mrr(weight, bias) for _, weight, bias in snapshots)
    assert first < 0.2 < 0.9 < last
