"""setup() makes a lesson reproducible and offline, and says what it runs on; the machine's
instruction sets and matrix-product ceilings say what it can do."""

import os
import time

import pytest
import torch

from course_utils import get_profile, resolve_model, session, setup
from course_utils.profiles import PROFILES
from course_utils.session import COLAB_GPU_HINT, pick_device


def test_setup_with_the_same_seed_gives_the_same_random_numbers():
    setup(seed=3, verbose=False)
    first = torch.rand(3)
    setup(seed=3, verbose=False)
    assert torch.equal(first, torch.rand(3))
    setup(seed=4, verbose=False)
    assert not torch.equal(first, torch.rand(3))


def test_setup_sets_the_thread_count_and_offline_variables(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = torch.get_num_threads()
    try:
        setup(threads=1, verbose=False)
        assert torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert os.environ["HF_HUB_OFFLINE"] == "1"
    finally:
        torch.set_num_threads(before)


def test_setup_prints_versions_profile_and_device(capsys):
    device = setup(profile="offline", threads=1, seed=0)
    line = capsys.readouterr().out
    assert device.type == "cpu"
    assert (f"torch {torch.__version__}" in line and "profile offline" in line
            and "device cpu" in line)


def test_colab_without_gpu_gets_the_menu_to_click(monkeypatch, capsys):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    setup(profile="full", threads=1)
    assert COLAB_GPU_HINT in capsys.readouterr().out
    assert "Change runtime type" in COLAB_GPU_HINT


def test_auto_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    assert pick_device("cpu").type == "cpu"


def test_unknown_profile_names_the_valid_ones():
    with pytest.raises(ValueError, match="offline, full"):
        get_profile("fast")


def test_offline_profile_uses_only_cached_assets(minilm_dir):
    offline = PROFILES["offline"]
    assert offline.offline and offline.device == "cpu"
    assert resolve_model(offline.encoder) == str(minilm_dir)
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"


def test_full_profile_names_the_source_lessons_models():
    full = PROFILES["full"]
    assert (full.encoder, full.cased_encoder, full.classifier_model) == (
        "bert-base-uncased", "bert-base-cased", "distilbert-base-uncased")
    assert full.device == "auto" and not full.offline


XEON_AMX = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni avx_vnni \
avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_vnni avx_vnni avx512_bf16 amx_bf16 amx_int8
"""
EPYC_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 fma f16c bmi2
"""


def test_cpu_features_of_an_amx_xeon_and_bf16_pays_there():
    features = session.cpu_features(XEON_AMX)
    assert features["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert all(features[name] for name in session.CPU_FLAGS)
    pays, why = session.bf16_pays(features)
    assert pays and "AMX-BF16" in why


def test_cpu_features_of_an_avx2_epyc_and_bf16_does_not_pay():
    features = session.cpu_features(EPYC_AVX2)
    assert features["model"] == "AMD EPYC" and features["avx2"]
    assert not any(features[name] for name in session.CPU_FLAGS if name != "avx2")
    assert session.bf16_pays(features) == (False, "no AVX512-BF16 or AMX-BF16")
    assert session.bf16_pays(features | {"avx512_bf16": True})[0]


def test_cpu_features_without_proc_cpuinfo_ask_torch(monkeypatch, tmp_path):
    monkeypatch.setattr(session, "CPUINFO", tmp_path / "no-cpuinfo")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(session.platform, "processor", lambda: "arm")
    features = session.cpu_features()
    assert features["model"] == "arm" and "AVX512" in features["source"]
    assert features["avx2"] and features["avx512f"] and not features["amx_bf16"]
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    assert not any(session.cpu_features()[name] for name in session.CPU_FLAGS)


def test_matmul_ceilings_are_positive_and_bounded_in_time():
    start = time.perf_counter()
    ceilings = session.matmul_ceilings(seconds=0.2, size=256)
    assert time.perf_counter() - start < 2.0
    assert ceilings["fp32_gflops"] > 0 and ceilings["bf16_gflops"] > 0
    assert 64 <= min(ceilings["fp32_size"], ceilings["bf16_size"]) <= 256
    assert max(ceilings["fp32_size"], ceilings["bf16_size"]) <= 256
    assert ceilings["threads"] == torch.get_num_threads()


def test_machine_report_is_one_line_with_sets_ceilings_and_bf16_s_case():
    ceilings = {"threads": 2, "fp32_gflops": 95.2, "bf16_gflops": 21.4}
    line = session.machine_report(session.cpu_features(EPYC_AVX2), ceilings)
    assert line == ("AMD EPYC, 2 threads: AVX2 yes, AVX512 no, VNNI no, AVX512-BF16 no, AMX no; "
                    "fp32 ceiling 95 GFLOP/s, bf16 21 GFLOP/s "
                    "(bf16 slower: no AVX512-BF16 or AMX-BF16)")
    amx = session.machine_report(session.cpu_features(XEON_AMX),
                                 ceilings | {"bf16_gflops": 400.0})
    assert "AMX yes" in amx and "(bf16 faster: AMX-BF16" in amx and "\n" not in amx
