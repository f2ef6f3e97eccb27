"""GRU4Rec: a GRU over the session's items, scoring the next item by inner product.

Written from the papers (Hidasi et al., ICLR 2016; Hidasi & Karatzoglou, CIKM 2018) and
the reproducibility study of Hidasi & Czapp (RecSys 2023):
- one item embedding table Wy serves as the GRU input and as the output embedding
  (constrained embedding), plus an item bias By; score(i) = h . Wy[i] + By[i];
- dropout on the input embedding and on the GRU output, which is also the state carried
  to the next step during training;
- both tables use sparse gradients, so a step only updates the rows it touched.
nextswipe adds the engagement weight w in [0, 1] of each event: the state moves only part
of the way, h' = h + w * (GRU(x, h) - h), so a skip (w near 0) barely changes it and a
fully watched item (w = 1) is a plain GRU step.
"""

import math

import torch
from torch import nn


def _uniform_(tensor: torch.Tensor, fan_in: int, fan_out: int) -> None:
    """Glorot-style uniform init with the range GRU4Rec uses, sqrt(6 / (fan_in + fan_out))."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(tensor, -bound, bound)


class GRU4Rec(nn.Module):
    def __init__(
        self,
        n_items: int,
        hidden_size: int,
        dropout_embed: float = 0.0,
        dropout_hidden: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_items = n_items
        self.hidden_size = hidden_size
        self.item_embedding = nn.Embedding(n_items, hidden_size, sparse=True)  # Wy
        self.item_bias = nn.Embedding(n_items, 1, sparse=True)  # By
        self.cell = nn.GRUCell(hidden_size, hidden_size)
        self.dropout_embed = nn.Dropout(dropout_embed)
        self.dropout_hidden = nn.Dropout(dropout_hidden)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        _uniform_(self.item_embedding.weight, self.n_items, self.hidden_size)
        nn.init.zeros_(self.item_bias.weight)
        # the three gates (r, z, n) are initialised as three separate matrices
        for weight in (self.cell.weight_ih, self.cell.weight_hh):
            for gate in weight.chunk(3, dim=0):
                _uniform_(gate, self.hidden_size, self.hidden_size)
        nn.init.zeros_(self.cell.bias_ih)
        nn.init.zeros_(self.cell.bias_hh)

    def grow(self, n_items: int) -> None:
        """Append freshly initialised rows for new items (resumed training on new data)."""
        n_new = n_items - self.n_items
        assert n_new >= 0
        if n_new == 0:
            return
        extra = torch.empty(n_new, self.hidden_size)
        _uniform_(extra, n_items, self.hidden_size)
        grown_embedding = nn.Embedding(n_items, self.hidden_size, sparse=True)
        grown_bias = nn.Embedding(n_items, 1, sparse=True)
        with torch.no_grad():
            grown_embedding.weight.copy_(torch.cat([self.item_embedding.weight, extra]))
            grown_bias.weight.copy_(torch.cat([self.item_bias.weight, torch.zeros(n_new, 1)]))
        self.item_embedding, self.item_bias = grown_embedding, grown_bias
        self.n_items = n_items

    @property
    def state_size(self) -> int:
        """Width of the state a session carries: the GRU's hidden state here, more where a
        subclass keeps more (models/attention.py)."""
        return self.hidden_size

    def last_hidden(self, state: torch.Tensor) -> torch.Tensor:
        """(b, state_size) -> (b, H): the GRU's hidden state inside a session's state."""
        return state

    def push(self, state: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """The session's state after its GRU moved to `hidden`."""
        return hidden

    def query(self, state: torch.Tensor) -> torch.Tensor:
        """(b, state_size) -> (b, H): what the items' embeddings are scored against."""
        return state

    def step(
        self, item_rows: torch.Tensor, weights: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        """One weighted GRU step: (b,) items, (b,) weights in [0, 1], (b, H) -> (b, H).

        This is the graph exported to ONNX: no dropout, no scoring.
        """
        return self.step_vector(self.item_embedding(item_rows), weights, hidden)

    def step_vector(
        self, item_vectors: torch.Tensor, weights: torch.Tensor, state: torch.Tensor
    ) -> torch.Tensor:
        """step() on (b, H) item embeddings given, not looked up: an upload's projected one."""
        hidden = self.last_hidden(state)
        moved: torch.Tensor = self.cell(item_vectors, hidden)
        return self.push(state, hidden + weights.unsqueeze(1) * (moved - hidden))

    def forward(
        self,
        item_rows: torch.Tensor,
        weights: torch.Tensor,
        state: torch.Tensor,
        candidates: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training step: returns (b, c) scores of the candidate items and the next state.

        One lookup serves input and output rows, so the sparse gradient of Wy is one tensor.
        """
        n_rows = item_rows.shape[0]
        rows = self.item_embedding(torch.cat([item_rows, candidates]))  # (b + c, H)
        embedded, output_rows = rows[:n_rows], rows[n_rows:]
        last = self.last_hidden(state)
        moved = self.cell(self.dropout_embed(embedded), last)
        state = self.push(state, self.dropout_hidden(last + weights.unsqueeze(1) * (moved - last)))
        scores = self.query(state) @ output_rows.T + self.item_bias(candidates).T  # (b, c)
        return scores, state

    def score_all(self, state: torch.Tensor) -> torch.Tensor:
        """(b, state_size) states -> (b, n_items) scores of the whole catalogue."""
        return self.query(state) @ self.item_embedding.weight.T + self.item_bias.weight.T
