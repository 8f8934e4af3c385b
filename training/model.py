"""The networks and the classical part of a served forecaster, as plain TorchScript-able `nn.Module`s.

`CNNLSTM` is the network: Conv1d → LSTM → linear head over a scaled window. `WeeklyProfileES` is
the classical forecast it is blended with: a weekly profile times an exponentially smoothed level,
computed from the request's window; `TSBForecast` is the classical forecast chosen instead for
intermittent demand (probability of a sale × its size), `ThetaForecast` the one chosen instead for
trending series (the Theta method). `training/forecaster.py` puts them together; nothing here needs
Lightning.

Each classical part takes the weekday of the day it forecasts when the request's date is known
(`weekday` [B], Monday 0, `WEEKDAY_UNKNOWN` where not): its weekly profile is then read at that
weekday. Without it the profile is aligned to the window (`next_phase`): on noisy series eight weeks
of days often match a rotation a day off.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

WEEK = 7
WEEKDAY_UNKNOWN = -1
"""`weekday` of a row whose date is not known (and `first_weekday` of a part fitted without dates)."""
CLOSED_PROFILE = 0.05
"""A weekday whose profile is below this share of the mean is a closed day (left out of the level)."""
SOLD_SHARE = 1e-4
"""With `since_first_sale`, a window day counts as sold when it exceeds this share of the window's
largest day: the window reaches the model rebuilt from its scaled form, so a true 0 comes back as
float32 rounding noise, never exactly 0."""


class CNNLSTM(nn.Module):
    """Next-day forecaster over a window of scaled daily sales.

    A Conv1d layer extracts local temporal patterns from the window (with kernel and stride 7: one
    feature vector per week), an LSTM reads the resulting feature sequence in time order, and a
    linear head regresses the next day from the LSTM's last hidden state.

    Args:
        window_size (int): N, the days of history in each input window (`x` is `[B, N]`).
        conv_channels (int): output channels of the Conv1d layer (feature maps per step).
        kernel_size (int): width of the Conv1d kernel in days; at most `window_size`.
        lstm_hidden (int): hidden size of the LSTM.
        lstm_layers (int): number of stacked LSTM layers.
        dropout (float): dropout in [0, 1) before the linear head and between stacked LSTM layers.
        stride (int): step of the Conv1d kernel in days (1: every day; 7 with kernel 7: weekly patches).

    Shapes: `forward(x: [B, N] float32) -> [B] float32`, both in scaled units. No argument has a
    default here: the service's values have one home, `model:` in configs/default.yaml.
    """

    def __init__(
        self,
        window_size: int,
        *,
        conv_channels: int,
        kernel_size: int,
        lstm_hidden: int,
        lstm_layers: int,
        dropout: float,
        stride: int,
    ) -> None:
        super().__init__()
        if not 1 <= kernel_size <= window_size:
            raise ValueError(
                f"kernel_size must be between 1 and window_size ({window_size}), got {kernel_size}"
            )
        if not 1 <= stride <= kernel_size:
            raise ValueError(f"stride must be between 1 and kernel_size ({kernel_size}), got {stride}")
        self.window_size = window_size
        padding = kernel_size // 2 if stride == 1 else 0
        self.conv = nn.Conv1d(1, conv_channels, kernel_size=kernel_size, stride=stride, padding=padding)
        self.activation = nn.ReLU()
        self.lstm = nn.LSTM(
            input_size=conv_channels,
            hidden_size=lstm_hidden,
            num_layers=lstm_layers,
            batch_first=True,
            dropout=dropout if lstm_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(lstm_hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        features = self.activation(self.conv(x.unsqueeze(1)))  # [B, C, N']
        sequence, _ = self.lstm(features.transpose(1, 2))  # [B, N', H]
        last = self.dropout(sequence[:, -1, :])
        out: Tensor = self.head(last)
        return out.squeeze(-1)


class WeeklyProfileES(nn.Module):
    """Weekly profile × exponentially smoothed level, from the request's window only.

    `profile` (7 values, mean 1) was estimated on the training days and pulled toward flat by
    `shrink`; a window's weekday phase is the rotation of the profile that matches it best, so no
    date is needed. The level is the exponentially weighted mean (smoothing `alpha`) of the window
    divided by its profile, skipping closed days, pulled toward the training days' mean level `anchor`
    by `anchor_weight`: on sparse, stationary series a window's own level is mostly noise and the
    long-run level is the better guess (what AutoETS does with a tiny alpha); on shifting series the
    fit chooses weight 0. Output: level × the profile of the next day.

    With `since_first_sale` (a category launched less than a window ago, `make_short_windows`) the
    level skips the window's days before its first sale too: they are zeros that stand for "not
    sold yet", and would drag the level of a product that has just started selling. The window
    itself says where the sales start, so the same module serves next week's longer history.
    `first_weekday` is the weekday of the profile's first index (`next_phase`).
    """

    def __init__(
        self,
        profile: Tensor,
        alpha: float,
        window_size: int,
        shrink: float = 1.0,
        anchor: float = 0.0,
        anchor_weight: float = 0.0,
        since_first_sale: bool = False,
        first_weekday: int = WEEKDAY_UNKNOWN,
    ) -> None:
        super().__init__()
        # plain tensor attributes: TorchScript saves them with the module (CPU only, nothing to train)
        self.profile, self.rotations, self.centered = profile_tables(profile, shrink, window_size)
        self.first_weekday = first_weekday
        self.decay = decay_weights(alpha, window_size)
        self.alpha = alpha
        self.shrink = shrink
        self.anchor = anchor
        self.anchor_weight = anchor_weight
        self.closed = CLOSED_PROFILE
        self.since_first_sale = since_first_sale
        self.sold_share = SOLD_SHARE

    def forward(self, x: Tensor, weekday: Tensor | None = None) -> Tensor:
        level, season = self.decompose(x, weekday)
        anchored = (1.0 - self.anchor_weight) * level + self.anchor_weight * self.anchor
        return anchored * season

    def decompose(self, x: Tensor, weekday: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The window's own level `[B]` and the next day's profile factor `[B]` (no anchor)."""
        phase, window_profile = self.align(x, weekday)
        level = self.smooth(x, window_profile, self.decay.unsqueeze(0)).squeeze(1)
        return level, self.profile[phase]

    def align(self, x: Tensor, weekday: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The next day's profile index `[B]` and the profile of each window day `[B, N]`."""
        phase = next_phase(x, self.centered, weekday, self.first_weekday)
        return phase, self.profile[self.rotations[phase]]

    def smooth(self, x: Tensor, window_profile: Tensor, decays: Tensor) -> Tensor:
        """`[B, A]`: each window's deseasonalized level under each row of `decays` `[A, N]` (one
        smoothing each), skipping closed days."""
        open_days = (window_profile > self.closed).float()
        if self.since_first_sale:
            sold = x.abs() > self.sold_share * x.abs().amax(dim=1, keepdim=True)
            open_days = open_days * (torch.cumsum(sold.float(), dim=1) > 0).float()
        deseasonalized = x / torch.clamp(window_profile, min=self.closed)
        totals = (open_days * deseasonalized) @ decays.t()
        return totals / torch.clamp(open_days @ decays.t(), min=1e-6)


class TSBForecast(nn.Module):
    """Teunter–Syntetos–Babai forecast of intermittent demand, from the request's window only.

    Two exponential smoothings over the window, oldest day first: the probability of a sale `p`
    (smoothing `alpha_p`, every day counts: 1 with a sale, 0 without) and the size of a sale `z`
    (smoothing `alpha_z`, only the days with a sale count). They start from the training days'
    `sale_share` and `sale_size` (their mean over the days with a sale), so a window without a sale
    still forecasts a decayed, not a zero, rate. Output: p × z × the next day's weekly profile factor
    (`profile` pulled toward flat by `shrink`, aligned to the window as in `WeeklyProfileES`; shrink 0
    is the plain TSB forecast). A day counts as a sale above `SOLD_SHARE` of `sale_size`: the window
    reaches the model rebuilt from its scaled form, so a true 0 comes back as float32 rounding noise.
    Days fed back (multi-day forecasts) count as small sales, as any value would. `weekday` and
    `first_weekday` as in `WeeklyProfileES`.
    """

    def __init__(
        self,
        profile: Tensor,
        alpha_p: float,
        alpha_z: float,
        window_size: int,
        shrink: float,
        sale_share: float,
        sale_size: float,
        first_weekday: int = WEEKDAY_UNKNOWN,
    ) -> None:
        super().__init__()
        self.profile, self.rotations, self.centered = profile_tables(profile, shrink, window_size)
        self.first_weekday = first_weekday
        self.p_weights = alpha_p * decay_weights(alpha_p, window_size)
        self.p_kept = (1.0 - alpha_p) ** window_size
        self.alpha_p = alpha_p
        self.alpha_z = alpha_z
        self.shrink = shrink
        self.sale_share = sale_share
        self.sale_size = sale_size
        self.sold_level = SOLD_SHARE * sale_size

    def forward(self, x: Tensor, weekday: Tensor | None = None) -> Tensor:
        sold = self.sold(x)
        p = self.occurrence(sold, torch.full_like(x[:, 0], self.sale_share))
        z = self.size(x, sold, torch.full_like(x[:, 0], self.sale_size))
        phase = next_phase(x, self.centered, weekday, self.first_weekday)
        return p * z * self.profile[phase]

    def sold(self, x: Tensor) -> Tensor:
        """`[B, N]`: 1 on the window's days with a sale, else 0."""
        return (x > self.sold_level).float()

    def occurrence(self, sold: Tensor, sale_share: Tensor) -> Tensor:
        """`[B]`: the smoothed probability of a sale after the window, started from `sale_share` `[B]`
        (the fit scores each window from the training days before it)."""
        return self.p_kept * sale_share + sold @ self.p_weights

    def size(self, x: Tensor, sold: Tensor, sale_size: Tensor) -> Tensor:
        """`[B]`: the smoothed size of a sale after the window's days with a sale, started from
        `sale_size` `[B]`."""
        sales = sold.sum(dim=1)
        later_sales = sales.unsqueeze(1) - torch.cumsum(sold, dim=1)  # sales after each day
        kept = 1.0 - self.alpha_z
        weights = sold * self.alpha_z * torch.pow(torch.full_like(x, kept), later_sales)
        return torch.pow(torch.full_like(sales, kept), sales) * sale_size + (weights * x).sum(dim=1)


class ThetaForecast(nn.Module):
    """The Theta method (Assimakopoulos & Nikolopoulos 2000, theta = 2) on the window divided by its
    weekly profile, from the request's window only.

    The window is deseasonalized multiplicatively as in `WeeklyProfileES` (`profile` pulled toward
    flat by `shrink`, aligned to the window's weekday phase; closed days left out). Theta averages the
    theta = 0 line (the least-squares trend, extrapolated one day) with the exponentially smoothed
    theta = 2 line (twice the days minus that trend): Hyndman & Billah (2003, "Unmasking the Theta
    method", IJF 19(2)) showed this is smoothing with half the trend as drift, ℓ + b/2 · D, with `b` the
    trend's slope per day and D = N − the smoother's weighted mean of the day positions 0..N−1; for
    SES started from the first day D = 1/α − (1 − α)^N/α, their one-step term (statsforecast's `Theta`).
    The smoother here is `WeeklyProfileES`'s (the decay-weighted mean: SES with smoothing `alpha`
    started from that mean, so alpha 0 is the window's mean, not its first day), D follows from its
    weights. Output: (ℓ + b/2 · D) × the next day's profile factor; a falling trend may go below 0
    (the handler clamps it where sales never are). `weekday` and `first_weekday` as in
    `WeeklyProfileES`.
    """

    def __init__(
        self,
        profile: Tensor,
        alpha: float,
        window_size: int,
        shrink: float,
        first_weekday: int = WEEKDAY_UNKNOWN,
    ) -> None:
        super().__init__()
        self.profile, self.rotations, self.centered = profile_tables(profile, shrink, window_size)
        self.first_weekday = first_weekday
        self.decay = decay_weights(alpha, window_size)
        self.positions = torch.arange(window_size).float()
        self.window_size = window_size
        self.alpha = alpha
        self.shrink = shrink
        self.closed = CLOSED_PROFILE

    def forward(self, x: Tensor, weekday: Tensor | None = None) -> Tensor:
        phase, deseasonalized, open_days = self.deseasonalize(x, weekday)
        level, drift = self.smooth(deseasonalized, open_days, self.decay.unsqueeze(0))
        forecast = level.squeeze(1) + 0.5 * self.slope(deseasonalized, open_days) * drift.squeeze(1)
        return forecast * self.profile[phase]

    def deseasonalize(self, x: Tensor, weekday: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The next day's profile index `[B]`, the window divided by its profile `[B, N]` and its open
        days (1, else 0) `[B, N]`."""
        phase = next_phase(x, self.centered, weekday, self.first_weekday)
        window_profile = self.profile[self.rotations[phase]]
        open_days = (window_profile > self.closed).float()
        return phase, x / torch.clamp(window_profile, min=self.closed), open_days

    def smooth(self, deseasonalized: Tensor, open_days: Tensor, decays: Tensor) -> tuple[Tensor, Tensor]:
        """`[B, A]` each: the smoothed level under each row of `decays` `[A, N]` and its drift factor
        D (days from the weighted mean position to the next day), over the open days."""
        weights = torch.clamp(open_days @ decays.t(), min=1e-6)
        level = (open_days * deseasonalized) @ decays.t() / weights
        centre = (open_days * self.positions) @ decays.t() / weights
        return level, self.window_size - centre

    def slope(self, deseasonalized: Tensor, open_days: Tensor) -> Tensor:
        """`[B]`: the least-squares slope per day of the open days' deseasonalized values."""
        count = torch.clamp(open_days.sum(dim=1, keepdim=True), min=1.0)
        time = self.positions - (open_days * self.positions).sum(dim=1, keepdim=True) / count
        time = open_days * time
        spread = torch.clamp((time * time).sum(dim=1), min=1e-6)
        return (time * deseasonalized).sum(dim=1) / spread


def next_phase(x: Tensor, centered: Tensor, weekday: Tensor | None, first_weekday: int) -> Tensor:
    """`[B]` the profile index of the day after each window `x` `[B, N]`: from its `weekday` where
    both it and the profile's `first_weekday` are known, else the rotation of the profile the window's
    days match best (`centered`, `profile_tables`)."""
    detected = torch.argmax(x @ centered.t(), dim=1)
    if weekday is None or first_weekday < 0:  # WEEKDAY_UNKNOWN (TorchScript reads no globals here)
        return detected
    week = centered.shape[0]  # one rotation per weekday
    return torch.where(weekday >= 0, torch.remainder(weekday - first_weekday, week), detected)


def profile_tables(profile: Tensor, shrink: float, window_size: int) -> tuple[Tensor, Tensor, Tensor]:
    """The weekly `profile` pulled toward flat by `shrink` `[7]`, the profile index of each window day
    for each index of the next day `[7, N]`, and each such rotation centred `[7, N]` (a window's phase
    is the rotation its days correlate with best)."""
    flattened = 1.0 + shrink * (profile.double().reshape(WEEK) - 1.0)
    positions = torch.arange(window_size)
    # rotations[k, j]: the profile index of window day j when the next day has index k
    rotations = torch.remainder(torch.arange(WEEK).unsqueeze(1) - window_size + positions.unsqueeze(0), WEEK)
    return flattened.float(), rotations, (flattened[rotations] - flattened.mean()).float()


def decay_weights(alpha: float, window_size: int) -> Tensor:
    """`[N]` exponential-smoothing weights of the window's days, oldest first (the newest weighs 1)."""
    positions = torch.arange(window_size)
    return ((1.0 - alpha) ** (window_size - 1 - positions).double()).float()
