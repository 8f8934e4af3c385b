"""TorchScript export: networks frozen into many forecasters are scripted once, never served stale."""

from __future__ import annotations

from pathlib import Path

import torch

from handlers.forecast_steps import load_model
from training.export import export_torchscript
from training.forecaster import WindowForecaster
from training.model import CNNLSTM, WeeklyProfileES

WINDOW = 14


def _networks() -> list[CNNLSTM]:
    torch.manual_seed(5)
    return [
        CNNLSTM(WINDOW, conv_channels=4, kernel_size=7, lstm_hidden=8, lstm_layers=1, dropout=0.1, stride=7)
        for _ in range(2)
    ]


def _forecaster(networks: list[CNNLSTM], classical_weight: float = 0.5) -> WindowForecaster:
    profile = torch.tensor([1.0, 1.1, 0.9, 1.0, 1.2, 0.8, 1.0])
    classical = WeeklyProfileES(profile / profile.mean(), 0.3, WINDOW)
    return WindowForecaster(networks, classical, classical_weight, 100.0, 30.0, True).eval()


def _outputs(model: torch.nn.Module) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(6, WINDOW, generator=generator)
    level, unit = torch.full((6,), 100.0), torch.full((6,), 30.0)
    with torch.inference_mode():
        output: torch.Tensor = model(z, level, unit)
    return output


def test_forecasters_sharing_networks_each_export_as_they_run(tmp_path: Path) -> None:
    networks = _networks()
    for number, weight in enumerate((0.2, 0.5, 0.8)):  # the same networks, a different blend each
        forecaster = _forecaster(networks, weight)
        export_torchscript(forecaster, tmp_path / f"{number}.pt")
        torch.testing.assert_close(_outputs(load_model(tmp_path / f"{number}.pt")), _outputs(forecaster))
    first, last = (_outputs(load_model(tmp_path / name)) for name in ("0.pt", "2.pt"))
    assert not torch.allclose(first, last)


def test_a_network_changed_since_an_export_is_exported_as_it_is_now(tmp_path: Path) -> None:
    networks = _networks()
    export_torchscript(_forecaster(networks), tmp_path / "before.pt")
    with torch.no_grad():
        networks[0].head.bias.add_(0.5)  # an optimizer step changes the weights in place
    networks[1].load_state_dict(_networks()[0].state_dict())
    changed = _forecaster(networks)
    export_torchscript(changed, tmp_path / "after.pt")
    after = _outputs(load_model(tmp_path / "after.pt"))
    torch.testing.assert_close(after, _outputs(changed))
    assert not torch.allclose(after, _outputs(load_model(tmp_path / "before.pt")))


def test_exporting_leaves_the_networks_as_they_were(tmp_path: Path) -> None:
    networks = _networks()
    networks[0].train()
    before = [dict(network.state_dict()) for network in networks]
    export_torchscript(_forecaster(networks).train(), tmp_path / "model.pt")
    assert not load_model(tmp_path / "model.pt").training
    for network, state in zip(networks, before, strict=True):
        assert network.training  # the export scripts an eval-mode copy, not the network itself
        assert not isinstance(network, torch.jit.ScriptModule)
        for name, tensor in network.state_dict().items():
            assert torch.equal(tensor, state[name])
