"""A small LSTM that forecasts what Prophet misses: given the last 48 h of Prophet's residuals
(hourly means, with the hour of day) it predicts the residual of each of the next 72 h of
15-minute steps. Multi-day weather spells and level shifts show up as autocorrelated residuals
that a smooth seasonal model cannot see."""

import io

import numpy as np
import torch
from torch import nn

LOOKBACK_STEPS = 192  # 48 h of 15-minute steps
MAX_HORIZON = 288  # 72 h


class ResidualNet(nn.Module):
    def __init__(self, hidden: int = 24):
        super().__init__()
        self.lstm = nn.LSTM(input_size=3, hidden_size=hidden, batch_first=True)
        self.head = nn.Linear(hidden, MAX_HORIZON)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


def _inputs(residuals: np.ndarray, hours_utc: np.ndarray) -> np.ndarray:
    """(n, 48, 3): hourly mean residual and the hour's sin/cos, from (n, 192) windows."""
    hourly = residuals.reshape(len(residuals), -1, 4).mean(axis=2)
    angle = 2 * np.pi * hours_utc.reshape(len(hours_utc), -1, 4)[:, :, 0] / 24.0
    return np.stack([hourly, np.sin(angle), np.cos(angle)], axis=2).astype(np.float32)


class ResidualModel:
    def __init__(self, net: ResidualNet, scale: float):
        self.net = net
        self.scale = scale

    @staticmethod
    def fit(residuals: np.ndarray, hours_utc: np.ndarray, epochs: int = 30, seed: int = 0) -> "ResidualModel":
        torch.manual_seed(seed)
        torch.set_num_threads(1)  # tiny batches: threads only add contention on a 2-core box
        scale = float(np.std(residuals)) or 1.0
        r = residuals / scale
        origins = np.arange(LOOKBACK_STEPS, len(r) - 96 + 1, 4)  # at least a day ahead to learn from
        net = ResidualNet()
        if len(origins) < 8:
            return ResidualModel(net.eval(), scale)
        x = _inputs(np.stack([r[o - LOOKBACK_STEPS:o] for o in origins]),
                    np.stack([hours_utc[o - LOOKBACK_STEPS:o] for o in origins]))
        # Targets past the end of the series are masked out of the loss.
        y = np.zeros((len(origins), MAX_HORIZON), np.float32)
        mask = np.zeros_like(y)
        for i, o in enumerate(origins):
            seg = r[o:o + MAX_HORIZON]
            y[i, :len(seg)], mask[i, :len(seg)] = seg, 1.0
        x, y, mask = map(torch.from_numpy, (x, y, mask))
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
        for _ in range(epochs):
            for idx in torch.randperm(len(x)).split(64):
                opt.zero_grad()
                loss = (((net(x[idx]) - y[idx]) ** 2) * mask[idx]).sum() / mask[idx].sum()
                loss.backward()
                opt.step()
        return ResidualModel(net.eval(), scale)

    def predict(self, recent_residuals: np.ndarray, recent_hours_utc: np.ndarray, steps: int) -> np.ndarray:
        """Residual forecast (MW) for `steps` steps after a 192-step window."""
        x = torch.from_numpy(_inputs(recent_residuals[None] / self.scale, recent_hours_utc[None]))
        with torch.no_grad():
            return self.net(x)[0, :steps].numpy().astype(float) * self.scale

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        torch.save({"state": self.net.state_dict(), "scale": self.scale}, buf)
        return buf.getvalue()

    @staticmethod
    def from_bytes(data: bytes) -> "ResidualModel":
        blob = torch.load(io.BytesIO(data), weights_only=True)
        net = ResidualNet()
        net.load_state_dict(blob["state"])
        return ResidualModel(net.eval(), float(blob["scale"]))
