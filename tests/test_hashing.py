"""bonefrac.hashing: the one file sha256."""

import hashlib

from bonefrac.hashing import file_sha256


def test_file_sha256_known_vector_and_large_file(tmp_path):
    small = tmp_path / "abc.txt"
    small.write_bytes(b"abc")
    assert file_sha256(small) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    big = tmp_path / "big.bin"
    data = bytes(range(256)) * 9000  # > 2 MiB: several read blocks
    big.write_bytes(data)
    assert file_sha256(str(big)) == hashlib.sha256(data).hexdigest()
