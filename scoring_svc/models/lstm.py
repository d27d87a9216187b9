"""The sequence model: a small LSTM over a meter's last few readings, classifying the newest.

Small on purpose (one layer, 24 units): it has to answer in well under a millisecond
for one reading on one CPU thread. Its input is the engineered features of each step,
so it learns the temporal part (an episode that started two readings ago, a register
that stopped while current still flows) rather than raw scales.
"""

import torch
from torch import nn


class ReadingSequenceClassifier(nn.Module):
    def __init__(self, n_inputs: int, n_classes: int, hidden: int = 24):
        super().__init__()
        self.lstm = nn.LSTM(n_inputs, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden + n_inputs, 32), nn.ReLU(), nn.Linear(32, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, steps, n_inputs) -> class logits (batch, n_classes) for the last step."""
        out, _ = self.lstm(x)
        # The newest step's own features go to the head directly: the LSTM adds context.
        return self.head(torch.cat([out[:, -1], x[:, -1]], dim=1))
