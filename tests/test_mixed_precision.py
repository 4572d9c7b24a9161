"""``mixed_precision``: which passes run in bfloat16, which layers stay in float32, and the key's values (bad values
at the launcher: ``tests/test_hostile_siblings.py``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from test_amp_agent import _runner, _started_agent
from torch import nn

from isaacgymenvs.learning.precision import (
    FullPrecisionLinear,
    bf16_matmul_native,
    keep_in_full_precision,
    network_autocast,
    resolve_mixed_precision,
)


def test_the_key_resolves_per_device() -> None:
    assert resolve_mixed_precision(True, "cpu") is True
    assert resolve_mixed_precision(False, "cpu") is False
    assert resolve_mixed_precision("auto", "cpu") is bf16_matmul_native("cpu")
    assert bf16_matmul_native("meta") is False
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="true, false or auto"):
            resolve_mixed_precision(bad, "cpu")


@pytest.mark.parametrize("native", [True, False])
def test_the_launcher_says_when_the_networks_leave_float32(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    from isaacgymenvs.learning import precision

    monkeypatch.setattr(precision, "bf16_matmul_native", lambda device: native)
    auto = precision.precision_note("auto", "cpu")
    forced = precision.precision_note(True, "cpu")
    assert precision.precision_note(False, "cpu") is None
    if native:
        assert "bfloat16 on this CPU's AMX units" in auto and forced is None
    else:
        assert auto is None and "emulated, it can be several times slower" in forced


def test_a_full_precision_layer_ignores_autocast() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(64, 8)
    reference = nn.Linear(64, 8)
    reference.load_state_dict(layer.state_dict())
    parameters = [id(p) for p in layer.parameters()]
    keep_in_full_precision(layer)
    assert isinstance(layer, FullPrecisionLinear) and [id(p) for p in layer.parameters()] == parameters
    assert list(layer.state_dict()) == ["weight", "bias"]
    x = torch.randn(32, 64)
    with network_autocast("cpu", True):
        assert reference(x).dtype == torch.bfloat16  # what the layer would do without the guard
        out = layer(x.bfloat16())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference(x.bfloat16().float()))
    with pytest.raises(TypeError, match=r"nn\.Linear"):
        keep_in_full_precision(nn.Conv1d(1, 1, 1))


def _record_dtypes(agent) -> dict[str, list[torch.dtype]]:
    """Output dtypes of the first hidden layer of each network and of the output layers, per call."""
    network = agent.model.a2c_network
    layers = {
        "actor": network.actor_mlp[0],
        "critic": network.critic_mlp[0],
        "disc": network._disc_mlp[0],
        "mu": network.mu,
        "value": network.value,
        "logit": network._disc_logits,
    }
    seen: dict[str, list[torch.dtype]] = {name: [] for name in layers}
    for name, layer in layers.items():
        layer.register_forward_hook(lambda _m, _i, out, name=name: seen[name].append(out.dtype))
    return seen


@pytest.mark.parametrize("mixed", [True, False])
def test_every_network_pass_follows_the_key(tmp_path: Path, mixed: bool) -> None:
    """Rollout (actions, values), discriminator rewards and the update all run their hidden layers in bfloat16 under
    ``mixed_precision``, float32 without; the output layers are float32 either way, and training still learns."""
    runner, _ = _runner(tmp_path, mixed_precision=mixed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent = _started_agent(runner)
    # rl_games' base is built without it (it would build a CUDA loss scaler, which warns on a CPU).
    assert agent.mixed_precision is mixed and not [w for w in caught if "GradScaler" in str(w.message)]
    seen = _record_dtypes(agent)
    with torch.no_grad():
        played = agent.get_action_values(agent.obs)
    assert {played[key].dtype for key in ("mus", "values", "neglogpacs", "actions")} == {torch.float32}
    for _ in range(3):
        info = agent.train_epoch()
    hidden = torch.bfloat16 if mixed else torch.float32
    for name in ("actor", "critic", "disc"):
        assert seen[name] and set(seen[name]) == {hidden}, name
    for name in ("mu", "value", "logit"):
        assert seen[name] and set(seen[name]) == {torch.float32}, name
    assert all(torch.isfinite(torch.stack(info[key])).all() for key in ("actor_loss", "critic_loss", "disc_loss"))
    # The fake demonstrations sit at +1 and the agent's samples at 0: the discriminator must still tell them apart.
    assert torch.stack(info["disc_demo_acc"]).mean() > 0.9


def test_the_precision_benchmark_measures_small_bounded_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench precision`` on fresh networks and on a checkpoint: bfloat16 moves the action means by a small fraction of
    the exploration noise, and PPO's probability ratios by much less than its clip; bad input is one line."""
    from isaacgymenvs.bench import precision

    network, obs_size, amp_size, _ = precision.build_networks(None, seed=0)
    results = precision.measure(network, obs_size, amp_size, rows=512, seed=0)
    assert 0 < results["mu_rms"] / results["sigma"] < 0.05
    assert 0 < results["log_ratio_std"] < 0.2 and results["beyond_clip"] < 0.01
    assert 0 < results["logit_rms"] < 0.1 and 0 < results["value_rms"] < 0.1
    # A checkpoint's own sizes are read from its weights.
    torch.save({"model": {f"a2c_network.{k}": v for k, v in network.state_dict().items()}}, tmp_path / "x.pth")
    assert precision.main(["--checkpoint", str(tmp_path / "x.pth"), "--rows", "64"]) == 0
    printed = capsys.readouterr().out
    assert "checkpoint" in printed and "probability ratio moved by more than PPO's clip 0.2" in printed
    (tmp_path / "bad.pth").write_text("not a checkpoint")
    assert precision.main(["--checkpoint", str(tmp_path / "bad.pth")]) == 1
    assert precision.main(["--rows", "2"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("error: ") for line in errors)
