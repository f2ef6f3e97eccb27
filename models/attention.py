"""GRU4Rec with NARM's attention over the session's last K GRU states (Li et al., CIKM 2017).

A session's state is its last K hidden states, newest last, flattened to (b, K * H); empty
slots are zero. Each step moves the newest by the weighted GRU step and pushes it. NARM's
local encoder weighs every kept state h_j by a_j = v . sigmoid(A1 h_t + A2 h_j), with no
softmax, and the query scored against the tied item embeddings is B [h_t; sum_j a_j h_j].
B starts as [I 0], so the model starts as the plain GRU and attention has to earn its
place; a per-swipe state of K states is what a serving store could keep.
"""

import torch
from torch import nn

from models.gru4rec import GRU4Rec


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
        self.combine = nn.Linear(2 * hidden_size, hidden_size, bias=False)  # B
        with torch.no_grad():
            self.combine.weight.zero_()
            self.combine.weight[:, :hidden_size].copy_(torch.eye(hidden_size))

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
        weights = self.attention(energy) * filled  # (b, K, 1)
        context = (weights * memory).sum(dim=1)
        query: torch.Tensor = self.combine(torch.cat([last, context], dim=1))
        return query
