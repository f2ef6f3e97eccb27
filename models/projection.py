"""The content projection: content vectors (title encodings) -> GRU4Rec item space [Wy | By].

A new item has a title but no interactions; its projected vector is its input embedding
(the first H columns, since input and output are tied) and its row of the FAISS index. The
projection is learned at export on the trained items. Candidates (ridge regression over a log
grid of alphas, a one-hidden-layer MLP, "ranked": an affine map trained by the next-item
softmax (models/ranked_projection.py), and "neighbours": the softmax-weighted mean of the
rows of the items with the most similar titles) are fitted on 90% of the items and judged by
what a projection is for: the held-out items' rows of [Wy | By] are replaced by their
projections and the sessions' states rank all items (Recall@20, MRR@20, ties against the
model, models/metrics.py). Each candidate is judged at the shift of its projected bias that
ranks held-out targets best while the other targets' Recall@20 stays within a tolerance of
theirs with the held-out items unreachable: titles alone rarely earn a new item the reach its
trained neighbours have, and the shift is what a new item's bias must be lifted by to be
shown at all. The winner is refitted on every item and keeps its shift.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch
from onnx import NodeProto, TensorProto, helper, numpy_helper

from app.bundle import PROJECTION_INPUT, PROJECTION_OUTPUT
from models.metrics import RankingMetrics
from models.ranked_projection import CHUNK, RANKED_STEPS, fit_ranked

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

HELD_OUT_FRACTION = 0.1
CUTOFF = 20  # the k of Recall@k and MRR@k
# ridge alphas relative to the mean eigenvalue of X'X (||X - mean||_F^2 / D), so that the grid
# does not depend on the scale of the content vectors, nor on the primal or dual form
RIDGE_RELATIVE_ALPHAS = (1e-3, 1e-2, 1e-1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
MLP_HIDDEN = 512
MLP_STEPS = 400
MLP_BATCH = 512
MLP_LEARNING_RATE = 1e-3
MLP_WEIGHT_DECAY = 1e-4
NEIGHBOURS_K = (3, 5, 10, 20)
NEIGHBOURS_TAU = (0.1, 0.2, 0.5)  # softmax temperature over cosine similarities
# The neighbours graph stores every fitted item's content and row, n x (D + H + 1) floats.
# 2^25 (128 MiB, about the MiniLM encoder's own graph) holds MiniLM's 384 dimensions at
# H = 512 for 37k items (MicroLens, 19k: 68 MB), but hashing's 4096 for 7k (MicroLens: 350 MB).
# Beyond it neighbours is no candidate. A sparse graph (Gather, then ScatterND-add over the
# nonzeros: 8 MB for MicroLens' hashed titles) would hold batch x nonzeros floats per call
# instead: 1.4 GB for the service's 512-upload chunks, worse than the dense graph it saves.
NEIGHBOURS_MAX_FLOATS = 2**25
# shifts of the projected bias, in standard deviations of the fitted items' bias: fine where
# a 1% warm tolerance binds on MicroLens (3-5), then on to where new items crowd trained out
SHIFTS_SD = (-1.0, 0.0, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0)
WARM_TOLERANCE = 0.01  # the other targets' Recall@20 may fall this share below its reference
TINY = 1e-12  # the least norm a content vector is divided by: a zero vector stays zero
OPSET = 18

Nodes = tuple[list[NodeProto], list[TensorProto]]


@dataclass(frozen=True, slots=True)
class Layer:
    weight: F32  # (d_in, d_out)
    bias: F32  # (d_out,)


@dataclass(frozen=True, slots=True)
class Feedforward:
    """Affine layers with a ReLU between consecutive ones: ridge is one layer, the MLP two."""

    layers: tuple[Layer, ...]

    @property
    def content_dim(self) -> int:
        return int(self.layers[0].weight.shape[0])

    @property
    def item_dim(self) -> int:
        return int(self.layers[-1].weight.shape[1])

    @property
    def stored_floats(self) -> int:
        return sum(layer.weight.size + layer.bias.size for layer in self.layers)

    def apply(self, content: F32) -> F32:
        out = content
        for i, layer in enumerate(self.layers):
            out = out @ layer.weight + layer.bias
            if i < len(self.layers) - 1:
                out = np.maximum(out, np.float32(0.0))
        return out.astype(np.float32, copy=False)

    def onnx_nodes(self, source: str, target: str) -> Nodes:
        nodes, initializers = [], []
        current = source
        for i, layer in enumerate(self.layers):
            weight, bias = f"weight_{i}", f"bias_{i}"
            initializers += [
                numpy_helper.from_array(layer.weight, weight),
                numpy_helper.from_array(layer.bias, bias),
            ]
            last = i == len(self.layers) - 1
            product, affine = f"product_{i}", target if last else f"affine_{i}"
            nodes += [
                helper.make_node("MatMul", [current, weight], [product]),
                helper.make_node("Add", [product, bias], [affine]),
            ]
            current = affine
            if not last:
                current = f"relu_{i}"
                nodes.append(helper.make_node("Relu", [affine], [current]))
        return nodes, initializers


def top_k(scores: F32, k: int) -> tuple[F32, I64]:
    """(b, k) largest scores of each row and their columns, descending, ties to the lower
    column: the order of ONNX TopK, so that the graph and `apply` pick the same neighbours."""
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k must be in [1, {scores.shape[1]}], got {k}")
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]  # (b,) each row's k-th largest
    columns = np.empty((len(scores), k), dtype=np.int64)
    for row, (values, threshold) in enumerate(zip(scores, kth, strict=True)):
        candidates = np.flatnonzero(values >= threshold)  # ascending columns, k or more
        columns[row] = candidates[np.argsort(-values[candidates], kind="stable")[:k]]
    return np.take_along_axis(scores, columns, axis=1), columns


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The softmax(cosine / tau)-weighted mean of the rows of the k fitted items whose content
    is most like an item's: a new item sits among the trained items its title resembles.

    Content is L2-normalised on the way in (the encoders already do; a stray scale must not
    sharpen the softmax). A zero vector (an empty title) resembles nothing and gets the mean
    row of every fitted item, as ridge's intercept would give it.
    """

    content: F32  # (n, D) unit content vectors of the fitted items that have any content
    rows: F32  # (n, H + 1) their [embedding | bias]
    mean_row: F32  # (H + 1,) the mean row of every fitted item
    k: int
    tau: float

    @classmethod
    def fit(cls, content: F32, rows: F32, k: int, tau: float) -> "Neighbours":
        norms = np.linalg.norm(content, axis=1)
        some = norms > 0
        if not 1 <= k <= int(some.sum()):
            raise ValueError(f"k must be in [1, {int(some.sum())}] (items with content), got {k}")
        unit = (content[some] / norms[some, None]).astype(np.float32)
        mean_row = rows.mean(axis=0, dtype=np.float64).astype(np.float32)
        return cls(unit, rows[some].astype(np.float32), mean_row, k, tau)

    @property
    def content_dim(self) -> int:
        return int(self.content.shape[1])

    @property
    def item_dim(self) -> int:
        return int(self.rows.shape[1])

    @property
    def stored_floats(self) -> int:
        return self.content.size + self.rows.size + self.mean_row.size

    def apply(self, content: F32) -> F32:
        norms = np.linalg.norm(content, axis=1, keepdims=True)  # (b, 1)
        unit = content / np.maximum(norms, np.float32(TINY))
        out = np.empty((len(content), self.item_dim), dtype=np.float32)
        for first in range(0, len(content), CHUNK):
            part = slice(first, first + CHUNK)
            sims, nearest = top_k(unit[part] @ self.content.T, self.k)  # (b, k)
            scaled = sims / np.float32(self.tau)
            weights = np.exp(scaled - scaled.max(axis=1, keepdims=True))
            weights /= weights.sum(axis=1, keepdims=True)
            out[part] = (weights[:, None, :] @ self.rows[nearest])[:, 0]  # (b, H + 1)
        return np.where(norms > 0, out, self.mean_row).astype(np.float32, copy=False)

    def onnx_nodes(self, source: str, target: str) -> Nodes:
        constants: dict[str, npt.NDArray[Any]] = {
            "axis_1": np.array([1], dtype=np.int64),
            "k": np.array([self.k], dtype=np.int64),
            "tiny": np.array(TINY, dtype=np.float32),
            "zero": np.array(0.0, dtype=np.float32),
            "tau": np.array(self.tau, dtype=np.float32),
            "fitted_content": self.content,
            "fitted_rows": self.rows,
            "mean_row": self.mean_row,
        }
        node = helper.make_node
        nodes = [
            node("ReduceL2", [source, "axis_1"], ["norm"], keepdims=1),  # (b, 1)
            node("Max", ["norm", "tiny"], ["divisor"]),
            node("Div", [source, "divisor"], ["unit"]),
            node("Gemm", ["unit", "fitted_content"], ["sims"], transB=1),  # (b, n) cosines
            node("TopK", ["sims", "k"], ["top_sims", "nearest"], axis=-1, largest=1, sorted=1),
            node("Div", ["top_sims", "tau"], ["scaled"]),
            node("Softmax", ["scaled"], ["weights"], axis=-1),  # (b, k)
            node("Unsqueeze", ["weights", "axis_1"], ["weights_row"]),  # (b, 1, k)
            node("Gather", ["fitted_rows", "nearest"], ["neighbour_rows"], axis=0),  # (b, k, H + 1)
            node("MatMul", ["weights_row", "neighbour_rows"], ["mixed_row"]),  # (b, 1, H + 1)
            node("Squeeze", ["mixed_row", "axis_1"], ["mixed"]),
            node("Greater", ["norm", "zero"], ["has_content"]),
            node("Where", ["has_content", "mixed", "mean_row"], [target]),
        ]
        return nodes, [numpy_helper.from_array(value, name) for name, value in constants.items()]


@dataclass(frozen=True, slots=True)
class Projection:
    """A mapping from content (D,) to [Wy | By] (H + 1,), and the shift of its bias column.

    `bias_shift` is added to the projected bias: chosen with the candidate (`shift_choice`
    records the held-out frontier it was chosen on) to trade new items' reach against the
    trained items' accuracy.
    """

    kind: str  # "ridge" | "mlp" | "ranked" | "neighbours"
    mapping: Feedforward | Neighbours
    params: dict[str, Any]
    validation: tuple[dict[str, Any], ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    bias_shift: float = 0.0
    shift_choice: dict[str, Any] = field(default_factory=dict)

    @property
    def content_dim(self) -> int:
        return self.mapping.content_dim

    @property
    def item_dim(self) -> int:
        return self.mapping.item_dim

    def apply(self, content: F32) -> F32:
        """(n, D) content vectors -> (n, H + 1) item vectors [embedding | bias], float32."""
        if content.ndim != 2 or content.shape[1] != self.content_dim:
            raise ValueError(f"content (n, {self.content_dim}) expected, got {content.shape}")
        out = self.mapping.apply(content.astype(np.float32, copy=False))
        out[:, -1] += np.float32(self.bias_shift)
        return out

    def with_bias_shift(self, bias_shift: float) -> "Projection":
        return replace(self, bias_shift=bias_shift)

    def write_onnx(self, path: Path) -> None:
        """An ONNX graph: content (b, D) f32 -> item_vector (b, H + 1) f32, dynamic b."""
        nodes, initializers = self.mapping.onnx_nodes(PROJECTION_INPUT, "unshifted")
        shift = np.zeros(self.item_dim, dtype=np.float32)
        shift[-1] = self.bias_shift
        initializers.append(numpy_helper.from_array(shift, "bias_shift"))
        nodes.append(helper.make_node("Add", ["unshifted", "bias_shift"], [PROJECTION_OUTPUT]))
        graph = helper.make_graph(
            nodes,
            "content_projection",
            [
                helper.make_tensor_value_info(
                    PROJECTION_INPUT, TensorProto.FLOAT, ["b", self.content_dim]
                )
            ],
            [
                helper.make_tensor_value_info(
                    PROJECTION_OUTPUT, TensorProto.FLOAT, ["b", self.item_dim]
                )
            ],
            initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        onnx.checker.check_model(model)
        onnx.save(model, str(path))

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the kind, its parameters, the validation that chose it."""
        return {
            "kind": self.kind,
            "params": self.params,
            "bias_shift": self.bias_shift,
            "content_dim": self.content_dim,
            "item_dim": self.item_dim,
            "stored_floats": self.mapping.stored_floats,
            "shift_choice": self.shift_choice,
            "validation": list(self.validation),
            "counts": self.counts,
        }


# ----------------------------------------------------------------------------- ridge


class RidgePath:
    """Ridge regression with an unpenalised intercept, for many alphas from one eigensolve.

    With X, Y centred, W(alpha) = (X'X + alpha I)^-1 X'Y (primal, D <= n) or
    X'(XX' + alpha I)^-1 Y (dual, D > n); both come from the eigenvectors of the smaller
    Gram matrix, so each alpha costs two matrix products.
    """

    def __init__(self, content: F32, targets: F32) -> None:
        self.content_mean = content.mean(axis=0, dtype=np.float64)  # (D,)
        self.target_mean = targets.mean(axis=0, dtype=np.float64)  # (H + 1,)
        x = (content - self.content_mean.astype(np.float32)).astype(np.float32)  # (n, D)
        y = (targets - self.target_mean.astype(np.float32)).astype(np.float32)  # (n, H + 1)
        n, d = x.shape
        self.dual = d > n
        gram = (x @ x.T if self.dual else x.T @ x).astype(np.float64)  # (n, n) or (D, D)
        self.eigenvalues, self.eigenvectors = np.linalg.eigh(gram)
        self.eigenvalues = np.maximum(self.eigenvalues, 0.0)
        self.mean_eigenvalue = float(np.trace(gram)) / d  # of X'X, also in the dual form
        # the right-hand side in the eigenbasis: V'X'Y (primal) or U'Y (dual)
        rhs = (x.T @ y).astype(np.float64) if not self.dual else y.astype(np.float64)
        self.rotated = self.eigenvectors.T @ rhs
        self.x = x

    def layer(self, relative_alpha: float) -> Layer:
        alpha = relative_alpha * max(self.mean_eigenvalue, 1e-12)
        solved = self.eigenvectors @ (self.rotated / (self.eigenvalues + alpha)[:, None])
        weight = (self.x.T.astype(np.float64) @ solved) if self.dual else solved  # (D, H + 1)
        bias = self.target_mean - self.content_mean @ weight
        return Layer(weight.astype(np.float32), bias.astype(np.float32))


def fit_ridge(content: F32, targets: F32, relative_alpha: float) -> Layer:
    """One alpha by a direct solve (cheaper than RidgePath's eigensolve for the final refit)."""
    content_mean = content.mean(axis=0, dtype=np.float64)  # (D,)
    target_mean = targets.mean(axis=0, dtype=np.float64)  # (H + 1,)
    x = (content - content_mean.astype(np.float32)).astype(np.float32)  # (n, D)
    y = (targets - target_mean.astype(np.float32)).astype(np.float32)  # (n, H + 1)
    dual = x.shape[1] > x.shape[0]
    gram = (x @ x.T if dual else x.T @ x).astype(np.float64)
    # the mean eigenvalue of X'X, trace / D, in both forms: the same alpha as RidgePath's
    alpha = relative_alpha * max(float(np.trace(gram)) / x.shape[1], 1e-12)
    gram[np.diag_indices_from(gram)] += alpha
    if dual:
        weight = x.T.astype(np.float64) @ np.linalg.solve(gram, y.astype(np.float64))
    else:
        weight = np.linalg.solve(gram, (x.T @ y).astype(np.float64))
    bias = target_mean - content_mean @ weight
    return Layer(weight.astype(np.float32), bias.astype(np.float32))


# ----------------------------------------------------------------------------- MLP


def fit_mlp(content: F32, targets: F32, seed: int, steps: int = MLP_STEPS) -> tuple[Layer, Layer]:
    """One hidden ReLU layer trained on the squared error of column-standardised targets.

    The standardisation of inputs and targets is folded into the returned layers.
    """
    generator = torch.Generator().manual_seed(seed)
    x_mean = content.mean(axis=0)
    x_scale = float(np.sqrt(((content - x_mean) ** 2).sum(axis=1).mean())) or 1.0
    y_mean, y_std = targets.mean(axis=0), targets.std(axis=0) + 1e-6
    x = torch.from_numpy(((content - x_mean) / x_scale).astype(np.float32))
    y = torch.from_numpy(((targets - y_mean) / y_std).astype(np.float32))
    hidden = torch.nn.Linear(x.shape[1], MLP_HIDDEN)
    output = torch.nn.Linear(MLP_HIDDEN, y.shape[1])
    with torch.no_grad():
        for module in (hidden, output):
            bound = float(np.sqrt(6.0 / (module.in_features + module.out_features)))
            module.weight.uniform_(-bound, bound, generator=generator)
            module.bias.zero_()
    parameters = [*hidden.parameters(), *output.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=MLP_LEARNING_RATE, weight_decay=MLP_WEIGHT_DECAY)
    for _ in range(steps):
        batch = torch.randint(0, len(x), (min(MLP_BATCH, len(x)),), generator=generator)
        loss = ((output(torch.relu(hidden(x[batch]))) - y[batch]) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    w1 = hidden.weight.detach().numpy().T / x_scale  # (D, h)
    b1 = hidden.bias.detach().numpy() - x_mean @ w1
    w2 = output.weight.detach().numpy().T * y_std  # (h, H + 1)
    b2 = output.bias.detach().numpy() * y_std + y_mean
    as32 = np.float32
    return Layer(w1.astype(as32), b1.astype(as32)), Layer(w2.astype(as32), b2.astype(as32))


# ----------------------------------------------------------------------------- choice


class HeldOutJudge:
    """A candidate's held-out ranking at every bias shift, exactly, the candidate-free work once.

    The held-out items' rows are replaced by their projections, `shift` added to their
    scores, and each state ranks every item by the conservative rank (models/metrics.py). A
    state whose next item was fitted ("warm") needs only its count of fitted items at or above
    its target, and only while that count is at most CUTOFF: held-out items can only push it
    down. A state whose next item is held out keeps its fitted items' scores, sorted, to count
    those at or above its shifted target by bisection.
    """

    def __init__(
        self,
        targets: F32,  # (n, H + 1) every item's [embedding | bias]
        held_out: I64,  # (n_held,) sorted rows whose projections are judged
        states: F32,  # (m, H)
        next_rows: I64,  # (m,) the item that came next after each state
        shifts: F32,  # (s,) added to the held-out items' scores
    ) -> None:
        n = len(targets)
        fitted = np.setdiff1d(np.arange(n), held_out)
        place = np.zeros(n, dtype=np.int64)  # row -> its place among the fitted or the held out
        place[fitted], place[held_out] = np.arange(len(fitted)), np.arange(len(held_out))
        fitted_rows = targets[fitted]
        probe = np.isin(next_rows, held_out)
        self.n_items, self.n_fitted, self.n_warm = n, len(fitted), int((~probe).sum())
        self.n_held_out_states = int(probe.sum())
        self.shifts = shifts.astype(np.float32)
        warm_states, warm_targets = states[~probe], place[next_rows[~probe]]
        counts = np.zeros(self.n_warm, dtype=np.int64)
        own = np.zeros(self.n_warm, dtype=np.float32)
        for first in range(0, self.n_warm, CHUNK):
            part = slice(first, first + CHUNK)
            scores = warm_states[part] @ fitted_rows[:, :-1].T + fitted_rows[:, -1]
            own[part] = scores[np.arange(len(scores)), warm_targets[part]]
            counts[part] = (scores >= own[part, None]).sum(axis=1)
        near = counts <= CUTOFF  # the warm states that held-out items can still push out
        self.near_states = warm_states[near]
        self.near_counts, self.near_own = counts[near], own[near]
        self.warm_reference = float(near.sum()) / max(self.n_warm, 1)
        self.probe_states, self.probe_targets = states[probe], place[next_rows[probe]]
        self.probe_fitted = np.zeros((self.n_held_out_states, len(fitted)), dtype=np.float32)
        for first in range(0, self.n_held_out_states, CHUNK):
            part = slice(first, first + CHUNK)
            scores = self.probe_states[part] @ fitted_rows[:, :-1].T + fitted_rows[:, -1]
            self.probe_fitted[part] = np.sort(scores, axis=1)

    def frontier(self, projected: F32) -> list[dict[str, Any]]:
        """Per shift: held-out targets' Recall@20, MRR@20 and uncut MRR, warm ones' Recall@20
        and MRR@20, for the held-out items' (n_held, H + 1) projections."""
        if not np.isfinite(projected).all():
            raise ValueError("projected rows must be finite")
        embedding, bias = projected[:, :-1], projected[:, -1]
        probe_scores = self.probe_states @ embedding.T + bias  # (m_probe, n_held)
        probe_own = probe_scores[np.arange(len(probe_scores)), self.probe_targets]
        shifted_own = probe_own[:, None] + self.shifts  # (m_probe, s)
        fitted_above = self.n_fitted - np.array(
            [
                np.searchsorted(row, own, side="left")
                for row, own in zip(self.probe_fitted, shifted_own, strict=True)
            ],
            dtype=np.int64,
        ).reshape(len(probe_own), len(self.shifts))
        near_scores = self.near_states @ embedding.T + bias  # (m_near, n_held)
        points = []
        for i, shift in enumerate(self.shifts):
            held_above = (probe_scores + shift >= shifted_own[:, i : i + 1]).sum(axis=1)
            held_metrics = RankingMetrics(cutoffs=(CUTOFF, self.n_items))
            held_metrics.add(fitted_above[:, i] + held_above)
            warm_ranks = self.near_counts + (near_scores + shift >= self.near_own[:, None]).sum(
                axis=1
            )
            hit = warm_ranks <= CUTOFF
            n_warm = max(self.n_warm, 1)
            held = held_metrics.result() if held_metrics.n_events else {}
            points.append(
                {
                    "shift": float(shift),
                    "held_out": {
                        "recall@20": held.get(f"recall@{CUTOFF}", 0.0),
                        "mrr@20": held.get(f"mrr@{CUTOFF}", 0.0),
                        "mrr": held.get(f"mrr@{self.n_items}", 0.0),
                    },
                    "warm": {
                        "recall@20": float(hit.sum()) / n_warm,
                        "mrr@20": float((1.0 / warm_ranks[hit]).sum()) / n_warm,
                    },
                }
            )
        return points


def choose_shift(points: list[dict[str, Any]], bar: float) -> tuple[int, bool]:
    """The point with the best held-out Recall@20 whose warm Recall@20 holds the bar.

    Ties go to held-out MRR@20, then to warm Recall@20, then to the held-out uncut MRR, then
    to the smaller shift. Where none holds the bar, the best warm Recall@20; the flag says which.
    """

    def key(i: int) -> tuple[float, ...]:
        held, warm = points[i]["held_out"], points[i]["warm"]["recall@20"]
        return held["recall@20"], held["mrr@20"], warm, held["mrr"], -abs(points[i]["shift"])

    allowed = [i for i, point in enumerate(points) if point["warm"]["recall@20"] >= bar]
    if not allowed:
        return max(
            range(len(points)), key=lambda i: (points[i]["warm"]["recall@20"], key(i))
        ), False
    return max(allowed, key=key), True


def needs_states(kind: str) -> bool:
    """Whether fit_chosen's `kind` fits on session states (the others ignore them, and their
    refit need not step the model over thousands of sessions to make some)."""
    return kind == "ranked"


def fit_chosen(
    kind: str,
    params: dict[str, Any],
    content: F32,
    targets: F32,
    states: F32,
    next_rows: I64,
    seed: int,
) -> Feedforward | Neighbours:
    """The candidate `kind` with its chosen `params`, fitted on all n items: the last step of
    the choice, and how the learner refits a published projection to a newer model's rows."""
    if kind == "ridge":
        return Feedforward((fit_ridge(content, targets, params["relative_alpha"]),))
    if kind == "mlp":
        return Feedforward(fit_mlp(content, targets, seed))
    if kind == "ranked":
        start = fit_ridge(content, targets, params["start_relative_alpha"])
        ((_, weight, bias),) = fit_ranked(
            content,
            targets,
            states,
            next_rows,
            (start.weight, start.bias),
            seed,
            (params["steps"],),
        )
        return Feedforward((Layer(weight, bias),))
    return Neighbours.fit(content, targets, params["k"], params["tau"])


def choose_projection(
    content: F32,  # (n, D) the trained items' content vectors, row i = item i
    targets: F32,  # (n, H + 1) their [embedding | bias] rows
    states: F32,  # (m, H) session hidden states
    next_rows: I64,  # (m,) the item that came next after each state
    seed: int = 0,
    warm_tolerance: float = WARM_TOLERANCE,
    max_stored_floats: int = NEIGHBOURS_MAX_FLOATS,
    ranked_steps: tuple[int, ...] = RANKED_STEPS,
) -> Projection:
    """The candidate and bias shift that rank held-out items best from their content, within
    `warm_tolerance` of the other targets' Recall@20, refitted on all items.

    Candidates that hold the tolerance come first; ties in held-out Recall@20 go to MRR@20,
    then to the uncut MRR (which still ranks candidates whose projected items all miss the top
    20), then to the lower held-out squared error (the only criterion left when no state's next
    item is held out, as in a very small catalogue). Neighbours is a candidate only while the
    content and rows of all n items, n x (D + H + 1) floats, are at most `max_stored_floats`.
    The ranked projection is judged after each of `ranked_steps`.
    """
    n, h1 = targets.shape
    if content.ndim != 2 or content.shape[0] != n:
        raise ValueError(f"content (n={n}, D) expected, got {content.shape}")
    if states.ndim != 2 or states.shape[1] != h1 - 1 or next_rows.shape != (len(states),):
        raise ValueError(f"states (m, {h1 - 1}) and next_rows (m,) expected")
    if len(next_rows) and (next_rows.min() < 0 or next_rows.max() >= n):
        raise ValueError(f"next_rows must lie in [0, {n})")
    content = content.astype(np.float32, copy=False)
    targets = targets.astype(np.float32, copy=False)
    rng = np.random.default_rng(seed)
    n_held = max(1, round(HELD_OUT_FRACTION * n))
    held_out = np.sort(rng.choice(n, size=n_held, replace=False)).astype(np.int64)
    fitted = np.setdiff1d(np.arange(n), held_out)
    unit = float(targets[:, -1].std(dtype=np.float64))
    shifts = (np.array(SHIFTS_SD) * unit).astype(np.float32)
    judge = HeldOutJudge(targets, held_out, states.astype(np.float32), next_rows, shifts)
    bar = (1.0 - warm_tolerance) * judge.warm_reference

    frontiers: list[list[dict[str, Any]]] = []  # per candidate: every shift
    choices: list[int] = []  # per candidate: the shift it is judged at
    table: list[dict[str, Any]] = []

    def judged(kind: str, params: dict[str, Any], mapping: Feedforward | Neighbours) -> None:
        projected = Projection(kind, mapping, params).apply(content[held_out])
        points = judge.frontier(projected)
        chosen, within = choose_shift(points, bar)
        mse = float(((projected - targets[held_out]) ** 2).mean())
        frontiers.append(points)
        choices.append(chosen)
        table.append(
            {
                "kind": kind,
                "params": params,
                "shift_sd": SHIFTS_SD[chosen],
                **points[chosen],
                "within_tolerance": within,
                "mse": mse,
            }
        )

    def rank(i: int) -> tuple[float, ...]:
        row = table[i]
        held = row["held_out"]
        return row["within_tolerance"], held["recall@20"], held["mrr@20"], held["mrr"], -row["mse"]

    path = RidgePath(content[fitted], targets[fitted])
    for relative_alpha in RIDGE_RELATIVE_ALPHAS:
        params = {"relative_alpha": relative_alpha, "dual": path.dual}
        judged("ridge", params, Feedforward((path.layer(relative_alpha),)))
    # the ranked projection starts from the best ridge layer, as judged, and is trained on the
    # fitted items' states
    ridge_alpha = table[max(range(len(table)), key=rank)]["params"]["relative_alpha"]
    start = path.layer(ridge_alpha)
    del path
    place = np.full(n, -1, dtype=np.int64)
    place[fitted] = np.arange(len(fitted))
    warm = place[next_rows] >= 0
    for steps, weight, bias in fit_ranked(
        content[fitted],
        targets[fitted],
        states[warm].astype(np.float32),
        place[next_rows[warm]],
        (start.weight, start.bias),
        seed,
        ranked_steps,
    ):
        params = {"steps": steps, "start_relative_alpha": ridge_alpha, "seed": seed}
        judged("ranked", params, Feedforward((Layer(weight, bias),)))
    mlp_params = {
        "hidden": MLP_HIDDEN,
        "steps": MLP_STEPS,
        "batch": MLP_BATCH,
        "learning_rate": MLP_LEARNING_RATE,
        "weight_decay": MLP_WEIGHT_DECAY,
        "seed": seed,
    }
    judged("mlp", mlp_params, Feedforward(fit_mlp(content[fitted], targets[fitted], seed)))
    with_content = int((np.linalg.norm(content[fitted], axis=1) > 0).sum())
    if n * (content.shape[1] + h1) <= max_stored_floats:
        for k in (k for k in NEIGHBOURS_K if k <= with_content):
            for tau in NEIGHBOURS_TAU:
                neighbours = Neighbours.fit(content[fitted], targets[fitted], k, tau)
                judged("neighbours", {"k": k, "tau": tau}, neighbours)

    best = max(range(len(table)), key=rank)
    kind, params = table[best]["kind"], table[best]["params"]
    mapping = fit_chosen(kind, params, content, targets, states, next_rows, seed)
    shift_choice = {
        "shift_sd": table[best]["shift_sd"],
        "unit": unit,  # the bias's standard deviation
        "shifts_sd": list(SHIFTS_SD),
        "warm_tolerance": warm_tolerance,
        "warm_recall_reference": judge.warm_reference,
        "warm_recall_bar": bar,
        "within_tolerance": table[best]["within_tolerance"],
        "chosen": choices[best],
        "frontier": frontiers[best],
    }
    counts = {
        "items": n,
        "held_out_items": n_held,
        "states": len(states),
        "held_out_states": judge.n_held_out_states,
    }
    return Projection(
        kind, mapping, params, tuple(table), counts, table[best]["shift"], shift_choice
    )
