"""The CNN-LSTM network: a plain `nn.Module`, so TorchScript export needs nothing from Lightning."""

from __future__ import annotations

from torch import Tensor, nn


class CNNLSTM(nn.Module):
    """Next-day forecaster over a window of normalized daily sales.

    A Conv1d layer extracts local temporal patterns (weekday shapes, short bursts) from the window,
    an LSTM reads the resulting feature sequence in time order, and a linear head regresses the
    next day from the LSTM's last hidden state.

    Args:
        window_size (int): N, the days of history in each input window (`x` is `[B, N]`).
        conv_channels (int): output channels of the Conv1d layer (feature maps per day).
        kernel_size (int): width of the Conv1d kernel in days; at most `window_size`.
        lstm_hidden (int): hidden size of the LSTM.
        lstm_layers (int): number of stacked LSTM layers.
        dropout (float): dropout in [0, 1) before the linear head and between stacked LSTM layers.

    Shapes: `forward(x: [B, N] float32) -> [B] float32`, both in normalized units
    (`(sales - mean) / std` with the training segment's stats).
    """

    def __init__(
        self,
        window_size: int,
        conv_channels: int = 32,
        kernel_size: int = 3,
        lstm_hidden: int = 64,
        lstm_layers: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not 1 <= kernel_size <= window_size:
            raise ValueError(
                f"kernel_size must be between 1 and window_size ({window_size}), got {kernel_size}"
            )
        self.window_size = window_size
        self.conv = nn.Conv1d(1, conv_channels, kernel_size=kernel_size, padding=kernel_size // 2)
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
