"""GRU4Rec with NARM's attention over the session's last K GRU states (Li et al., CIKM 2017).

A session's state is its last K hidden states, newest last, flattened to (b, K * H); empty
slots are zero. Each step moves the newest by the weighted GRU step and pushes it. NARM's
local encoder scores every kept state h_j by e_j = v . sigmoid(A1 h_t + A2 h_j); here the
scores are a softmax over the filled slots, so the context sum_j a_j h_j stays inside the
GRU's (-1, 1) like the state itself. NARM's bilinear decoder B [h_t; context] was tried
first and diverged under GRU4Rec's Adagrad (lr 0.05 per element of a dense 2H x H matrix,
unbounded scores: loss 1.7e6 within a third of an epoch). So a learned gate mixes the
context into the query instead, q = h_t + g * (context - h_t), g = sigmoid(G [h_t; context]
+ b), which keeps the query bounded and the tied item embeddings' inner-product scoring.
The gate starts almost shut (b = -4, g = 0.02): attention has to earn its place.
"""

import torch
from torch import nn

from models.gru4rec import GRU4Rec

GATE_START = -4.0  # the gate's initial bias: 2% of the context in the query
EMPTY = -1e9  # the attention score of an empty slot: exp() of it is exactly 0 in float32


class AttentiveGRU4Rec(GRU4Rec):
    def __init__(
        self,
        n_items: int,
        hidden_size: int,
        window: int,
        dropout_embed: float = 0.0,
        dropout_hidden: float = 0.0,
    ) -> None:
        super().__init__(n_items, hidden_size, dropout_embed, dropout_hidden)
        self.window = window
        self.attend_last = nn.Linear(hidden_size, hidden_size, bias=False)  # A1
        self.attend_each = nn.Linear(hidden_size, hidden_size, bias=False)  # A2
        self.attention = nn.Linear(hidden_size, 1, bias=False)  # v
        self.gate = nn.Linear(2 * hidden_size, hidden_size)  # G, b
        with torch.no_grad():
            self.gate.weight.zero_()
            self.gate.bias.fill_(GATE_START)

    @property
    def state_size(self) -> int:
        return self.window * self.hidden_size

    def _memory(self, state: torch.Tensor) -> torch.Tensor:
        return state.view(state.shape[0], self.window, self.hidden_size)

    def last_hidden(self, state: torch.Tensor) -> torch.Tensor:
        return self._memory(state)[:, -1]

    def push(self, state: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        kept = self._memory(state)[:, 1:]
        return torch.cat([kept, hidden.unsqueeze(1)], dim=1).flatten(1)

    def query(self, state: torch.Tensor) -> torch.Tensor:
        memory = self._memory(state)  # (b, K, H)
        last = memory[:, -1]
        filled = (memory != 0).any(dim=2, keepdim=True)  # (b, K, 1): slots the session reached
        energy = torch.sigmoid(self.attend_last(last).unsqueeze(1) + self.attend_each(memory))
        scores = self.attention(energy).masked_fill(~filled, EMPTY)  # (b, K, 1)
        context = (torch.softmax(scores, dim=1) * memory).sum(dim=1)
        mix = torch.sigmoid(self.gate(torch.cat([last, context], dim=1)))
        return last + mix * (context - last)
