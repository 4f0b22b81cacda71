"""Polar H10 protocol: SDK vectors, round trips, robustness against random bytes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.devices import polar_h10 as P

DATA = Path(__file__).resolve().parents[2] / "data" / "polar_pmd_vectors.json"
VECTORS = {v["name"]: v for v in json.loads(DATA.read_text())}


def test_uuids_are_lowercase_128_bit() -> None:
    # 16-bit UUIDs on the Bluetooth base UUID 00000000-0000-1000-8000-00805F9B34FB
    assert P.HR_SERVICE_UUID == "0000180d-0000-1000-8000-00805f9b34fb"
    assert P.HR_MEASUREMENT_UUID == "00002a37-0000-1000-8000-00805f9b34fb"
    assert P.BATTERY_LEVEL_UUID == "00002a19-0000-1000-8000-00805f9b34fb"
    for u in (P.PMD_SERVICE_UUID, P.PMD_CP_UUID, P.PMD_DATA_UUID):
        assert u == u.lower() and len(u) == 36 and u.endswith("-02e7-f387-1cad-8acd2d8df0c8")


def test_sdk_raw_acc_vector() -> None:
    v = VECTORS["acc_raw_type1_52Hz"]
    f = P.decode_pmd_frame(bytes.fromhex(v["hex"]))
    assert f.measurement_type == P.MeasurementType.ACC
    assert f.frame_type == 0x01
    assert f.timestamp_ns == v["expect"]["timestamp"]
    assert f.n == v["expect"]["n"]
    assert f.samples.dtype == np.int64
    assert_array_equal(f.samples, np.array(v["expect"]["samples_mG"]))


def test_sdk_delta_acc_vector() -> None:
    v = VECTORS["acc_delta_type1_0x81"]
    f = P.decode_pmd_frame(bytes.fromhex(v["hex"]), resolution_bits=16)
    assert f.frame_type == 0x81
    assert f.timestamp_ns == v["expect"]["timestamp"]
    assert_array_equal(f.samples, np.array(v["expect"]["raw"]))


def test_sdk_sample_times_first_frame() -> None:
    # The SDK's prev = 0 means "no previous frame": Δ = 1e9/fs, t0 = ts - Δ(n-1).
    v = VECTORS["acc_raw_type1_52Hz"]["expect"]
    got = P.sample_times_ns(v["timestamp"], v["n"], 52.0, None)
    assert got.tolist() == v["per_sample_ts_prev0_fs52"]


def test_sdk_sample_times_with_previous_frame() -> None:
    # prev = 100 is a real previous frame: Δ = 0.5 ns, t0 = 100.5 -> 100 (half to even).
    v = VECTORS["acc_delta_type1_0x81"]["expect"]
    got = P.sample_times_ns(v["timestamp"], 2, 52.0, 100)
    assert got.tolist() == v["per_sample_ts_prev100"]


def test_sample_times_half_to_even_and_last_is_ts() -> None:
    # Δ = 3/2: 1.5 -> 2, 3.0 -> 3 ... prev + k*1.5 rounded half to even
    got = P.sample_times_ns(1006, 4, 1.0, 1000)
    assert got.tolist() == [round(1000 + 1.5 * k) for k in range(1, 5)]
    assert got[-1] == 1006


@given(ts=st.integers(10**12, 2**62), n=st.integers(1, 80), span=st.integers(1, 10**9),
       fs=st.sampled_from([25.0, 50.0, 52.0, 100.0, 104.0, 200.0]))
def test_sample_times_properties(ts: int, n: int, span: int, fs: float) -> None:
    first = P.sample_times_ns(ts, n, fs, None)
    later = P.sample_times_ns(ts, n, fs, ts - span)
    assert first[-1] == ts and later[-1] == ts
    assert np.all(np.diff(first) > 0)
    assert np.all(np.diff(later) >= 0)
    assert later[0] >= ts - span


def test_sample_times_rejects_bad_arguments() -> None:
    with pytest.raises(InputError, match="n must be"):
        P.sample_times_ns(100, 0, 52.0, None)
    with pytest.raises(InputError, match="prev_timestamp_ns"):
        P.sample_times_ns(100, 2, 52.0, 100)
    with pytest.raises(InputError, match="fs_hz"):
        P.sample_times_ns(100, 2, 0.0, None)


samples_int16 = hnp.arrays(np.int64, st.tuples(st.integers(1, 40), st.just(3)),
                           elements=st.integers(-32768, 32767))


@pytest.mark.parametrize("ftype,bits", [(0x00, 8), (0x01, 16), (0x02, 24)])
@given(data=st.data(), ts=st.integers(0, 2**63 - 1))
def test_raw_round_trip(ftype: int, bits: int, data: st.DataObject, ts: int) -> None:
    lim = 1 << (bits - 1)
    x = data.draw(hnp.arrays(np.int64, st.tuples(st.integers(1, 40), st.just(3)),
                             elements=st.integers(-lim, lim - 1)))
    f = P.decode_pmd_frame(P.encode_acc_frame(ts, x, ftype))
    assert (f.timestamp_ns, f.frame_type, f.measurement_type) == (ts, ftype, 2)
    assert_array_equal(f.samples, x)


@given(data=st.data(), res=st.integers(2, 24), ftype=st.sampled_from([0x80, 0x81]))
def test_delta_round_trip_random_widths_and_blocks(data: st.DataObject, res: int,
                                                   ftype: int) -> None:
    lim = 1 << (res - 1)
    x = data.draw(hnp.arrays(np.int64, st.tuples(st.integers(1, 60), st.just(3)),
                             elements=st.integers(-lim, lim - 1)))
    # random partition of the n-1 deltas into blocks -> blocks of different widths
    n_d = x.shape[0] - 1
    cuts = sorted(data.draw(st.sets(st.integers(1, max(n_d - 1, 1)), max_size=5))) if n_d else []
    cuts = [c for c in cuts if 0 < c < n_d]
    bounds = [0, *cuts, n_d]
    blocks = [b - a for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    frame = P.encode_delta_acc_frame(123, x, frame_type=ftype, resolution_bits=res,
                                     block_lengths=blocks)
    f = P.decode_pmd_frame(frame, resolution_bits=res)
    assert f.frame_type == ftype
    assert_array_equal(f.samples, x)


def test_delta_bitstream_not_byte_aligned_lsb_first() -> None:
    # width 5, 3 channels: 15 bits per sample, so samples straddle bytes.
    x = np.array([[0, 0, 0], [1, -1, 15], [-15, 3, 0], [-7, 9, -2]])
    frame = P.encode_delta_acc_frame(7, x, block_lengths=[3])
    payload = frame[10:]
    assert payload[6] == 5 and payload[7] == 3  # one block, w = 5, n = 3
    bits = np.unpackbits(np.frombuffer(payload[8:], np.uint8), bitorder="little")
    first = int(sum(int(b) << i for i, b in enumerate(bits[:5])))
    assert first == 1  # delta of channel 0, sample 1, in the lowest bits of byte 0
    assert_array_equal(P.decode_pmd_frame(frame).samples, x)


def test_zero_width_blocks_are_skipped_and_blocks_chain() -> None:
    x = np.array([[10, -10, 1000], [11, -12, 990], [200, -300, 1000]])
    frame = P.encode_delta_acc_frame(5, x, block_lengths=[1, 1])
    # insert a w=0 block (n=7) between the reference and the first block
    ref_end = 10 + 6
    patched = frame[:ref_end] + bytes([0, 7]) + frame[ref_end:]
    assert_array_equal(P.decode_pmd_frame(patched).samples, x)
    widths = [frame[ref_end], frame[ref_end + 2 + (frame[ref_end] * 3 + 7) // 8]]
    assert widths[0] < widths[1]  # two blocks of different widths


@pytest.mark.parametrize("hexstr,why", [
    ("", "too short"),
    ("02" + "00" * 8, "too short"),
    ("02" + "00" * 8 + "01", "no samples"),
    ("02" + "00" * 8 + "01" + "00" * 5, "not a multiple"),
    ("02" + "00" * 8 + "07" + "00" * 6, "unknown PMD frame type"),
    ("02" + "00" * 8 + "81" + "00" * 5, "reference sample"),
    ("02" + "00" * 8 + "81" + "00" * 6 + "08", "header truncated"),
    ("02" + "00" * 8 + "81" + "00" * 6 + "0802" + "00" * 5, "block truncated"),
    ("02" + "ff" * 8 + "01" + "00" * 6, "int64"),
])
def test_malformed_frames_raise_decode_error(hexstr: str, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        P.decode_pmd_frame(bytes.fromhex(hexstr))


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_decode_error(b: bytes) -> None:
    for fn in (P.decode_pmd_frame, P.decode_hr_measurement, P.parse_cp_response,
               P.parse_settings, P.parse_features):
        try:
            fn(b)
        except DecodeError:
            pass


@given(st.binary(min_size=1, max_size=300), st.sampled_from([0x80, 0x81, 0x00, 0x01, 0x02]))
def test_random_acc_payloads_raise_only_decode_error(body: bytes, ftype: int) -> None:
    frame = bytes([2]) + (10**15).to_bytes(8, "little") + bytes([ftype]) + body
    try:
        f = P.decode_pmd_frame(frame)
    except DecodeError:
        return
    assert f.samples.ndim == 2 and f.samples.shape[1] == 3


def test_encode_rejects_out_of_range() -> None:
    with pytest.raises(InputError, match="int8"):
        P.encode_acc_frame(0, np.array([[200, 0, 0]]), 0x00)
    with pytest.raises(InputError, match=r"shape \(n, 3\)"):
        P.encode_acc_frame(0, np.zeros((4, 2), dtype=int))
    with pytest.raises(InputError, match="frame_type"):
        P.encode_acc_frame(0, np.zeros((1, 3), dtype=int), 0x81)


# ------------------------------------------------------------------ heart rate

def test_hr_vectors_from_sdk() -> None:
    assert P.decode_hr_measurement(bytes.fromhex("00FF")).hr_bpm == 255
    assert P.decode_hr_measurement(bytes.fromhex("018080")).hr_bpm == 32896
    m = P.decode_hr_measurement(bytes.fromhex("110000FFFF7F80"))
    assert m.hr_bpm == 0
    assert m.rr_1024 == (65535, 32895)


def test_hr_flags_contact_and_energy() -> None:
    m = P.decode_hr_measurement(bytes([0x1E, 150, 0x10, 0x00, 0x00, 0x04]))
    assert m.contact_supported and m.contact_detected
    assert m.energy_expended_kj == 16
    assert m.rr_1024 == (1024,)
    assert m.rr_ms == (1000.0,)


@pytest.mark.parametrize("hexstr", ["", "00", "01", "0100", "08aa00", "10aa00", "11aa0001"])
def test_hr_malformed(hexstr: str) -> None:
    with pytest.raises(DecodeError):
        P.decode_hr_measurement(bytes.fromhex(hexstr))


@given(hr=st.integers(0, 65535), rr=st.lists(st.integers(0, 65535), max_size=8),
       cs=st.booleans(), cd=st.booleans(), ee=st.none() | st.integers(0, 65535))
def test_hr_round_trip(hr: int, rr: list[int], cs: bool, cd: bool, ee: int | None) -> None:
    m = P.HrMeasurement(hr, tuple(rr), cs, cd, ee)
    assert P.decode_hr_measurement(P.encode_hr_measurement(m)) == m


# ------------------------------------------------------------------ control point

def test_start_and_stop_commands() -> None:
    assert P.start_acc_command(200, 8).hex() == "02020001c80001011000020108 00".replace(" ", "")
    assert P.start_acc_command(25, 2)[4:6] == bytes.fromhex("1900")
    assert P.stop_acc_command() == bytes.fromhex("0302")
    assert P.get_settings_command() == bytes.fromhex("0102")
    with pytest.raises(InputError, match="rate_hz"):
        P.start_acc_command(52, 8)
    with pytest.raises(InputError, match="range_g"):
        P.start_acc_command(200, 16)


def test_cp_responses() -> None:
    r = P.parse_cp_response(bytes.fromhex(
        "F00102000000041900320064 00C8000101100002030200040008 00".replace(" ", "")))
    assert isinstance(r, P.CpResponse) and r.ok and r.opcode == P.CpOpcode.GET_SETTINGS
    settings = P.parse_settings(r.params)
    assert [(s.setting_type, s.values) for s in settings] == [
        (0, (25, 50, 100, 200)), (1, (16,)), (2, (2, 4, 8))]
    start = P.parse_cp_response(bytes.fromhex("F00202000001"))
    assert isinstance(start, P.CpResponse) and start.ok and start.params == b"\x01"
    start.raise_for_status()


def test_cp_error_status_is_named() -> None:
    r = P.parse_cp_response(bytes.fromhex("F002020800"))
    assert isinstance(r, P.CpResponse)
    assert not r.ok and r.status_name == "INVALID_SAMPLE_RATE"
    with pytest.raises(P.PmdControlPointError, match="INVALID_SAMPLE_RATE") as ei:
        r.raise_for_status()
    assert isinstance(ei.value, DecodeError) and ei.value.status == 8


def test_cp_streams_stopped_and_malformed() -> None:
    r = P.parse_cp_response(bytes.fromhex("010200"))
    assert r == P.CpStreamsStopped((2, 0))
    with pytest.raises(DecodeError, match="too short"):
        P.parse_cp_response(bytes.fromhex("F00102"))
    with pytest.raises(DecodeError, match="unknown PMD control point"):
        P.parse_cp_response(bytes.fromhex("0700"))


def test_features_bitmap() -> None:
    assert P.parse_features(bytes.fromhex("0F0500")) == {P.MeasurementType.ECG,
                                                         P.MeasurementType.ACC}


def test_start_response_factor_in_both_layouts() -> None:
    tlv = bytes([5, 1]) + struct.pack("<f", 0.5)
    assert P.start_response_factor(tlv) == 0.5
    assert P.start_response_factor(b"\x01" + tlv) == 0.5  # a leading byte before the TLVs
    assert P.start_response_factor(b"\x01") is None        # what a real H10 answered
    assert P.start_response_factor(b"") is None
    assert P.start_response_factor(bytes([5, 1]) + struct.pack("<f", float("nan"))) is None
    assert P.start_response_factor(bytes([0, 1, 200, 0])) is None  # settings, no factor


def test_decoder_applies_the_factor_of_the_start_response() -> None:
    from breathform.firmware_bridge.decode import SensorDecoder
    from breathform.model import ImuBlock, RawPacket

    mg = np.array([[100, -200, 1000]] * 36)
    frame = P.encode_acc_frame(7 * 10**17, mg)
    start = bytes.fromhex("f002020000") + bytes([5, 1]) + struct.pack("<f", 0.25)
    dec = SensorDecoder("chest", "polar_h10", 200.0)
    before = dec.feed(RawPacket(0.0, "chest", P.PMD_DATA_UUID, frame))
    dec.feed(RawPacket(0.1, "chest", P.PMD_CP_UUID, start))
    after = dec.feed(RawPacket(0.3, "chest", P.PMD_DATA_UUID,
                               P.encode_acc_frame(7 * 10**17 + 180_000_000, mg)))
    assert isinstance(before[0], ImuBlock) and isinstance(after[0], ImuBlock)
    assert_array_equal(before[0].acc_g, mg / 1000.0)
    assert_array_equal(after[0].acc_g, mg / 1000.0 * 0.25)
    assert dec.acc_factor == 0.25
    # a later start without a factor goes back to 1
    dec.feed(RawPacket(0.4, "chest", P.PMD_CP_UUID, bytes.fromhex("f00202000001")))
    assert dec.acc_factor == 1.0
